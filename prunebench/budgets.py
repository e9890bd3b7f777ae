"""Exact per-class budgets by the largest-remainder rule."""

from __future__ import annotations

import numpy as np

_EPS = 1e-9  # absorbs float error in f * n (0.1 * 6000 must be 600, not 599.999...)


def total_budget(n: int, fraction: float) -> int:
    """round(fraction * n), halves rounded up."""
    return int(np.floor(fraction * n + 0.5 + _EPS))


def class_budgets(counts: np.ndarray, fraction: float) -> np.ndarray:
    """Per-class sizes summing to exactly round(fraction * sum(counts)).

    Each class gets floor(fraction * n_c); the remaining slots go to the classes
    with the largest fractional parts (ties to the lower class id), never
    exceeding a class's size.
    """
    counts = np.asarray(counts, dtype=np.int64)
    quotas = fraction * counts
    budgets = np.minimum(np.floor(quotas + _EPS).astype(np.int64), counts)
    remaining = total_budget(int(counts.sum()), fraction) - int(budgets.sum())
    remainders = np.where(budgets < counts, quotas - budgets, -np.inf)
    order = np.lexsort((np.arange(len(counts)), -remainders))
    budgets[order[:max(remaining, 0)]] += 1
    return budgets
