"""Turn one score per sample into a subset: preference order, exact budgets, subset table."""

from __future__ import annotations

import zlib

import numpy as np
import pyarrow as pa

from .budgets import class_budgets, total_budget

SUBSET_COLUMNS = ["index", "label", "weight", "rank"]


def preference_order(scores: np.ndarray, index: np.ndarray, keep: str = "highest") -> np.ndarray:
    """Row positions from most to least preferred; ties go to the lower dataset index."""
    scores = np.asarray(scores, dtype=np.float64)
    if np.isnan(scores).any():
        raise ValueError(f"{int(np.isnan(scores).sum())} scores are NaN")
    key = -scores if keep == "highest" else scores
    return np.lexsort((index, key))


def check_fraction(fraction: float) -> None:
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")


def select_rows(scores: np.ndarray, labels: np.ndarray, index: np.ndarray, fraction: float,
                keep: str = "highest", balanced: bool = True) -> np.ndarray:
    """Rows of the chosen subset, in preference order.

    fraction: kept share of the pool, in (0, 1].
    balanced: per-class budgets round(f * n_c) by largest remainder (total exactly
        round(f * N)); otherwise the top round(f * N) of one global ranking.
    """
    check_fraction(fraction)
    order = preference_order(scores, index, keep)
    if not balanced:
        return order[:total_budget(len(order), fraction)]
    _, class_of, counts = np.unique(np.asarray(labels)[order], return_inverse=True, return_counts=True)
    budgets = class_budgets(counts, fraction)
    # each row's position within its own class's ranking: a stable sort by class keeps the preference order
    by_class = np.argsort(class_of, kind="stable")
    within = np.empty(len(order), dtype=np.int64)
    within[by_class] = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
    return order[within < budgets[class_of]]


def subset_table(rows: np.ndarray, index: np.ndarray, labels: np.ndarray,
                 weights: np.ndarray | None = None) -> pa.Table:
    """The subset contract: index, label, weight (1 unless the method weighs), rank (0 = most preferred)."""
    weights = np.ones(len(rows)) if weights is None else np.asarray(weights, dtype=np.float64)
    if len(weights) != len(rows) or not (np.isfinite(weights) & (weights >= 0)).all():
        raise ValueError(f"subset weights must be {len(rows)} finite non-negative numbers")
    return pa.table({
        "index": pa.array(index[rows], pa.int64()),
        "label": pa.array(np.asarray(labels)[rows], pa.int64()),
        "weight": pa.array(weights, pa.float64()),
        "rank": pa.array(np.arange(len(rows)), pa.int64()),
    })


def selection_rng(seed: int, method: str, fraction: float) -> np.random.Generator:
    """The generator of one (seed, method, fraction) draw: independent of every other draw, same every run."""
    return np.random.default_rng([seed, zlib.crc32(method.encode()), zlib.crc32(repr(float(fraction)).encode())])
