"""One trainer for proxy and target models, airbench-style.

The data lives as one uint8 tensor on the device; batches are indexed from a
permutation seeded by (seed, epoch), so an epoch can be replayed after a resume
without saving any RNG state. Augmentation is batched on the device.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .settings import TrainSettings

log = logging.getLogger(__name__)


def resolve_device(requested: str = "auto") -> torch.device:
    """`auto` is CUDA when a device is really usable, else the CPU (with one log line if a GPU was promised).

    Also selects deterministic kernels, so a seed fixes the result on a given machine.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS needs it before first use
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if os.environ.get("CUDA_VISIBLE_DEVICES", "") not in ("", "-1"):
            log.warning("CUDA_VISIBLE_DEVICES=%s but CUDA is not usable here; running on the CPU",
                        os.environ["CUDA_VISIBLE_DEVICES"])
        return torch.device("cpu")
    device = torch.device(requested)
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise ValueError(f"device {requested!r} was requested but is not available here (use 'auto' or 'cpu')")
    return device


class DeviceData:
    """A dataset slice held as uint8 NCHW on the device, normalised batch by batch."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, mean, std, device: torch.device):
        if not (images.flags.writeable and images.flags.c_contiguous):  # memory-mapped: torch wants its own copy
            images = np.array(images)
        self.images = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous().to(device)
        self.labels = torch.tensor(np.asarray(labels), dtype=torch.int64, device=device)
        self.mean = torch.tensor(mean, device=device).view(1, -1, 1, 1) * 255
        self.std = torch.tensor(std, device=device).view(1, -1, 1, 1) * 255
        self.device = device

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (self.images[rows].float() - self.mean) / self.std
        return x, self.labels[rows]


def augment_batch(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random translation by up to `pad` pixels (reflect padding) and random horizontal flip, batched."""
    n, _, h, w = x.shape
    flip = torch.rand(n, generator=generator, device=generator.device) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1).to(x.device), x.flip(-1), x)
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    shifts = torch.randint(0, 2 * pad + 1, (2, n), generator=generator, device=generator.device).to(x.device)
    out = torch.empty_like(x)
    for dy in range(2 * pad + 1):  # one masked copy per shift, not per image
        for dx in range(2 * pad + 1):
            mask = (shifts[0] == dy) & (shifts[1] == dx)
            if mask.any():
                out[mask] = padded[mask, :, dy:dy + h, dx:dx + w]
    return out


def per_sample_signals(logits: torch.Tensor, labels: torch.Tensor,
                       loss: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Loss, true-class probability, logit margin (z_y - max_{k!=y} z_k) and correctness, per sample."""
    logits = logits.detach().float()
    log_probs = torch.log_softmax(logits, dim=1)
    true_log_prob = log_probs.gather(1, labels[:, None]).squeeze(1)
    true_logit = logits.gather(1, labels[:, None]).squeeze(1)
    other = logits.scatter(1, labels[:, None], float("-inf")).amax(dim=1)
    return {
        "loss": -true_log_prob if loss is None else loss.detach().float(),
        "p_true": true_log_prob.exp(),
        "margin": true_logit - other,
        "correct": (logits.argmax(dim=1) == labels).to(torch.int8),
    }


def stream_seed(seed: int, stream: str) -> int:
    """An independent seed per purpose, so proxy and target runs of one seed share no random stream."""
    return int(np.random.SeedSequence([seed, *stream.encode()]).generate_state(1)[0])


def epoch_generator(seed: int, epoch: int, device: torch.device) -> torch.Generator:
    generator = torch.Generator(device=device)
    generator.manual_seed(int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0]))
    return generator


@dataclass
class Trainer:
    """SGD with a per-step schedule over a fixed epoch or step budget."""

    model: nn.Module
    settings: TrainSettings
    n_train: int
    seed: int
    optimizer: torch.optim.Optimizer = field(init=False)
    scheduler: torch.optim.lr_scheduler.LambdaLR = field(init=False)
    step: int = 0

    def __post_init__(self):
        s = self.settings
        # weight decay on every parameter, BatchNorm and biases included, as DeepCore and CLD train
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=s.lr, momentum=s.momentum,
                                         weight_decay=s.weight_decay, nesterov=s.nesterov)
        self.total_steps = s.total_steps(self.n_train)
        self.steps_per_epoch = math.ceil(self.n_train / s.batch_size)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_factor)

    def _lr_factor(self, step: int) -> float:
        s = self.settings
        if s.schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(step, self.total_steps) / self.total_steps))
        if s.schedule == "multistep":
            return s.gamma ** sum(step >= m * self.steps_per_epoch for m in s.milestones)
        return 1.0

    def train_epoch(self, data: DeviceData, epoch: int, weights: torch.Tensor | None = None,
                    on_batch: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], None] | None = None,
                    ) -> int:
        """One pass over a seeded permutation of `data`; stops early when the step budget is spent.

        on_batch(rows, logits, labels, loss) sees every batch's outputs (for in-training logging).
        Returns the number of steps taken.
        """
        self.model.train()
        generator = epoch_generator(self.seed, epoch, data.device)
        order = torch.randperm(len(data), generator=generator, device=data.device)
        # dropout (VGG's classifier) draws from the global generator: seed it per epoch too, so a resume replays it
        with torch.random.fork_rng(devices=[data.device] if data.device.type == "cuda" else []):
            torch.manual_seed(int(np.random.SeedSequence([self.seed, epoch, 1]).generate_state(1)[0]))
            return self._train_batches(data, order, generator, weights, on_batch)

    def _train_batches(self, data, order, generator, weights, on_batch) -> int:
        taken = 0
        for start in range(0, len(data), self.settings.batch_size):
            if self.step >= self.total_steps:
                break
            rows = order[start:start + self.settings.batch_size]
            x, y = data.batch(rows)
            if self.settings.augment:
                x = augment_batch(x, generator)
            logits = self.model(x)
            loss = F.cross_entropy(logits, y, reduction="none")
            if weights is None:
                objective = loss.mean()
            else:
                w = weights[rows]
                objective = (w * loss).sum() / w.sum()
            self.optimizer.zero_grad(set_to_none=True)
            objective.backward()
            self.optimizer.step()
            self.scheduler.step()
            self.step += 1
            taken += 1
            if on_batch is not None:
                on_batch(rows, logits, y, loss)
        return taken

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step = int(state["step"])


@torch.inference_mode()
def predict(model: nn.Module, data: DeviceData, batch_size: int = 1024,
            embeddings: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Eval-mode logits (and penultimate embeddings) for every sample of `data`, in order."""
    model.eval()
    logits, feats = [], []
    for start in range(0, len(data), batch_size):
        x, _ = data.batch(torch.arange(start, min(start + batch_size, len(data)), device=data.device))
        h = model.features(x)
        logits.append(model.head(h).float())
        if embeddings:
            feats.append(h.float())
    return torch.cat(logits), (torch.cat(feats) if embeddings else None)
