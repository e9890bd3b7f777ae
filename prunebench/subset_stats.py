"""What each subset keeps: mislabeled share, class balance, and overlap (Jaccard) between methods.

Reads the subset Parquets (`index, label, weight, rank`; metadata method, fraction, seed, k) and the
split Parquets (`index, label, role, clean_label, noisy`; metadata seed, num_classes). Counts are
per sample (a weighted subset's weights are not applied: this is what the method keeps).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .io import read_table, table_metadata


@dataclass
class SubsetStats:
    """per_subset: one row per subset (method, fraction, seed, k, mislabeled, mislabeled_share, weighted);
    class_counts: (len(per_subset), num_classes) kept samples per class, in per_subset's row order;
    overlap: Jaccard index per (seed, method_a, method_b) at `fraction`; noise rate of each split."""

    per_subset: pd.DataFrame
    class_counts: np.ndarray
    num_classes: int
    fraction: float | None
    overlap: pd.DataFrame = field(default_factory=pd.DataFrame)
    noise_rate: dict[int, float] = field(default_factory=dict)
    pool_class_counts: dict[int, np.ndarray] = field(default_factory=dict)


def _split_lookup(split_paths: list[str | os.PathLike]):
    noisy_by_seed, pool_counts, rates, num_classes = {}, {}, {}, 0
    for path in split_paths:
        table = read_table(path, ["index", "label", "role", "noisy"])
        meta = table_metadata(table, path, ("seed", "num_classes"))
        index = table.column("index").to_numpy()
        noisy = table.column("noisy").to_numpy(zero_copy_only=False)
        pool = table.column("role").to_numpy(zero_copy_only=False) == "pool"
        lookup = np.zeros(int(index.max()) + 1, dtype=bool)
        lookup[index] = noisy
        seed = int(meta["seed"])
        num_classes = max(num_classes, int(meta["num_classes"]))
        noisy_by_seed[seed] = lookup
        rates[seed] = float(noisy[pool].mean()) if pool.any() else 0.0
        pool_counts[seed] = np.bincount(table.column("label").to_numpy()[pool], minlength=int(meta["num_classes"]))
    return noisy_by_seed, pool_counts, rates, num_classes


def gather_subsets(subset_paths: list[str | os.PathLike], split_paths: list[str | os.PathLike],
                   fraction: float | None) -> SubsetStats:
    """Statistics of every subset, and the pairwise Jaccard overlap of methods' subsets at `fraction`."""
    noisy_by_seed, pool_counts, rates, num_classes = _split_lookup(split_paths)
    rows, counts, kept = [], [], {}
    for path in subset_paths:
        table = read_table(path, ["index", "label", "weight"])
        meta = table_metadata(table, path, ("method", "fraction", "seed"))
        index = table.column("index").to_numpy()
        labels = table.column("label").to_numpy()
        weights = table.column("weight").to_numpy()
        seed = int(meta["seed"])
        lookup = noisy_by_seed.get(seed)
        mislabeled = int(lookup[index].sum()) if lookup is not None else -1
        rows.append({"method": meta["method"], "fraction": float(meta["fraction"]), "seed": seed,
                     "k": len(index), "mislabeled": mislabeled if mislabeled >= 0 else np.nan,
                     "mislabeled_share": mislabeled / len(index) if mislabeled >= 0 and len(index) else np.nan,
                     "weighted": bool(len(weights) and not np.all(weights == weights[0]))})
        counts.append(np.bincount(labels, minlength=num_classes)[:max(num_classes, 1)] if len(labels)
                      else np.zeros(max(num_classes, 1), dtype=np.int64))
        if fraction is not None and np.isclose(float(meta["fraction"]), fraction, rtol=0, atol=1e-12):
            kept[(seed, meta["method"])] = index
    width = max([num_classes, *[len(c) for c in counts]]) if counts else num_classes
    class_counts = np.array([np.pad(c, (0, width - len(c))) for c in counts], dtype=np.int64).reshape(-1, width)
    per_subset = pd.DataFrame(rows, columns=["method", "fraction", "seed", "k", "mislabeled", "mislabeled_share",
                                             "weighted"])
    return SubsetStats(per_subset, class_counts, width, fraction, jaccard(kept), rates, pool_counts)


def jaccard(kept: dict[tuple[int, str], np.ndarray]) -> pd.DataFrame:
    """Jaccard index |A∩B| / |A∪B| of every pair of methods' subsets drawn with the same seed."""
    rows = []
    for seed in sorted({s for s, _ in kept}):
        methods = sorted(m for s, m in kept if s == seed)
        if not methods:
            continue
        size = int(max(kept[(seed, m)].max(initial=-1) for m in methods)) + 1
        masks = np.zeros((len(methods), size), dtype=np.float32)
        for i, m in enumerate(methods):
            masks[i, kept[(seed, m)]] = 1
        inter = masks @ masks.T
        sizes = masks.sum(axis=1)
        union = sizes[:, None] + sizes[None, :] - inter
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.where(union > 0, inter / union, np.nan)
        for i, a in enumerate(methods):
            for j, b in enumerate(methods):
                rows.append({"seed": seed, "method_a": a, "method_b": b, "jaccard": float(value[i, j])})
    return pd.DataFrame(rows, columns=["seed", "method_a", "method_b", "jaccard"])
