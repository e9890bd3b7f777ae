"""Turn one score per sample into a subset: preference order, exact budgets, subset table."""

from __future__ import annotations

import zlib

import numpy as np
import pyarrow as pa

from .budgets import class_budgets, total_budget
from .errors import InputError
from .io import DataError
from .splits import rows_of

SUBSET_COLUMNS = ["index", "label", "weight", "rank"]


def preference_order(scores: np.ndarray, index: np.ndarray, keep: str = "highest") -> np.ndarray:
    """Row positions from most to least preferred; ties go to the lower dataset index."""
    scores = np.asarray(scores, dtype=np.float64)
    if np.isnan(scores).any():
        raise InputError(f"{int(np.isnan(scores).sum())} scores are NaN")
    key = -scores if keep == "highest" else scores
    return np.lexsort((index, key))


def check_fraction(fraction: float) -> None:
    if not 0 < fraction <= 1:
        raise InputError(f"fraction must be in (0, 1], got {fraction}")


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
    if len(weights) != len(rows) or not (np.isfinite(weights) & (weights > 0)).all():
        raise ValueError(f"subset weights must be {len(rows)} finite positive numbers")
    return pa.table({
        "index": pa.array(index[rows], pa.int64()),
        "label": pa.array(np.asarray(labels)[rows], pa.int64()),
        "weight": pa.array(weights, pa.float64()),
        "rank": pa.array(np.arange(len(rows)), pa.int64()),
    })


def selection_rng(seed: int, method: str, fraction: float) -> np.random.Generator:
    """The generator of one (seed, method, fraction) draw: independent of every other draw, same every run."""
    return np.random.default_rng([seed, zlib.crc32(method.encode()), zlib.crc32(repr(float(fraction)).encode())])


def _unique(index: np.ndarray, path) -> None:
    values, counts = np.unique(index, return_counts=True)
    if (counts > 1).any():
        example = int(values[counts > 1][0])
        raise DataError(f"{path}: {int((counts > 1).sum())} index value(s) repeated (e.g. {example})")


def check_scores(table: pa.Table, path) -> None:
    """The score contract: unique indices, non-negative labels, finite values in every float column."""
    _unique(table.column("index").to_numpy(), path)
    if (table.column("label").to_numpy() < 0).any():
        raise DataError(f"{path}: negative labels")
    for name in table.column_names:
        if pa.types.is_floating(table.schema.field(name).type):
            values = table.column(name).to_numpy()
            if not np.isfinite(values).all():
                raise DataError(f"{path}: {int((~np.isfinite(values)).sum())} {name} values are not finite")


def check_subset(subset: pa.Table, meta: dict, path, split: pa.Table, seed: int) -> None:
    """The subset contract, before anything trains: written for this seed, k equal to its rows, unique
    indices all in this seed's pool with the split's labels, finite positive weights."""
    if meta.get("seed") != seed:
        raise DataError(f"{path}: selected for seed {meta.get('seed')}, not seed {seed}")
    if meta.get("k") != subset.num_rows:
        raise DataError(f"{path}: metadata says k = {meta.get('k')} but the file has {subset.num_rows} rows")
    if subset.num_rows == 0:
        raise DataError(f"{path}: the subset is empty")
    index, labels = subset.column("index").to_numpy(), subset.column("label").to_numpy()
    _unique(index, path)
    pool_index, pool_labels = rows_of(split, "pool")
    at = np.clip(np.searchsorted(pool_index, index), 0, len(pool_index) - 1)
    outside = pool_index[at] != index
    if outside.any():
        raise DataError(f"{path}: {int(outside.sum())} index value(s) not in seed {seed}'s pool "
                        f"(e.g. {int(index[outside][0])})")
    wrong = pool_labels[at] != labels
    if wrong.any():
        raise DataError(f"{path}: {int(wrong.sum())} label(s) differ from the split's (e.g. index "
                        f"{int(index[wrong][0])}: {int(labels[wrong][0])}, split {int(pool_labels[at][wrong][0])})")
    weights = subset.column("weight").to_numpy()
    if not (np.isfinite(weights) & (weights > 0)).all():
        raise DataError(f"{path}: {int((~(np.isfinite(weights) & (weights > 0))).sum())} weight(s) are not "
                        "finite and positive")

