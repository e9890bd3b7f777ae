"""The method registry: name -> signals needed, defaults, keep direction, balance, scoring function.

A method's scoring function turns logged arrays into one score per pool sample;
`prunebench.selection` turns scores into subsets. Every method is a function of
arrays (see the sibling modules), registered here with the glue that reads its
signals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..signals import EVAL_FILE, TRAIN_FILE, Signals, snapshot_file
from .baselines import random_scores
from .cld import cld_scores
from .dynamics import aum_scores, el2n_scores, forgetting_scores
from .uncertainty import entropy_scores

SELECTION_PARAMS = {"keep", "balanced"}  # every method accepts these overrides


@dataclass(frozen=True)
class ProxyPlan:
    """What the proxy run logs, so methods can be checked before any training."""

    epochs: int
    snapshot_epochs: tuple[int, ...]
    log_in_training: bool = True

    @property
    def logged_snapshots(self) -> list[int]:
        """Epochs with a snapshot: the configured ones and the last."""
        return sorted(set(self.snapshot_epochs) | {self.epochs})


@dataclass(frozen=True)
class Method:
    name: str
    family: str
    paper: str
    signals: tuple[str, ...]  # "train.<signal>", "eval.<signal>", "query.eval.<signal>", "snapshot.<array>"
    keep: str  # "highest" or "lowest" score first
    balanced: bool  # per-class budgets by default (else one global ranking)
    score: Callable[[Signals, dict, int, ProxyPlan], np.ndarray]  # (signals, params, seed, plan) -> (N,) scores
    defaults: dict = field(default_factory=dict)
    fraction_dependent: bool = False  # True when the subset is not a prefix of one ranking
    full_only: bool = False  # trains on the whole pool; only fraction 1 exists
    snapshot_epoch: Callable[[dict, ProxyPlan], int] | None = None
    check: Callable[[dict, ProxyPlan], list[str]] | None = None

    def params(self, overrides: dict | None = None) -> dict:
        """Defaults merged with `overrides`, including the selection parameters."""
        return {"keep": self.keep, "balanced": self.balanced, **self.defaults, **(overrides or {})}

    def proxy_files(self, params: dict, plan: ProxyPlan) -> list[str]:
        """Names of the proxy outputs this method reads (none for label-only methods)."""
        files = []
        if self.needs_training_pass:
            files.append(TRAIN_FILE)
        if any(s.startswith(("eval.", "query.")) for s in self.signals):
            files.append(EVAL_FILE)
        if self.snapshot_epoch is not None:
            files.append(snapshot_file(self.snapshot_epoch(params, plan)))
        return files

    @property
    def needs_training_pass(self) -> bool:
        return any(s.startswith("train.") for s in self.signals)

    def problems(self, params: dict, plan: ProxyPlan) -> list[str]:
        """One line per reason these parameters cannot run on what the proxy logs."""
        found = []
        unknown = set(params) - set(self.defaults) - SELECTION_PARAMS
        if unknown:
            known = ", ".join(sorted(set(self.defaults) | SELECTION_PARAMS))
            found.append(f"{self.name}: unknown parameter(s) {', '.join(sorted(unknown))}; known: {known}")
        if params.get("keep") not in ("highest", "lowest"):
            found.append(f"{self.name}: keep must be 'highest' or 'lowest', got {params.get('keep')!r}")
        if not isinstance(params.get("balanced"), bool):
            found.append(f"{self.name}: balanced must be true or false, got {params.get('balanced')!r}")
        if self.needs_training_pass and not plan.log_in_training:
            found.append(f"{self.name}: needs in-training signals, but proxy.log_in_training is false")
        if self.check and not found:
            found += self.check(params, plan)
        return found


def _final(params: dict, plan: ProxyPlan) -> int:
    return plan.epochs


def _el2n_epoch(params: dict, plan: ProxyPlan) -> int:
    return int(params["epoch"])


def _check_el2n(params: dict, plan: ProxyPlan) -> list[str]:
    epoch = params["epoch"]
    logged = plan.logged_snapshots
    if not isinstance(epoch, int) or epoch not in logged:
        return [f"el2n: epoch={epoch!r} has no proxy snapshot; allowed: {logged} "
                f"(add it to proxy.snapshot_epochs)"]
    return []


def _check_cld(params: dict, plan: ProxyPlan) -> list[str]:
    if plan.epochs < 3:
        return [f"cld: needs at least 3 logged proxy epochs, proxy.epochs is {plan.epochs}"]
    return []


def _check_forgetting(params: dict, plan: ProxyPlan) -> list[str]:
    if plan.epochs < 2:
        return [f"forgetting: needs at least 2 logged proxy epochs, proxy.epochs is {plan.epochs}"]
    return []


REGISTRY: dict[str, Method] = {m.name: m for m in [
    Method("random", "baseline", "uniform sampling", (), "highest", True,
           lambda s, p, seed, plan: random_scores(len(s.labels), seed)),
    Method("full", "baseline", "the whole candidate pool", (), "highest", True,
           lambda s, p, seed, plan: np.zeros(len(s.labels)), full_only=True),
    Method("cld", "training dynamics", "Nagaraj et al., TMLR 2025 (arXiv 2508.20230)",
           ("eval.loss", "query.eval.loss"), "highest", True,
           lambda s, p, seed, plan: cld_scores(s.eval("loss"), s.labels, s.eval("loss", "query"), s.query_labels),
           check=_check_cld),
    Method("forgetting", "training dynamics", "Toneva et al., ICLR 2019", ("train.correct",), "highest", True,
           lambda s, p, seed, plan: forgetting_scores(s.train("correct")), check=_check_forgetting),
    Method("el2n", "training dynamics", "Paul et al., NeurIPS 2021", ("snapshot.probs",), "highest", False,
           lambda s, p, seed, plan: el2n_scores(s.snapshot(p["epoch"]), s.labels),
           defaults={"epoch": 2}, snapshot_epoch=_el2n_epoch, check=_check_el2n),
    Method("aum", "training dynamics", "Pleiss et al., NeurIPS 2020", ("train.margin",), "lowest", False,
           lambda s, p, seed, plan: aum_scores(s.train("margin"))),
    Method("entropy", "uncertainty", "Coleman et al., ICLR 2020", ("snapshot.probs",), "highest", True,
           lambda s, p, seed, plan: entropy_scores(s.snapshot(plan.epochs)), snapshot_epoch=_final),
]}


def get_method(name: str) -> Method:
    if name not in REGISTRY:
        raise KeyError(f"unknown method {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[name]
