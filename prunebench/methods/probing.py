"""Scores that probe the proxy's weights with its inputs: DeepFool, SloCurv, boundary distance, full-gradient GraNd.

Each takes a trained Classifier and the pool as training Data (normalised images,
given labels) and works in batches on the model's device. Distances are in the
normalised input space the model sees. torch is imported inside the functions, so the
registry entries at the end cost nothing to import.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import numpy as np

from .registry import Param, epoch_param, method, snapshot_epoch
from .sampling import STRATA_PARAMS, stratified

if TYPE_CHECKING:
    import torch

    from ..training import Data


def _batches(data: Data, batch_size: int):
    import torch

    from ..training import center_crop

    with contextlib.closing(data.batches(torch.arange(len(data), device=data.device), batch_size)) as batches:
        for _, x, y in batches:  # in the pool's order, held on the device or streamed from the store
            yield center_crop(x, data.crop_size), y  # what the proxy was evaluated on


def _flat_norm_sq(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1).pow(2).sum(dim=1)


def deepfool_scores(model: torch.nn.Module, data: Data, max_iter: int = 50, overshoot: float = 0.0,
                    batch_size: int = 256) -> np.ndarray:
    """DeepFool (Moosavi-Dezfooli et al., 2016) as a coreset score (Ducoffe & Precioso, 2018; DeepCore).

    Per sample, from the predicted class k: linearise every logit, step to the nearest
    linearised boundary, repeat until the prediction changes or `max_iter` steps.
    The score is ||r_total||^2; keep the smallest (closest to the boundary). Samples
    that never flip keep the distance accumulated so far (they are far anyway).
    overshoot: 0 as in DeepCore; the original DeepFool uses 0.02.
    """
    import torch

    model.eval()
    scores = []
    for x0, _ in _batches(data, batch_size):
        with torch.no_grad():
            k0 = model(x0).argmax(dim=1)
        r_total = torch.zeros_like(x0)
        active = torch.arange(len(x0), device=x0.device)
        for _ in range(max_iter):
            x = (x0[active] + (1 + overshoot) * r_total[active]).requires_grad_(True)
            logits = model(x)
            still = logits.argmax(dim=1) == k0[active]
            if not still.any():
                break
            # gradients of every logit w.r.t. the input: one backward pass per class
            grads = torch.stack([torch.autograd.grad(logits[:, c].sum(), x, retain_graph=c < logits.shape[1] - 1)[0]
                                 for c in range(logits.shape[1])], dim=1).detach()
            logits = logits.detach()
            rows = torch.arange(len(x), device=x.device)
            w = grads - grads[rows, k0[active]][:, None]
            f = (logits - logits[rows, k0[active]][:, None]).abs()
            w_norm = w.flatten(2).norm(dim=2)
            distance = f / w_norm.clamp_min(1e-12)
            distance[rows, k0[active]] = float("inf")
            nearest = distance.argmin(dim=1)
            w_star = w[rows, nearest]
            step = ((f[rows, nearest] + 1e-4) / w_norm[rows, nearest].pow(2).clamp_min(1e-12))
            step = step.view(-1, *([1] * (x0.dim() - 1))) * w_star
            r_total[active[still]] += step[still]
            active = active[still]
        scores.append(_flat_norm_sq(r_total))
    return torch.cat(scores).double().cpu().numpy()


def _input_loss_gradient(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    import torch
    import torch.nn.functional as F

    x = x.detach().requires_grad_(True)
    loss = F.cross_entropy(model(x), y, reduction="sum")
    return torch.autograd.grad(loss, x)[0]


def slocurv_scores(model: torch.nn.Module, data: Data, step: float = 1e-3, probes: int = 10,
                   seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """Input-space loss curvature (Garg & Roy, CVPR 2023), by Hutchinson probes and finite differences.

    curvature(x) = (1/n) sum_i ||grad_x l(x + h v_i) - grad_x l(x)||^2 / h^2 with Rademacher v_i,
    an estimate of tr(H^2) of the input Hessian. Keep the lowest.
    step: h. probes: n. seed: fixes the probe directions.
    """
    import torch

    model.eval()
    generator = torch.Generator(device=data.device)
    generator.manual_seed(seed)
    scores = []
    for x, y in _batches(data, batch_size):
        base = _input_loss_gradient(model, x, y)
        total = torch.zeros(len(x), dtype=torch.float64, device=x.device)
        for _ in range(probes):
            v = torch.randint(0, 2, x.shape, generator=generator, device=x.device).float() * 2 - 1
            total += _flat_norm_sq(_input_loss_gradient(model, x + step * v, y) - base).double()
        scores.append(total / (probes * step ** 2))
    return torch.cat(scores).cpu().numpy()


def boundary_steps(model: torch.nn.Module, data: Data, step: float = 0.1, max_steps: int = 50,
                   batch_size: int = 256) -> np.ndarray:
    """Distance to the decision boundary: L2 steps of size `step` up the loss gradient until the
    prediction leaves the given label (0 when it is already wrong), capped at `max_steps`.

    Our reading of BoundarySet (Yang et al., ICML 2024), whose code is not public: move each
    sample toward the boundary of the trained model and use how far it had to go as the
    difficulty. Low = near the boundary (hard).
    """
    import torch

    model.eval()
    scores = []
    for x0, y in _batches(data, batch_size):
        x = x0.clone()
        steps = torch.zeros(len(x0), dtype=torch.float64, device=x0.device)
        with torch.no_grad():
            active = model(x).argmax(dim=1) == y
        for _ in range(max_steps):
            if not active.any():
                break
            g = _input_loss_gradient(model, x[active], y[active])
            g = g / g.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (x.dim() - 1)))
            x[active] = x[active] + step * g
            steps[active] += 1
            with torch.no_grad():
                active = active & (model(x).argmax(dim=1) == y)
        scores.append(steps)
    return torch.cat(scores).cpu().numpy()


def full_gradient_norms(model: torch.nn.Module, data: Data, batch_size: int = 128) -> np.ndarray:
    """||grad_w l(x, y)||_2 over every parameter, per sample (GraNd's paper form), with eval-mode BatchNorm."""
    import torch
    import torch.nn.functional as F
    from torch.func import functional_call, grad, vmap

    model.eval()
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def loss(p, x, y):
        return F.cross_entropy(functional_call(model, (p, buffers), (x[None],)), y[None])

    per_sample = vmap(grad(loss), in_dims=(None, 0, 0))
    norms = []
    for x, y in _batches(data, batch_size):
        grads = per_sample(params, x, y)
        norms.append(sum(_flat_norm_sq(g).double() for g in grads.values()).sqrt())
    return torch.cat(norms).cpu().numpy()


# ---- registry entries ----

def probe(s, plan, epoch: int, repeat: int = 0):
    """The proxy model after `epoch` and the pool as normalised images, on the configured device."""
    import dataclasses

    import torch

    from ..models import build_model
    from ..training import load_data, resolve_device

    device = resolve_device(s.device)
    data, meta = s.images()
    data = dataclasses.replace(data, crop_size=plan.crop_size)
    model = build_model(plan.arch, data.train_images.shape[3], data.num_classes, data.image_size, seed=0)
    model.load_state_dict(torch.load(s.model_path(epoch, repeat), map_location="cpu", weights_only=True))
    return model.to(device), load_data(data.train_images, s.index, s.labels, meta["mean"], meta["std"], device,
                                       data.crop_size)  # streamed when the pool does not fit


PROBES = ("model", "images")


@method("deepfool", family="model probing", paper="Ducoffe & Precioso, 2018 (DeepCore)", signals=PROBES,
        keep="lowest",
        parameters={"epoch": epoch_param(),
                    "max_iter": Param.integer(50, "DeepFool iterations per sample", 1, 1000),
                    "overshoot": Param.number(0.0, "step overshoot (0 in DeepCore, 0.02 in DeepFool)", 0.0, 1.0)})
def _deepfool(s, p, seed, plan):
    return deepfool_scores(*probe(s, plan, snapshot_epoch(p, plan)), p["max_iter"], p["overshoot"])


@method("slocurv", family="model probing", paper="Garg & Roy, CVPR 2023", signals=PROBES, keep="lowest",
        parameters={"epoch": epoch_param(), "step": Param.number(1e-3, "finite-difference step h", 1e-8, 1.0),
                    "probes": Param.integer(10, "Rademacher probes n", 1, 1000)})
def _slocurv(s, p, seed, plan):
    return slocurv_scores(*probe(s, plan, snapshot_epoch(p, plan)), p["step"], p["probes"], seed)


@method("boundary_ccs", family="model probing", paper="Yang et al., ICML 2024 (our reading; no public code)",
        signals=PROBES, keep="lowest", balanced=False,
        parameters={"epoch": epoch_param(),
                    "step": Param.number(0.1, "L2 step toward the boundary (normalised input units)", 1e-6, 100.0),
                    "max_steps": Param.integer(50, "steps before giving up", 1, 10_000), **STRATA_PARAMS},
        # fewest steps to the boundary = hardest
        subset=lambda scored, fraction, p, rng, signals: (stratified(scored, fraction, p, rng, "lowest"), None))
def _boundary(s, p, seed, plan):
    return boundary_steps(*probe(s, plan, snapshot_epoch(p, plan)), p["step"], p["max_steps"])
