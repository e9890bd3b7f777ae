"""Per-seed split of the official training set into a candidate pool and a query set."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .budgets import class_budgets, total_budget
from .errors import InputError

SPLIT_COLUMNS = ["index", "label", "role", "clean_label", "noisy"]
SELECTION_KEYS = ("query_selection", "query_scores")  # the split section's keys that choose the query set


def make_split(labels: np.ndarray, num_classes: int, query_fraction: float = 0.1, seed: int = 0,
               label_noise: float = 0.0, max_samples: int | None = None, query_selection: str = "random",
               scores: np.ndarray | None = None) -> pa.Table:
    """A class-balanced held-out query set and the candidate pool, one row per sample.

    labels: official training labels.
    query_fraction: share of each class held out as the query (validation) set.
    seed: fixes the draw of the query set, the optional slice and the noise.
    label_noise: share of pool samples whose label is replaced by a uniformly drawn
        other class (symmetric noise); the query set stays clean.
    max_samples: if set, first keep a class-stratified random slice of this size.
    query_selection: how each class's query samples are chosen among its kept samples (see `choose_query`);
        all but `random` read `scores`, one per training sample (`read_query_scores`).
    """
    rng = np.random.default_rng([seed, 0x5B1])
    labels = np.asarray(labels, dtype=np.int64)
    by_class = [rng.permutation(np.flatnonzero(labels == c)) for c in range(num_classes)]
    query_sizes, pool_sizes = split_sizes([len(ix) for ix in by_class], query_fraction, max_samples)
    problem = split_problem(query_sizes, pool_sizes, query_fraction)
    if problem:
        raise InputError(problem)
    kept = [ix[:k + n] for ix, k, n in zip(by_class, query_sizes, pool_sizes)]
    query = np.concatenate([choose_query(ix, k, query_selection, scores, rng) for ix, k in zip(kept, query_sizes)])

    index = np.sort(np.concatenate(kept))
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


def choose_query(candidates: np.ndarray, k: int, how: str, scores: np.ndarray | None,
                 rng: np.random.Generator) -> np.ndarray:
    """`k` query samples of one class's `candidates` (dataset indices in a seeded random order).

    random: the first k (a uniform draw). lowest / highest: the k with the lowest / highest score, ties in the
    random order. proportional: the query's scores follow the class's score distribution: the candidates,
    sorted by score, are cut into k consecutive strata of equal size (within one), and one sample is drawn
    uniformly from each, so the query's j-th lowest score lies between the class's (j-1)/k and j/k quantiles.
    """
    if how == "random":
        return candidates[:k]
    ranked = candidates[np.argsort(scores[candidates], kind="stable")]
    if how == "lowest":
        return ranked[:k]
    if how == "highest":
        return ranked[::-1][:k]
    edges = np.arange(k + 1) * len(ranked) // k
    return ranked[rng.integers(edges[:-1], edges[1:])]


def read_query_scores(path: str | Path, n: int) -> np.ndarray:
    """The score of each of the `n` training samples, from a user's Parquet file of `index, score` (dataset
    indices); a missing file, a missing, foreign or repeated index, or a score that is not finite is one line."""
    where = f"split.query_scores: {path}"
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise InputError(f"{where}: file not found") from None
    except (pa.ArrowException, OSError) as err:
        raise InputError(f"{where}: not a Parquet file ({str(err).splitlines()[0]})") from None
    missing = [c for c in ("index", "score") if c not in table.column_names]
    if missing:
        raise InputError(f"{where}: missing column(s) {', '.join(missing)} (it needs index, score)")
    index_type, score_type = table.schema.field("index").type, table.schema.field("score").type
    numbers = pa.types.is_integer(score_type) or pa.types.is_floating(score_type)
    if not pa.types.is_integer(index_type) or not numbers:
        raise InputError(f"{where}: index must be integers and score numbers (they are {index_type} and {score_type})")
    if table.column("index").null_count:
        raise InputError(f"{where}: {table.column('index').null_count} rows have no index")
    index = table.column("index").to_numpy()
    values = table.column("score").to_numpy().astype(np.float64)  # an empty score reads as nan
    outside = (index < 0) | (index >= n)
    if outside.any():
        raise InputError(f"{where}: index {index[outside][0]} is not a training sample (there are {n:,})")
    unique, counts = np.unique(index, return_counts=True)
    if (counts > 1).any():
        raise InputError(f"{where}: index {unique[counts > 1][0]} appears {counts[counts > 1][0]} times")
    bad = ~np.isfinite(values)
    if bad.any():
        raise InputError(f"{where}: the score of index {index[bad][0]} is {values[bad][0]}")
    if len(index) < n:
        absent = np.setdiff1d(np.arange(n), index)
        raise InputError(f"{where}: no score for {len(absent):,} of the {n:,} training samples (index {absent[0]}"
                         f"{', ...' if len(absent) > 1 else ''})")
    scores = np.empty(n)
    scores[index] = values
    return scores


def split_params(split: dict) -> dict:
    """What makes a split, of the config's split section: without the query-selection keys when the query set
    is drawn at random, so those splits (and the rules' params) are today's byte for byte."""
    if split.get("query_selection", "random") == "random":
        return {k: v for k, v in split.items() if k not in SELECTION_KEYS}
    return split


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
