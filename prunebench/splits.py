"""Per-seed split of the official training set into a candidate pool and a query set."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .budgets import class_budgets, total_budget
from .errors import InputError

SPLIT_COLUMNS = ["index", "label", "role", "clean_label", "noisy"]


def make_split(labels: np.ndarray, num_classes: int, query_fraction: float = 0.1, seed: int = 0,
               label_noise: float = 0.0, max_samples: int | None = None) -> pa.Table:
    """A class-balanced held-out query set and the candidate pool, one row per sample.

    labels: official training labels.
    query_fraction: share of each class held out as the query (validation) set.
    seed: fixes the draw of the query set, the optional slice and the noise.
    label_noise: share of pool samples whose label is replaced by a uniformly drawn
        other class (symmetric noise); the query set stays clean.
    max_samples: if set, first keep a class-stratified random slice of this size.
    """
    rng = np.random.default_rng([seed, 0x5B1])
    labels = np.asarray(labels, dtype=np.int64)
    by_class = [rng.permutation(np.flatnonzero(labels == c)) for c in range(num_classes)]
    query_sizes, pool_sizes = split_sizes([len(ix) for ix in by_class], query_fraction, max_samples)
    problem = split_problem(query_sizes, pool_sizes, query_fraction)
    if problem:
        raise InputError(problem)
    query = np.concatenate([ix[:k] for ix, k in zip(by_class, query_sizes)])
    pool = np.concatenate([ix[k:k + n] for ix, k, n in zip(by_class, query_sizes, pool_sizes)])

    index = np.sort(np.concatenate([query, pool]))
    role = np.where(np.isin(index, query), "query", "pool")
    clean = labels[index]
    noisy_label = clean.copy()
    if label_noise > 0:
        pool_rows = np.flatnonzero(role == "pool")
        flipped = np.sort(rng.choice(pool_rows, size=int(round(label_noise * len(pool_rows))), replace=False))
        # shift by 1..C-1 so the new label is always a different class
        noisy_label[flipped] = (clean[flipped] + rng.integers(1, num_classes, size=len(flipped))) % num_classes
    return pa.table({
        "index": pa.array(index, pa.int64()),
        "label": pa.array(noisy_label, pa.int64()),
        "role": pa.array(role, pa.string()),
        "clean_label": pa.array(clean, pa.int64()),
        "noisy": pa.array(noisy_label != clean, pa.bool_()),
    })


def split_sizes(counts, query_fraction: float, max_samples: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-class query and pool sizes that `make_split` draws from per-class training counts."""
    counts = np.asarray(counts, dtype=np.int64)
    if max_samples is not None and max_samples < counts.sum():
        counts = class_budgets(counts, max_samples / counts.sum())
    query = class_budgets(counts, query_fraction)
    return query, counts - query


def split_problem(query_sizes: np.ndarray, pool_sizes: np.ndarray, query_fraction: float) -> str | None:
    """One line if the split leaves a class without pool or without query samples."""
    for sizes, what in ((pool_sizes, "pool"), (query_sizes, "query")):
        if (sizes == 0).any():
            c = int(np.flatnonzero(sizes == 0)[0])
            total = int(query_sizes[c] + pool_sizes[c])
            return (f"split.query_fraction {query_fraction} leaves class {c} with no {what} samples "
                    f"({query_sizes[c]} of its {total} held out as query)")
    return None


def budget_problem(pool_sizes: np.ndarray, fractions) -> str | None:
    """One line for the first fraction that keeps no sample of the pool, naming its smallest class."""
    n = int(np.sum(pool_sizes))
    for fraction in fractions:
        if total_budget(n, fraction) == 0:
            c = int(np.argmin(pool_sizes))
            return (f"fraction {fraction} keeps 0 of the {n:,} pool samples (smallest class {c}: "
                    f"{pool_sizes[c]:,} samples, {fraction * pool_sizes[c]:.2g} kept); the smallest fraction that "
                    f"keeps a sample is {smallest_fraction(n):.2g}")
    return None


def smallest_fraction(n: int) -> float:
    """The smallest fraction written with 2 significant digits that keeps a sample of `n`: 0.5/n rounded up."""
    exponent = math.floor(math.log10(0.5 / n)) - 1
    return math.ceil(0.5 / n / 10.0**exponent) * 10.0**exponent


def rows_of(split: pa.Table, role: str) -> tuple[np.ndarray, np.ndarray]:
    """Dataset indices and (possibly noisy) labels of one role, in index order."""
    rows = split.filter(pc.equal(split.column("role"), role))
    return rows.column("index").to_numpy(), rows.column("label").to_numpy()
