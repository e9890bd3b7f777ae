"""CLD: Correlation of Loss Differences (Nagaraj et al., TMLR 2025, arXiv 2508.20230)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .registry import method, min_epochs


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


@method("cld", difficulty=True, family="training dynamics", paper="Nagaraj et al., TMLR 2025 (arXiv 2508.20230)",
        signals=("eval.loss", "query.eval.loss"), requires=min_epochs(3))
def _cld(s, p, seed, plan):
    return cld_scores(s.eval("loss"), s.labels, s.eval("loss", "query"), s.query_labels)
