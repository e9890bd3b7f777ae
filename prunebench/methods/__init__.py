"""The method registry: name -> signals needed, defaults, keep direction, balance, scoring function.

A method's `score` turns logged arrays into one score per pool sample (plus
optional extra columns); `prunebench.selection` turns scores into subsets by
top-k, unless the method has its own `subset` sampler (strata, Beta sampling,
weights), which is then called once per fraction. Every method is a function of
arrays (see the sibling modules), registered here with the glue that reads its
signals and the checks that run before any training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..signals import EVAL_FILE, KL_SHIFT, TRAIN_FILE, Signals, model_file, snapshot_file
from . import dynamics, sampling, uncertainty
from .baselines import random_scores
from .cld import cld_scores

# every method accepts these overrides
SELECTION_PARAMS = {"keep": "'highest' or 'lowest' score first", "balanced": "per-class budgets (else one ranking)"}


@dataclass(frozen=True)
class ProxyPlan:
    """What the proxy runs log, so methods can be checked before any training."""

    epochs: int
    snapshot_epochs: tuple[int, ...] = ()
    log_in_training: bool = True
    log_kl_shift: bool = False
    repeats: int = 1  # independent proxy runs; repeats 1.. stop after the last snapshot epoch
    arch: str = "small_cnn"

    @property
    def logged_snapshots(self) -> list[int]:
        """Epochs with a snapshot in the main run: the configured ones and the last."""
        return sorted(set(self.snapshot_epochs) | {self.epochs})


Scored = dict[str, np.ndarray]  # the score table's columns: index, label, score, and method-specific ones


@dataclass(frozen=True)
class Method:
    name: str
    family: str
    paper: str
    signals: tuple[str, ...]  # what it reads, for people: "train.<signal>", "snapshot.<array>", "model", ...
    keep: str  # "highest" or "lowest" score first
    balanced: bool  # per-class budgets by default (else one global ranking)
    score: Callable[[Signals, dict, int, ProxyPlan], np.ndarray | Scored]  # (signals, params, seed, plan)
    defaults: dict = field(default_factory=dict)
    docs: dict = field(default_factory=dict)  # parameter -> one line
    files: Callable[[dict, ProxyPlan], list[str]] | None = None  # proxy files read; None: from `signals`
    check: Callable[[dict, ProxyPlan], list[str]] | None = None
    # (scored, fraction, params, rng, signals) -> (rows in preference order, weights or None)
    subset: Callable[..., tuple[np.ndarray, np.ndarray | None]] | None = None
    subset_reads_signals: bool = False  # the sampler needs the proxy's signals, not only the score table
    needs_images: bool = False  # probes the proxy model with the dataset's images
    full_only: bool = False  # trains on the whole pool; only fraction 1 exists

    def params(self, overrides: dict | None = None) -> dict:
        """Defaults merged with `overrides`, including the selection parameters."""
        return {"keep": self.keep, "balanced": self.balanced, **self.defaults, **(overrides or {})}

    def proxy_files(self, params: dict, plan: ProxyPlan) -> list[str]:
        """Names of the proxy outputs this method reads (none for label-only methods)."""
        if self.files is not None:
            return self.files(params, plan)
        files = []
        if any(s.startswith("train.") for s in self.signals):
            files.append(TRAIN_FILE)
        if any(s.startswith(("eval.", "query.")) for s in self.signals):
            files.append(EVAL_FILE)
        return files

    @property
    def fraction_dependent(self) -> bool:
        """True when a subset is not a prefix of one ranking, so each fraction is sampled on its own."""
        return self.subset is not None

    def problems(self, params: dict, plan: ProxyPlan) -> list[str]:
        """One line per reason these parameters cannot run on what the proxy logs."""
        found = []
        unknown = set(params) - set(self.defaults) - set(SELECTION_PARAMS)
        if unknown:
            known = ", ".join(sorted(set(self.defaults) | set(SELECTION_PARAMS)))
            found.append(f"{self.name}: unknown parameter(s) {', '.join(sorted(unknown))}; known: {known}")
        if params.get("keep") not in ("highest", "lowest"):
            found.append(f"{self.name}: keep must be 'highest' or 'lowest', got {params.get('keep')!r}")
        if not isinstance(params.get("balanced"), bool):
            found.append(f"{self.name}: balanced must be true or false, got {params.get('balanced')!r}")
        if not found and TRAIN_FILE in self.proxy_files(params, plan) and not plan.log_in_training:
            found.append(f"{self.name}: needs in-training signals, but proxy.log_in_training is false")
        if self.check and not found:
            found += self.check(params, plan)
        return found


# ---- parameter checks: one line naming the method, the parameter and what is allowed ----

def _int_in(name: str, params: dict, key: str, low: int, high: int, why: str = "") -> list[str]:
    value = params[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return [f"{name}: {key}={value!r} must be an integer in [{low}, {high}]{why}"]
    return []


def _number_in(name: str, params: dict, key: str, low: float, high: float, closed_high: bool = False) -> list[str]:
    value = params[key]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value and (
        value <= high if closed_high else value < high)
    if not ok:
        return [f"{name}: {key}={value!r} must be a number in [{low}, {high}{']' if closed_high else ')'}"]
    return []


def _one_of(name: str, params: dict, key: str, allowed: tuple) -> list[str]:
    if params[key] not in allowed:
        return [f"{name}: {key}={params[key]!r} must be one of {', '.join(map(repr, allowed))}"]
    return []


def _snapshot_epoch(params: dict, plan: ProxyPlan) -> int:
    """A method's `epoch` parameter; null means the proxy's last epoch."""
    return plan.epochs if params.get("epoch") is None else params["epoch"]


def _repeats(params: dict, plan: ProxyPlan) -> int:
    return plan.repeats if params.get("repeats") is None else params["repeats"]


def _check_epoch(name: str, params: dict, plan: ProxyPlan, repeated: bool = False) -> list[str]:
    epoch = _snapshot_epoch(params, plan)
    repeated = repeated and _repeats(params, plan) > 1
    allowed = sorted(plan.snapshot_epochs) if repeated else plan.logged_snapshots
    if epoch not in allowed:
        return [f"{name}: epoch={epoch!r} has no proxy snapshot{' in every repeat' if repeated else ''}; "
                f"allowed: {allowed} (add it to proxy.snapshot_epochs)"]
    return []


def _check_repeats(name: str, params: dict, plan: ProxyPlan) -> list[str]:
    if params["repeats"] is None:
        return []
    return _int_in(name, params, "repeats", 1, plan.repeats, " (proxy.repeats; null takes them all)")


def _check_compat(name: str, params: dict) -> list[str]:
    return _one_of(name, params, "compat", (None, "deepcore"))


def _snapshots(params: dict, plan: ProxyPlan, repeated: bool = False) -> list[str]:
    epoch = _snapshot_epoch(params, plan)
    return [snapshot_file(epoch, r) for r in range(_repeats(params, plan) if repeated else 1)]


def _models(params: dict, plan: ProxyPlan, repeated: bool = False) -> list[str]:
    epoch = _snapshot_epoch(params, plan)
    return [model_file(epoch, r) for r in range(_repeats(params, plan) if repeated else 1)]


# ---- training dynamics ----

def _check_forgetting(params, plan):
    if plan.epochs < 2:
        return [f"forgetting: needs at least 2 logged proxy epochs, proxy.epochs is {plan.epochs}"]
    return _check_compat("forgetting", params)


def _forgetting(s, p, seed, plan):
    return dynamics.forgetting_scores(s.train("correct"), "zero" if p["compat"] == "deepcore" else "max")


def _check_el2n(params, plan):
    return _check_repeats("el2n", params, plan) or _check_epoch("el2n", params, plan, repeated=True)


def _el2n(s, p, seed, plan):
    epoch = _snapshot_epoch(p, plan)
    return dynamics.el2n_scores([s.snapshot(epoch, "logits", r) for r in range(_repeats(p, plan))], s.labels)


def _check_grand(params, plan):
    return (_one_of("grand", params, "form", ("last_layer", "full")) or _check_repeats("grand", params, plan)
            or _check_epoch("grand", params, plan, repeated=True))


def _grand_files(params, plan):
    return _snapshots(params, plan, True) + (_models(params, plan, True) if params["form"] == "full" else [])


def _grand(s, p, seed, plan):
    epoch, runs = _snapshot_epoch(p, plan), range(_repeats(p, plan))
    if p["form"] == "full":
        from .probing import full_gradient_norms
        return np.mean([full_gradient_norms(*_probe(s, plan, epoch, r)) for r in runs], axis=0)
    return dynamics.grand_last_layer_scores([s.snapshot(epoch, "logits", r) for r in runs],
                                            [s.snapshot(epoch, "embedding", r) for r in runs], s.labels)


def _check_window(name: str, params: dict, available: int, what: str) -> list[str]:
    return _int_in(name, params, "window", 2, max(available, 2), f" (a window longer than the {what} "
                                                                 f"of {available} epochs cannot slide)")


def _check_dyn_unc(params, plan):
    return _check_window("dyn_unc", params, plan.epochs, "proxy log")


def _check_dual(params, plan):
    return (_int_in("dual", params, "epochs", 2, plan.epochs, " (the early epochs DUAL scores; proxy.epochs)")
            or _check_window("dual", params, params["epochs"], "scored trajectory")
            or _number_in("dual", params, "c_d", 0, float("inf"))
            or _one_of("dual", params, "sampling", ("beta", "top")))


def _dual(s, p, seed, plan):
    p_true = s.train("p_true")[:, :p["epochs"]]
    return {"score": dynamics.dual_scores(p_true, p["window"]),
            "mean_p_true": p_true.mean(axis=1, dtype=np.float64)}


def _dual_subset(scored, fraction, p, rng, signals):
    if p["sampling"] == "top":
        from ..selection import select_rows
        return select_rows(scored["score"], scored["label"], scored["index"], fraction, "highest", p["balanced"]), None
    if p["balanced"]:
        return sampling.per_class(lambda rows, k: rows[sampling.beta_sample_rows(
            scored["score"][rows], scored["mean_p_true"][rows], k / len(rows), p["c_d"], rng)], scored["label"],
            fraction), None
    return sampling.beta_sample_rows(scored["score"], scored["mean_p_true"], fraction, p["c_d"], rng), None


def _check_tdds(params, plan):
    if not plan.log_kl_shift:
        return ["tdds: needs the per-epoch KL term of the training pass; set proxy.log_kl_shift: true"]
    return (_int_in("tdds", params, "epochs", 3, plan.epochs, " (TDDS's trajectory length T; proxy.epochs)")
            or _int_in("tdds", params, "window", 3, params["epochs"], " (window J <= trajectory length T)")
            or _number_in("tdds", params, "decay", 0, 1, closed_high=True))


def _tdds(s, p, seed, plan):
    # column t of kl_shift compares epoch t with epoch t - 1; column 0 has no predecessor
    return dynamics.tdds_scores(s.train(KL_SHIFT)[:, 1:p["epochs"]], p["window"], p["decay"])


# ---- CCS on any difficulty score ----

CCS_BASES = ("aum", "forgetting", "el2n", "grand", "dyn_unc", "dual", "tdds", "entropy", "least_confidence",
             "cld")


def _ccs_base(params: dict) -> tuple[Method, dict]:
    base = REGISTRY[params["score"]]
    return base, base.params(params["score_params"])


def _check_strata(name: str, params: dict) -> list[str]:
    return (_number_in(name, params, "cutoff", 0, 1)
            or _int_in(name, params, "strata", 1, 10_000))


def _check_ccs(params, plan):
    found = _one_of("ccs", params, "score", CCS_BASES) or _check_strata("ccs", params)
    if found:
        return found
    base, base_params = _ccs_base(params)
    return [f"ccs: score={params['score']}: {line}" for line in base.problems(base_params, plan)]


def _ccs_files(params, plan):
    base, base_params = _ccs_base(params)
    return base.proxy_files(base_params, plan)


def _ccs_score(s, p, seed, plan):
    base, base_params = _ccs_base(p)
    scored = base.score(s, base_params, seed, plan)
    return scored["score"] if isinstance(scored, dict) else scored


def _stratified(scored, fraction, p, rng, hardest: str):
    from ..selection import preference_order

    def sample(rows, budget):
        hardest_first = preference_order(scored["score"][rows], scored["index"][rows], hardest)
        return rows[sampling.ccs_rows(scored["score"][rows], budget, hardest_first, p["cutoff"], p["strata"], rng)]

    if p["balanced"]:
        return sampling.per_class(sample, scored["label"], fraction)
    from ..budgets import total_budget
    return sample(np.arange(len(scored["score"])), total_budget(len(scored["score"]), fraction))


def _ccs_subset(scored, fraction, p, rng, signals):
    base, base_params = _ccs_base(p)
    return _stratified(scored, fraction, p, rng, base_params["keep"]), None


# ---- model probing ----

def _probe(s: Signals, plan: ProxyPlan, epoch: int, repeat: int = 0):
    """The proxy model after `epoch` and the pool as normalised images, on the configured device."""
    import torch

    from ..models import build_model
    from ..training import DeviceData, resolve_device

    device = resolve_device(s.device)
    data, meta = s.images()
    shape = data.train_images.shape
    model = build_model(plan.arch, shape[3], data.num_classes, shape[1], seed=0)
    model.load_state_dict(torch.load(s.model_path(epoch, repeat), map_location="cpu", weights_only=True))
    return model.to(device), DeviceData(data.train_images[s.index], s.labels, meta["mean"], meta["std"], device)


def _check_probe(name: str, params: dict, plan: ProxyPlan, limits: dict) -> list[str]:
    found = _check_epoch(name, params, plan)
    for key, (low, high) in limits.items():
        found = found or (_int_in(name, params, key, low, high) if isinstance(low, int) else
                          _number_in(name, params, key, low, high))
    return found


def _deepfool(s, p, seed, plan):
    from .probing import deepfool_scores
    return deepfool_scores(*_probe(s, plan, _snapshot_epoch(p, plan)), p["max_iter"], p["overshoot"])


def _slocurv(s, p, seed, plan):
    from .probing import slocurv_scores
    return slocurv_scores(*_probe(s, plan, _snapshot_epoch(p, plan)), p["step"], p["probes"], seed)


def _boundary(s, p, seed, plan):
    from .probing import boundary_steps
    return boundary_steps(*_probe(s, plan, _snapshot_epoch(p, plan)), p["step"], p["max_steps"])


def _boundary_subset(scored, fraction, p, rng, signals):
    return _stratified(scored, fraction, p, rng, "lowest"), None  # fewest steps to the boundary = hardest


def _probe_files(params, plan):
    return [model_file(_snapshot_epoch(params, plan))]


# ---- uncertainty ----

def _final_logits(s, p, plan):
    return s.snapshot(_snapshot_epoch(p, plan), "logits")


def _check_uncertainty(name):
    return lambda params, plan: _check_epoch(name, params, plan)


def _least_confidence(s, p, seed, plan):
    if p["compat"] == "deepcore":
        return uncertainty.max_logit_uncertainty(_final_logits(s, p, plan))
    return uncertainty.least_confidence_scores(_final_logits(s, p, plan))


EPOCH_DOC = "proxy snapshot epoch to read (null: the last epoch)"
REPEATS_DOC = "independent proxy runs averaged (null: all of proxy.repeats)"
COMPAT_DOC = "null (the paper) or 'deepcore' (reproduce DeepCore's published numbers)"
UNCERTAINTY = {"epoch": None}
CCS_DOCS = {"cutoff": "hardest share dropped first (CCS's beta, in [0, 1))",
            "strata": "equal-width score strata sampled with CCS's budget allocation"}


def _snapshot_only(params, plan):
    return _snapshots(params, plan)


REGISTRY: dict[str, Method] = {m.name: m for m in [
    # baselines
    Method("random", "baseline", "uniform sampling", (), "highest", True,
           lambda s, p, seed, plan: random_scores(len(s.labels), seed)),
    Method("full", "baseline", "the whole candidate pool", (), "highest", True,
           lambda s, p, seed, plan: np.zeros(len(s.labels)), full_only=True),
    # training dynamics
    Method("cld", "training dynamics", "Nagaraj et al., TMLR 2025 (arXiv 2508.20230)",
           ("eval.loss", "query.eval.loss"), "highest", True,
           lambda s, p, seed, plan: cld_scores(s.eval("loss"), s.labels, s.eval("loss", "query"), s.query_labels),
           check=lambda p, plan: [] if plan.epochs >= 3 else
           [f"cld: needs at least 3 logged proxy epochs, proxy.epochs is {plan.epochs}"]),
    Method("forgetting", "training dynamics", "Toneva et al., ICLR 2019", ("train.correct",), "highest", True,
           _forgetting, defaults={"compat": None},
           docs={"compat": COMPAT_DOC + ": never-learned samples count 0 instead of the maximum"},
           check=_check_forgetting),
    Method("el2n", "training dynamics", "Paul et al., NeurIPS 2021", ("snapshot.logits",), "highest", False,
           _el2n, defaults={"epoch": 2, "repeats": None}, docs={"epoch": EPOCH_DOC, "repeats": REPEATS_DOC},
           files=lambda p, plan: _snapshots(p, plan, True), check=_check_el2n),
    Method("grand", "gradient", "Paul et al., NeurIPS 2021", ("snapshot.logits", "snapshot.embedding"), "highest",
           True, _grand, defaults={"epoch": 2, "repeats": None, "form": "last_layer"},
           docs={"epoch": EPOCH_DOC, "repeats": REPEATS_DOC,
                 "form": "'last_layer' (factored [e, e(x)h] norm, DeepCore) or 'full' (every weight, the paper)"},
           files=_grand_files, check=_check_grand),
    Method("aum", "training dynamics", "Pleiss et al., NeurIPS 2020", ("train.margin",), "lowest", False,
           lambda s, p, seed, plan: dynamics.aum_scores(s.train("margin"))),
    Method("dyn_unc", "training dynamics", "He et al., 2023 (arXiv 2306.05175)", ("train.p_true",), "highest",
           False, lambda s, p, seed, plan: dynamics.dyn_unc_scores(s.train("p_true"), p["window"]),
           defaults={"window": 10}, docs={"window": "sliding window J in epochs"}, check=_check_dyn_unc),
    Method("dual", "training dynamics", "Cho et al., ICML 2025", ("train.p_true",), "highest", False,
           _dual, defaults={"epochs": 30, "window": 10, "c_d": 4, "sampling": "beta"},
           docs={"epochs": "early epochs scored (T)", "window": "sliding window J in epochs",
                 "c_d": "Beta sampling's pruning-ratio exponent", "sampling": "'beta' (the paper) or 'top' (top-k)"},
           check=_check_dual, subset=_dual_subset),
    Method("tdds", "training dynamics", "Zhang et al., CVPR 2024", (f"train.{KL_SHIFT}",), "highest", False,
           _tdds, defaults={"epochs": 10, "window": 10, "decay": 0.9},
           docs={"epochs": "trajectory length T", "window": "window J in epochs", "decay": "EMA decay beta"},
           check=_check_tdds),
    Method("ccs", "training dynamics", "Zheng et al., ICLR 2023", ("a difficulty score (aum by default)",),
           "lowest", False, _ccs_score, defaults={"score": "aum", "score_params": {}, "cutoff": 0.1, "strata": 50},
           docs={"score": "difficulty score: " + ", ".join(CCS_BASES), "score_params": "that score's parameters",
                 **CCS_DOCS},
           files=_ccs_files, check=_check_ccs,
           subset=_ccs_subset),
    # uncertainty
    Method("least_confidence", "uncertainty", "Coleman et al., ICLR 2020", ("snapshot.logits",), "highest", True,
           _least_confidence, defaults={**UNCERTAINTY, "compat": None},
           docs={"epoch": EPOCH_DOC, "compat": COMPAT_DOC + ": rank by the max logit, not the max probability"},
           files=_snapshot_only,
           check=lambda p, plan: _check_epoch("least_confidence", p, plan) or _check_compat("least_confidence", p)),
    Method("entropy", "uncertainty", "Coleman et al., ICLR 2020", ("snapshot.logits",), "highest", True,
           lambda s, p, seed, plan: uncertainty.entropy_scores(_final_logits(s, p, plan)), defaults=UNCERTAINTY,
           docs={"epoch": EPOCH_DOC}, files=_snapshot_only, check=_check_uncertainty("entropy")),
    Method("margin", "uncertainty", "Coleman et al., ICLR 2020", ("snapshot.logits",), "lowest", True,
           lambda s, p, seed, plan: uncertainty.margin_scores(_final_logits(s, p, plan)), defaults=UNCERTAINTY,
           docs={"epoch": EPOCH_DOC}, files=_snapshot_only, check=_check_uncertainty("margin")),
    # model probing
    Method("deepfool", "model probing", "Ducoffe & Precioso, 2018 (DeepCore)", ("model", "images"), "lowest", True,
           _deepfool, defaults={"epoch": None, "max_iter": 50, "overshoot": 0.0},
           docs={"epoch": EPOCH_DOC, "max_iter": "DeepFool iterations per sample",
                 "overshoot": "step overshoot (0 in DeepCore, 0.02 in DeepFool)"},
           files=_probe_files, needs_images=True,
           check=lambda p, plan: _check_probe("deepfool", p, plan, {"max_iter": (1, 1000), "overshoot": (0.0, 1.0)})),
    Method("slocurv", "model probing", "Garg & Roy, CVPR 2023", ("model", "images"), "lowest", True,
           _slocurv, defaults={"epoch": None, "step": 1e-3, "probes": 10},
           docs={"epoch": EPOCH_DOC, "step": "finite-difference step h", "probes": "Rademacher probes n"},
           files=_probe_files, needs_images=True,
           check=lambda p, plan: _check_probe("slocurv", p, plan, {"step": (1e-8, 1.0), "probes": (1, 1000)})),
    Method("boundary_ccs", "model probing", "Yang et al., ICML 2024 (our reading; no public code)",
           ("model", "images"), "lowest", False, _boundary,
           defaults={"epoch": None, "step": 0.1, "max_steps": 50, "cutoff": 0.1, "strata": 50},
           docs={"epoch": EPOCH_DOC, "step": "L2 step toward the boundary (normalised input units)",
                 "max_steps": "steps before giving up", **CCS_DOCS},
           files=_probe_files, needs_images=True, subset=_boundary_subset,
           check=lambda p, plan: _check_probe("boundary_ccs", p, plan, {"step": (1e-6, 100.0),
                                                                        "max_steps": (1, 10_000)})
           or _check_strata("boundary_ccs", p)),
]}


# geometry, gradient-matching and submodular methods (prunebench.methods.selectors uses the helpers above)
from .selectors import METHODS as _SELECTORS  # noqa: E402

REGISTRY.update({m.name: m for m in _SELECTORS})


def get_method(name: str) -> Method:
    if name not in REGISTRY:
        raise KeyError(f"unknown method {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[name]
