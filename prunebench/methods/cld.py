"""CLD: Correlation of Loss Differences (Nagaraj et al., TMLR 2025, arXiv 2508.20230)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .registry import Param, ProxyPlan, method, min_epochs


def _zscore_rows(x: np.ndarray) -> np.ndarray:
    """Population z-score of each row; a constant row becomes zeros (std 0 is replaced by 1)."""
    centred = x - x.mean(axis=1, keepdims=True)
    std = centred.std(axis=1, keepdims=True)
    return centred / np.where(std == 0, 1.0, std)


def cld_scores(pool_loss: np.ndarray, labels: np.ndarray, query_loss: np.ndarray,
               query_labels: np.ndarray, block: int = 65536) -> np.ndarray:
    """Pearson correlation of each sample's epoch-to-epoch loss differences with its class's query-loss differences.

    pool_loss: (N, T) eval-mode loss per pool sample after each epoch (T >= 3).
    labels: (N,) pool labels.
    query_loss: (M, T) eval-mode loss of the held-out query samples.
    query_labels: (M,) their labels; every pool class must appear among them.
    block: rows processed at once, bounding memory for ImageNet-size pools.
    Returns (N,) scores in [-1, 1]; keep the highest per class.
    """
    pool_loss = np.asarray(pool_loss)
    labels = np.asarray(labels)
    scores = np.empty(len(labels), dtype=np.float64)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        in_query = query_labels == c
        if not in_query.any():
            raise InputError(f"cld: class {c} has no query samples")
        reference = _zscore_rows(np.diff(query_loss[in_query].astype(np.float64).mean(axis=0))[None])[0]
        for start in range(0, len(members), block):
            rows = members[start:start + block]
            deltas = _zscore_rows(np.diff(pool_loss[rows].astype(np.float64), axis=1))
            scores[rows] = deltas @ reference / len(reference)
    return scores


def _span(params: dict, plan: ProxyPlan) -> tuple[int, int]:
    return tuple(params["epochs"]) if params["epochs"] is not None else (1, plan.epochs)


def _epochs_problem(params: dict, plan: ProxyPlan) -> str | None:
    value = params["epochs"]
    if value is None:
        return None
    if not (isinstance(value, list | tuple) and len(value) == 2
            and all(isinstance(e, int) and not isinstance(e, bool) for e in value)
            and 1 <= value[0] and value[0] + 2 <= value[1] <= plan.epochs):
        return (f"epochs={value!r} must be null or [first, last] with 1 <= first, first + 2 <= last <= "
                f"{plan.epochs} (proxy.epochs; CLD needs 3 epochs)")
    return None


def _stride_problem(params: dict, plan: ProxyPlan) -> str | None:
    first, last = _span(params, plan)
    most = (last - first) // 2  # at least 3 epochs (2 loss differences) remain
    value = params["stride"]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        return (f"stride={value!r} must be an integer in [1, {most}] (CLD needs 3 of the epochs {first}..{last} "
                "to remain)")
    return None


def epoch_window(params: dict, plan: ProxyPlan) -> slice:
    """The columns of the (N, T) eval log CLD reads: epochs first..last (1-based), every `stride`-th."""
    first, last = _span(params, plan)
    return slice(first - 1, last, params["stride"])


@method("cld", difficulty=True, family="training dynamics", paper="Nagaraj et al., TMLR 2025 (arXiv 2508.20230)",
        signals=("eval.loss", "query.eval.loss"), requires=min_epochs(3), parameters={
            "epochs": Param(None, "[first, last]: the logged proxy epochs (1-based, inclusive) CLD reads, e.g. "
                            "[1, 45] of 90 (the paper's early-checkpoint ablation); null: every epoch",
                            nullable=True, rule=_epochs_problem),
            "stride": Param(1, "read every stride-th of those epochs, from the first (the paper's 2x and 3x "
                            "subsampled trajectories)", "integer", rule=_stride_problem)})
def _cld(s, p, seed, plan):
    window = epoch_window(p, plan)
    return cld_scores(s.eval("loss")[:, window], s.labels, s.eval("loss", "query")[:, window], s.query_labels)
