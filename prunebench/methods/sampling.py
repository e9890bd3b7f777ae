"""Subset samplers that are not a top-k: CCS's coverage-centric strata and DUAL's Beta sampling.

They return row positions in the order drawn; budgets are exact (see prunebench.budgets).
"""

from __future__ import annotations

import math

import numpy as np

from ..budgets import class_budgets, total_budget
from ..selection import preference_order
from .registry import Param

# CCS's stratified sampling, shared by CCS and BoundarySet-CCS
STRATA_PARAMS = {"cutoff": Param.number(0.1, "hardest share dropped first (CCS's beta, in [0, 1))", 0, 1),
                 "strata": Param.integer(50, "equal-width score strata sampled with CCS's budget allocation", 1,
                                         10_000)}


def allocate_strata(sizes: np.ndarray, budget: int) -> np.ndarray:
    """CCS's budget allocation: visit strata from the least to the most populated; each takes
    min(its size, floor(remaining budget / remaining strata)). Small strata are taken whole
    and the rest is spread evenly; the total is min(budget, sum(sizes))."""
    sizes = np.asarray(sizes, dtype=np.int64)
    out = np.zeros(len(sizes), dtype=np.int64)
    left = budget
    for i, stratum in enumerate(np.argsort(sizes, kind="stable")):
        out[stratum] = min(sizes[stratum], left // (len(sizes) - i))
        left -= out[stratum]
    return out


def ccs_rows(scores: np.ndarray, budget: int, hardest_first: np.ndarray, cutoff: float, strata: int,
             rng: np.random.Generator) -> np.ndarray:
    """Coverage-centric sampling (Zheng et al., ICLR 2023) of `budget` rows.

    scores: (N,) difficulty scores. hardest_first: rows ordered from hardest to easiest.
    cutoff: the hardest share β of the rows is dropped first (never so many that fewer than
        `budget` remain). strata: equal-width score bins over the rest, each sampled uniformly
        with the budget from `allocate_strata`.
    """
    n = len(scores)
    dropped = min(int(cutoff * n), n - budget)
    kept = np.sort(hardest_first[dropped:])
    values = np.asarray(scores, dtype=np.float64)[kept]
    low, high = values.min(initial=0.0), values.max(initial=0.0)
    width = (high - low) / strata
    # the top edge belongs to the last stratum
    stratum = np.minimum(((values - low) / width).astype(np.int64), strata - 1) if width > 0 else \
        np.zeros(len(kept), np.int64)
    quota = allocate_strata(np.bincount(stratum, minlength=strata), budget)
    chosen = [rng.choice(kept[stratum == s], size=quota[s], replace=False) for s in range(strata) if quota[s]]
    return np.concatenate(chosen) if chosen else np.zeros(0, np.int64)


def beta_parameters(anchor: float, fraction: float, c_d: float) -> tuple[float, float]:
    """DUAL's pruning-ratio-adaptive Beta(alpha, beta): beta = 15 (1 - anchor)(1 - r^c_d), alpha = 16 - beta,
    with r = 1 - fraction the pruning ratio; the higher r, the more the mass moves to easy samples."""
    b = 15.0 * (1.0 - anchor) * (1.0 - (1.0 - fraction) ** c_d)
    b = max(b, 1e-3)  # anchor == 1 or fraction == 0 would give a degenerate density
    return 16.0 - b, b


def beta_log_density(x: np.ndarray, a: float, b: float) -> np.ndarray:
    """log of the Beta(a, b) density at x in (0, 1)."""
    log_norm = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    return log_norm + (a - 1.0) * np.log(x) + (b - 1.0) * np.log1p(-x)


def weighted_rows_without_replacement(weights: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """`size` rows drawn one after another with probability proportional to `weights` among those left.

    Exponential keys (Efraimidis & Spirakis): the rows with the largest log(u) / w are such a draw.
    Rows of weight 0 come last, in random order, and only when the positive ones run out.
    """
    weights = np.asarray(weights, dtype=np.float64)
    u = rng.random(len(weights))
    with np.errstate(divide="ignore"):
        keys = np.where(weights > 0, np.log(u) / np.where(weights > 0, weights, 1.0), -np.inf)
    return np.lexsort((rng.random(len(weights)), -keys))[:size]


def beta_sample_rows(scores: np.ndarray, mean_p_true: np.ndarray, fraction: float, c_d: float,
                     rng: np.random.Generator, anchor_count: int = 10, eps: float = 1e-4) -> np.ndarray:
    """DUAL's Beta sampling of round(fraction * N) rows.

    anchor = mean p_y of the `anchor_count` highest-scoring rows; each row is drawn with
    probability proportional to BetaPDF(mean p_y; alpha, beta) * score, without replacement.
    mean_p_true is clipped to [eps, 1 - eps], where the density is finite.
    """
    scores = np.asarray(scores, dtype=np.float64)
    x = np.clip(np.asarray(mean_p_true, dtype=np.float64), eps, 1.0 - eps)
    anchor = float(x[np.argsort(-scores, kind="stable")[:anchor_count]].mean())
    a, b = beta_parameters(anchor, fraction, c_d)
    log_density = beta_log_density(x, a, b)
    weights = np.exp(log_density - log_density.max()) * scores  # scaled: only ratios matter
    return weighted_rows_without_replacement(weights, total_budget(len(scores), fraction), rng)


def per_class(sample, labels: np.ndarray, fraction: float) -> np.ndarray:
    """Run `sample(rows, budget)` inside every class with budgets round(f * n_c) by largest remainder."""
    classes, counts = np.unique(labels, return_counts=True)
    picks = [sample(np.flatnonzero(labels == c), int(k)) for c, k in zip(classes, class_budgets(counts, fraction))]
    return np.concatenate(picks)


def stratified(scored: dict, fraction: float, p: dict, rng: np.random.Generator, hardest: str) -> np.ndarray:
    """CCS sampling of a score table at `fraction` (per class when balanced); `hardest`: the end of the
    scores ('highest' or 'lowest') where the hardest samples are, dropped first by the cutoff."""
    def sample(rows, budget):
        hardest_first = preference_order(scored["score"][rows], scored["index"][rows], hardest)
        return rows[ccs_rows(scored["score"][rows], budget, hardest_first, p["cutoff"], p["strata"], rng)]

    if p["balanced"]:
        return per_class(sample, scored["label"], fraction)
    return sample(np.arange(len(scored["score"])), total_budget(len(scored["score"]), fraction))
