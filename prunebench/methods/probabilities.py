"""Probabilities, their complements and last-layer errors from logged logits, without rounding ties.

A confident softmax rounds its top probability to exactly 1 (in float16 below
1 - 2^-12, in float32 below 1 - 2^-25), so 1 - p_max or p_y - 1 computed by
subtraction is 0 for every confident sample and those samples tie. Here every
quantity near 0 is a sum of the small terms themselves: with s_c = exp(z_c - max z)
and r = sum of s_c over the classes other than the top one, p_c = s_c / (1 + r),
1 - p_max = r / (1 + r), log p = z - max z - log1p(r) and e_y = -sum_{c != y} p_c.
"""

from __future__ import annotations

import numpy as np

BLOCK = 65536  # rows per block: float64 temporaries stay bounded for ImageNet-size pools


def _parts(logits: np.ndarray, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(z - max z, s = exp(z - max z), r = sum of s without the top class, top class) per row."""
    d = np.asarray(logits, dtype=dtype)
    top = d.argmax(axis=1)
    d = d - d[np.arange(len(d)), top][:, None]
    s = np.exp(d)
    s_top = s[np.arange(len(s)), top]
    s[np.arange(len(s)), top] = 0.0
    r = s.sum(axis=1)
    s[np.arange(len(s)), top] = s_top
    return d, s, r, top


def softmax(logits: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Row softmax, each probability accurate to `dtype`'s relative precision (none rounds to 0 or 1 early)."""
    _, s, r, _ = _parts(logits, dtype)
    s /= (1.0 + r)[:, None]
    return s


def log_softmax(logits: np.ndarray, dtype=np.float64) -> np.ndarray:
    """log p, with log p_max = -log1p(r) accurate even when p_max rounds to 1."""
    d, _, r, _ = _parts(logits, dtype)
    d -= np.log1p(r)[:, None]
    return d


def errors(logits: np.ndarray, labels: np.ndarray, dtype=np.float64) -> np.ndarray:
    """e = p - onehot(y), (n, C), with e_y = -sum_{c != y} p_c so a confident row keeps its small error."""
    e = softmax(logits, dtype)
    rows, labels = np.arange(len(e)), np.asarray(labels)
    e[rows, labels] = 0.0
    e[rows, labels] = -e.sum(axis=1)
    return e


def by_blocks(score, *arrays: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """A row-wise float64 score of row-aligned arrays, computed in row blocks."""
    n = len(arrays[0])
    parts = [score(*(a[start:start + block] for a in arrays)) for start in range(0, n, block)]
    return np.concatenate([np.zeros(0), *parts])


def least_confidence(logits: np.ndarray) -> np.ndarray:
    """1 - max_k p_k = r / (1 + r), float64."""
    def score(z):
        _, _, r, _ = _parts(z, np.float64)
        return r / (1.0 + r)
    return by_blocks(score, logits)


def entropy(logits: np.ndarray) -> np.ndarray:
    """-sum_k p_k log p_k, float64 (0 log 0 = 0)."""
    def score(z):
        log_p = log_softmax(z)
        p = np.exp(log_p)
        return -(p * np.where(p > 0, log_p, 0.0)).sum(axis=1)
    return by_blocks(score, logits)


def top2_margin(logits: np.ndarray) -> np.ndarray:
    """p_(1) - p_(2), the two largest probabilities, float64: (1 - s_(2)) / (1 + r)."""
    def score(z):
        _, s, r, top = _parts(z, np.float64)
        s[np.arange(len(s)), top] = -np.inf
        return (1.0 - s.max(axis=1)) / (1.0 + r)
    return by_blocks(score, logits)
