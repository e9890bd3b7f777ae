"""Shared pieces of the geometry, gradient and submodular methods: selection groups, size limits,
last-layer gradient factors and their similarities computed per group and in blocks.

The last-layer gradient of cross-entropy for sample i is g_i = [e_i, e_i (x) h_i] with
e_i = softmax(z_i) - onehot(y_i) and h_i the penultimate embedding, so
<g_i, g_j> = <e_i, e_j> (1 + <h_i, h_j>). The C*(d+1) vectors are never built: every
similarity here is a product of an (n, C) and an (n, d) factor, one group and one block at a time.
"""

from __future__ import annotations

import functools
import zlib

import numpy as np

from ..budgets import class_budgets, total_budget
from ..errors import InputError
from ..selection import select_rows
from . import probabilities
from .registry import Param

BLOCK = 2048  # rows per block of a similarity: temporaries stay at BLOCK * n float32


def groups(labels: np.ndarray, balanced: bool) -> list[np.ndarray]:
    """Row positions of each selection group: one per class (ascending label) or the whole pool."""
    labels = np.asarray(labels)
    if not balanced:
        return [np.arange(len(labels))]
    order = np.argsort(labels, kind="stable")
    cuts = np.flatnonzero(np.diff(labels[order])) + 1
    return np.split(order, cuts)


def check_group_size(method: str, labels: np.ndarray, balanced: bool, max_class: int) -> None:
    """Refuse, before any work, a group whose n x n float32 similarity exceeds `max_class` rows."""
    biggest = max((len(g) for g in groups(labels, balanced)), default=0)
    if biggest > max_class:
        where = "its largest class" if balanced else "the whole pool (balanced: false makes one group)"
        raise InputError(
            f"{method}: {where} has {biggest:,} samples; its {biggest:,} x {biggest:,} float32 similarity would need "
            f"{biggest * biggest * 4 / 2 ** 30:.1f} GiB, and this method takes at most max_class={max_class:,} "
            f"samples per group ({max_class * max_class * 4 / 2 ** 30:.1f} GiB)"
            + ("" if balanced else "; use balanced: true") + ", or raise max_class if memory allows")


def group_rng(seed: int, method: str, group: int) -> np.random.Generator:
    """The generator of one method's randomness inside one group, same every run."""
    return np.random.default_rng([seed, zlib.crc32(method.encode()), group])


def order_scores(n: int, ordered_groups: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Scores -position of each row within its group's greedy order: keep 'highest' takes every prefix."""
    scores = np.full(n, -float(n), dtype=np.float64)
    for rows, order in ordered_groups:
        scores[rows[order]] = -np.arange(len(order), dtype=np.float64)
    return scores


def grad_gram(e_a: np.ndarray, h_a: np.ndarray, e_b: np.ndarray | None = None, h_b: np.ndarray | None = None,
              out: np.ndarray | None = None, block: int = BLOCK) -> np.ndarray:
    """<g_i, g_j> = <e_i, e_j> (1 + <h_i, h_j>) for rows of a against rows of b (default: a), float32,
    built in row blocks so no temporary beyond block x n_b exists."""
    e_b = e_a if e_b is None else e_b
    h_b = h_a if h_b is None else h_b
    out = np.empty((len(e_a), len(e_b)), np.float32) if out is None else out
    for start in range(0, len(e_a), block):
        stop = start + block
        np.matmul(h_a[start:stop], h_b.T, out=out[start:stop])
        out[start:stop] += 1.0
        out[start:stop] *= e_a[start:stop] @ e_b.T
    return out


def grad_sq_norms(e: np.ndarray, h: np.ndarray) -> np.ndarray:
    """||g_i||^2 = ||e_i||^2 (1 + ||h_i||^2), float64."""
    return np.einsum("nc,nc->n", e, e, dtype=np.float64) * (1.0 + np.einsum("nd,nd->n", h, h, dtype=np.float64))


def mean_gradient(e: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean last-layer gradient of rows (e, h) as its bias (C,) and weight (C, d) parts, float64.
    One C*(d+1) vector, not one per sample."""
    e64 = np.asarray(e, np.float64)
    return e64.mean(axis=0), e64.T @ np.asarray(h, np.float64) / max(len(e), 1)


def dot_gradient(e: np.ndarray, h: np.ndarray, bias: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """<g_i, G> for every row against one gradient G = [bias, weight]: e_i . bias + e_i^T weight h_i."""
    e64 = np.asarray(e, np.float64)
    return e64 @ bias + np.einsum("nc,nc->n", e64, np.asarray(h, np.float64) @ weight.T)


def cosine_similarity(e: np.ndarray, h: np.ndarray) -> np.ndarray:
    """DeepCore's submodular similarity 0.5 + 0.5 cos(g_i, g_j), in [0, 1], n x n float32 (diagonal 1).
    A zero gradient (a saturated softmax) has cosine 0 with every other sample."""
    sim = grad_gram(e, h)
    norms = np.sqrt(grad_sq_norms(e, h)).astype(np.float32)
    inv = np.where(norms > 0, 1.0 / np.maximum(norms, 1e-30), 0.0).astype(np.float32)
    for start in range(0, len(sim), BLOCK):
        part = sim[start:start + BLOCK]
        part *= inv[start:start + BLOCK, None]
        part *= inv[None, :]
        np.clip(part, -1.0, 1.0, out=part)
        part *= 0.5
        part += 0.5
    np.fill_diagonal(sim, 1.0)
    return sim


def grad_distances(e: np.ndarray, h: np.ndarray) -> np.ndarray:
    """||g_i - g_j||_2, n x n float32, from the factored Gram matrix."""
    dist = grad_gram(e, h)
    sq = grad_sq_norms(e, h).astype(np.float32)
    for start in range(0, len(dist), BLOCK):
        part = dist[start:start + BLOCK]
        part *= -2.0
        part += sq[start:start + BLOCK, None]
        part += sq[None, :]
        np.maximum(part, 0.0, out=part)
        np.sqrt(part, out=part)
    np.fill_diagonal(dist, 0.0)
    return dist


def sq_euclidean(x: np.ndarray, y: np.ndarray | None = None, block: int = BLOCK) -> np.ndarray:
    """||x_i - y_j||^2 (float32, clipped at 0) between rows, in blocks."""
    y = x if y is None else y
    xx = np.einsum("nd,nd->n", x, x)
    yy = xx if y is x else np.einsum("nd,nd->n", y, y)
    out = np.empty((len(x), len(y)), np.float32)
    for start in range(0, len(x), block):
        part = out[start:start + block]
        np.matmul(x[start:start + block], y.T, out=part)
        part *= -2.0
        part += xx[start:start + block, None]
        part += yy[None, :]
        np.maximum(part, 0.0, out=part)
    return out


def knn(x: np.ndarray, k: int, block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest other rows of every row (Euclidean), nearest first: (n, k) rows and distances.
    Memory is block x n; ties go to the lower row."""
    n = len(x)
    k = min(k, n - 1)
    xx = np.einsum("nd,nd->n", x, x)
    nbrs = np.empty((n, max(k, 0)), np.int64)
    dist = np.empty((n, max(k, 0)), np.float32)
    if k <= 0:
        return nbrs, dist
    for start in range(0, n, block):
        stop = min(start + block, n)
        part = x[start:stop] @ x.T
        part *= -2.0
        part += xx[start:stop, None]
        part += xx[None, :]
        np.maximum(part, 0.0, out=part)
        local = np.arange(stop - start)
        part[local, np.arange(start, stop)] = np.inf  # not its own neighbour
        if k <= 16:  # k passes of argmin beat a partition of every row several times over
            for j in range(k):
                nearest = np.argmin(part, axis=1)
                nbrs[start:stop, j] = nearest
                dist[start:stop, j] = np.sqrt(part[local, nearest])
                part[local, nearest] = np.inf
            continue
        cand = np.argpartition(part, k - 1, axis=1)[:, :k] if k < n - 1 else \
            np.argsort(part, axis=1)[:, :k]
        d = np.take_along_axis(part, cand, axis=1)
        order = np.lexsort((cand, d), axis=1)
        nbrs[start:stop] = np.take_along_axis(cand, order, axis=1)
        dist[start:stop] = np.sqrt(np.take_along_axis(d, order, axis=1))
    return nbrs, dist


def as_f32(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


@functools.cache
def _threadpools():
    from threadpoolctl import ThreadpoolController  # finds the BLAS numpy loaded (OpenBLAS, MKL, ...)

    return ThreadpoolController()


def single_blas_thread():
    """A context that runs small matrix-vector steps (greedy loops) on one BLAS thread: on a busy machine
    OpenBLAS's thread hand-off makes such steps 10-100x slower than one thread. Big products outside keep
    every thread."""
    return _threadpools().limit(limits=1, user_api="blas")


# ---- glue shared by the geometry and gradient registry entries ----

MAX_CLASS = Param.integer(16_384, "largest selection group (a class, or the pool when not balanced) the n x n "
                                  "similarity may take", 2, 10_000_000)  # 16,384: an n x n float32 of 1 GiB


def grad_factors(logits: np.ndarray, h: np.ndarray, rows: np.ndarray, labels: np.ndarray):
    """The factors (e, h) of the last-layer gradients of `rows`."""
    return probabilities.errors(logits[rows], labels[rows], np.float32), np.asarray(h[rows], np.float32)


def group_budgets(labels: np.ndarray, balanced: bool, fraction: float) -> list[int]:
    """The budget of each selection group of `groups(labels, balanced)` at `fraction`."""
    if not balanced:
        return [total_budget(len(labels), fraction)]
    _, counts = np.unique(labels, return_counts=True)
    return [int(k) for k in class_budgets(counts, fraction)]


def with_epoch(scores: np.ndarray, epoch: int) -> dict:
    """The score column plus the snapshot epoch read, which a per-fraction sampler reads again."""
    return {"score": scores, "epoch": np.full(len(scores), float(epoch))}


def prefix(scored: dict, fraction: float, p: dict) -> np.ndarray:
    """The top of the score table's ranking at `fraction`: a greedy order's prefix."""
    return select_rows(scored["score"], scored["label"], scored["index"], fraction, p["keep"], p["balanced"])
