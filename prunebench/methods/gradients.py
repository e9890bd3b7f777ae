"""Gradient-matching methods on factored last-layer gradients: CRAIG, GradMatch and Glister.

Inputs per selection group: e (n, C) = softmax - onehot and h (n, d) penultimate embeddings;
the per-sample gradients g_i = [e_i, e_i (x) h_i] are never built (see prunebench.methods.kernels).
Their registry entries are at the end.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from . import probabilities
from .kernels import (
    MAX_CLASS,
    check_group_size,
    dot_gradient,
    grad_distances,
    grad_factors,
    grad_gram,
    grad_sq_norms,
    group_budgets,
    group_rng,
    groups,
    mean_gradient,
    order_scores,
    prefix,
    single_blas_thread,
    with_epoch,
)
from .registry import Param, compat_param, epoch_param, method, snapshot_epoch
from .submodular import GRAD_SIGNALS, GREEDY_PARAMS, FacilityLocation, greedy, greedy_method


def craig_similarity(e: np.ndarray, h: np.ndarray) -> np.ndarray:
    """CRAIG's per-group similarity max(D) - D_ij + 1e-3 with D_ij = ||g_i - g_j||_2 (n x n float32)."""
    sim = grad_distances(e, h)
    top = float(sim.max(initial=0.0))
    np.subtract(top + 1e-3, sim, out=sim)
    return sim


def craig_order(e: np.ndarray, h: np.ndarray, budget: int | None = None, how: str = "lazy",
                rng: np.random.Generator | None = None, epsilon: float = 0.01) -> np.ndarray:
    """CRAIG (Mirzasoleiman et al., ICML 2020): greedy facility location on craig_similarity."""
    n = len(e)
    return greedy(FacilityLocation(craig_similarity(e, h)), n, n if budget is None else budget, how, rng, epsilon)


def craig_weights(e: np.ndarray, h: np.ndarray, chosen: np.ndarray, plus_one: bool = False,
                  block: int = 4096) -> np.ndarray:
    """CRAIG's weights: how many rows of the group have each chosen row as their most similar (closest
    gradient) chosen row; a chosen row counts itself, so every weight is at least 1. plus_one: DeepCore's
    1 + that count. Memory block x |chosen|."""
    chosen = np.asarray(chosen, np.int64)
    counts = np.zeros(len(chosen))
    if len(chosen) == 0:
        return counts
    sq = grad_sq_norms(e, h)
    e_c, h_c, sq_c = e[chosen], h[chosen], sq[chosen]
    # a chosen row stands for itself even when another chosen row is an exact duplicate of it
    self_slot = np.full(len(e), -1)
    self_slot[chosen] = np.arange(len(chosen))
    counts = np.zeros(len(chosen))
    for start in range(0, len(e), block):
        stop = min(start + block, len(e))
        dist = sq[start:stop, None] + sq_c[None, :] - 2.0 * grad_gram(e[start:stop], h[start:stop], e_c, h_c)
        nearest = np.argmin(dist, axis=1)
        own = self_slot[start:stop]
        nearest = np.where(own >= 0, own, nearest)
        counts += np.bincount(nearest, minlength=len(chosen))
    return counts + 1.0 if plus_one else counts


def omp(e: np.ndarray, h: np.ndarray, budget: int, ridge: float = 1.0,
        target: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Orthogonal matching pursuit for min_w ||sum_{i in S} w_i g_i - t||^2 + ridge ||w||^2 (GradMatch).

    t: the target gradient as (bias (C,), weight (C, d)); default the group's mean gradient.
    Each step picks argmax_i <g_i, residual> (signed) among the unpicked and re-solves the ridge least
    squares on the picks. The ridge problem is plain least squares on atoms a_i = [g_i, sqrt(ridge) 1_i],
    so it runs as Gram-Schmidt in that kernel space: O(n |S|) per pick, memory n x budget float64.
    Returns the picks in order and their ridge weights (possibly negative).
    """
    n = len(e)
    budget = min(budget, n)
    bias, weight = mean_gradient(e, h) if target is None else target
    corr = dot_gradient(e, h, bias, weight)  # <g_i, t>
    b = corr.copy()
    # basis[s, i] = <a_i, q_s>, q_s orthonormal; float32 rows: the pick loop is memory-bound, O(n |S|) per pick
    basis = np.zeros((budget, n), np.float32)
    proj = np.zeros(budget)  # <q_s, t>
    picked = np.zeros(n, bool)
    picks = np.empty(budget, np.int64)
    e32, h32 = np.asarray(e, np.float32), np.asarray(h, np.float32)
    # the group's Gram matrix in one blocked product: a pick then reads its column instead of a matvec
    # (n^2 (C + d) multiply-adds, at GEMM speed); below a tenth of the group, per-pick columns cost less
    gram = grad_gram(e32, h32) if budget * 10 > n else None
    with single_blas_thread():
        _omp_loop(budget, corr, b, basis, proj, picked, picks, gram, e32, h32, ridge)
    # picks = Q R with R[s, t] = <a_{j_t}, q_s>: solve R w = proj
    r = basis[:, picks].astype(np.float64)
    r = np.triu(r)
    diag = np.diag(r).copy()
    keep = diag > 0
    w = np.zeros(budget)
    if keep.any():
        w[keep] = np.linalg.solve(r[np.ix_(keep, keep)], proj[keep])
    return picks, w


def _omp_loop(budget, corr, b, basis, proj, picked, picks, gram, e32, h32, ridge):
    for t in range(budget):
        masked = np.where(picked, -np.inf, corr)
        j = int(np.argmax(masked))
        column = (gram[j] if gram is not None else
                  grad_gram(e32, h32, e32[j:j + 1], h32[j:j + 1])[:, 0]).astype(np.float64)
        column[j] += ridge
        column -= basis[:t, j] @ basis[:t] if t else 0.0
        norm_sq = column[j]
        if norm_sq <= 1e-12 * (1.0 + abs(b[j])):  # numerically dependent: skip it
            picked[j] = True
            picks[t] = j
            continue
        column /= math.sqrt(norm_sq)
        basis[t] = column
        proj[t] = (b[j] - basis[:t, j].astype(np.float64) @ proj[:t]) / column[j]
        corr -= column * proj[t]
        picked[j] = True
        picks[t] = j


def nnls_gram(m: np.ndarray, b: np.ndarray, start: np.ndarray | None = None, max_rounds: int = 100) -> np.ndarray:
    """min_w 1/2 w^T m w - b^T w subject to w >= 0, for positive definite m (non-negative least squares in
    Gram form), by an active-set method warm-started from `start`'s positive set."""
    k = len(b)
    free = (start > 0) if start is not None else (b > 0)
    w = np.zeros(k)
    for _ in range(max_rounds):
        while free.any():  # the unconstrained solution on the free set, dropping rows that go non-positive
            sol = np.linalg.solve(m[np.ix_(free, free)], b[free])
            if (sol > 0).all():
                break
            idx = np.flatnonzero(free)
            free[idx[sol <= 0]] = False
        w = np.zeros(k)
        if free.any():
            w[free] = sol
        gradient = b - m @ w  # minus the objective's gradient
        violating = ~free & (gradient > 1e-10 * (1.0 + np.abs(b).max(initial=0.0)))
        if not violating.any():
            break
        # add the worst violators back (several at once keeps the rounds few)
        worst = np.flatnonzero(violating)
        worst = worst[np.argsort(-gradient[worst], kind="stable")[:max(1, len(worst) // 2)]]
        free[worst] = True
    return np.maximum(w, 0.0)


def gradmatch_subset(e: np.ndarray, h: np.ndarray, budget: int, rng: np.random.Generator, ridge: float = 1.0,
                     target: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """GradMatch (Killamsetty et al., ICML 2021), one-shot per group: OMP picks `budget` rows, then the weights
    are the non-negative ridge least squares on them. Always exactly `budget` rows: picks whose weight
    comes out 0 are replaced by random rows of weight 1 (as CORDS fills), where DeepCore returns fewer.

    Weights are scaled by the group size, so a weight counts the samples a row stands for
    (sum_i w_i g_i ~ the sum of the group's gradients).
    """
    n = len(e)
    budget = min(budget, n)
    if budget == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    picks, w_ridge = omp(e, h, budget, ridge, target)
    bias, weight = mean_gradient(e, h) if target is None else target
    e_p, h_p = np.asarray(e, np.float32)[picks], np.asarray(h, np.float32)[picks]
    gram = grad_gram(e_p, h_p).astype(np.float64)
    gram[np.diag_indices(budget)] += ridge
    w = nnls_gram(gram, dot_gradient(e_p, h_p, bias, weight), w_ridge)
    kept = w > 0
    rows, weights = picks[kept], w[kept] * n
    missing = budget - len(rows)
    if missing:
        others = np.setdiff1d(np.arange(n), rows)
        fill = np.sort(rng.choice(others, missing, replace=False))
        rows, weights = np.concatenate([rows, fill]), np.concatenate([weights, np.ones(missing)])
    return rows, weights


def weighted_gradient_error(e: np.ndarray, h: np.ndarray, rows: np.ndarray, weights: np.ndarray) -> float:
    """||sum_i w_i g_i / n - mean gradient|| / ||mean gradient||, for tests and benchmarks."""
    bias, weight = mean_gradient(e, h)
    w = np.asarray(weights, np.float64)[:, None] / len(e)
    e_r, h_r = np.asarray(e, np.float64)[rows], np.asarray(h, np.float64)[rows]
    approx_b, approx_w = (w * e_r).sum(0), (w * e_r).T @ h_r
    diff = np.sqrt(((approx_b - bias) ** 2).sum() + ((approx_w - weight) ** 2).sum())
    return float(diff / np.sqrt((bias ** 2).sum() + (weight ** 2).sum()))


class GlisterGain:
    """Glister's greedy gain (Killamsetty et al., AAAI 2021): the first-order change of the validation
    log-likelihood, eta <g_i, mean validation gradient>, with the validation gradient re-evaluated after
    each pick at the last layer moved one step theta - eta * mean_{j in S} g_j.

    The update is applied in closed form on the validation logits: z_v' = z_v - eta/|S| sum_{j in S}
    (e_j (1 + <h_j, h_v>)), so a pick costs O(m (C + d)) for m validation rows. update=False gives
    DeepCore's behaviour (its update is never called): static gains.
    """

    def __init__(self, e: np.ndarray, h: np.ndarray, val_logits: np.ndarray, val_labels: np.ndarray,
                 val_h: np.ndarray, eta: float = 0.1, update: bool = True):
        self.e, self.h = np.asarray(e, np.float32), np.asarray(h, np.float32)
        self.z = np.asarray(val_logits, np.float64)
        self.y = np.asarray(val_labels)
        self.val_h = np.asarray(val_h, np.float32)
        self.val_h64 = self.val_h.astype(np.float64)
        self.eta, self.update = eta, update
        self.shift = np.zeros_like(self.z)  # sum_{j in S} e_j (1 + <h_j, h_v>), (m, C)
        self.count = 0
        self._val_errors()

    def _val_errors(self) -> None:
        z = self.z - (self.eta / self.count) * self.shift if self.count else self.z
        p = probabilities.errors(z, self.y)
        self.val_e = p.astype(np.float32)
        # the mean validation gradient as one C x (d + 1) vector when that is cheaper per candidate (C d)
        # than a pass over the m validation rows (m (C + d))
        c, d, m = p.shape[1], self.val_h.shape[1], len(p)
        self.val_grad = (p.mean(axis=0), p.T @ self.val_h64 / m) if c * d < m * (c + d) else None

    def gains(self, rows: np.ndarray) -> np.ndarray:
        # LL_val(theta - eta g_i) ~ LL_val(theta) + eta <g_i, mean validation gradient of the loss>
        if self.val_grad is not None:
            return self.eta * dot_gradient(self.e[rows], self.h[rows], *self.val_grad)
        return grad_gram(self.e[rows], self.h[rows], self.val_e, self.val_h).mean(axis=1, dtype=np.float64) \
            * self.eta

    def add(self, row: int) -> None:
        if not self.update:
            return
        self.shift += (1.0 + self.val_h @ self.h[row])[:, None] * self.e[row][None, :]
        self.count += 1
        self._val_errors()


def glister_order(e, h, val_logits, val_labels, val_h, budget=None, how="lazy", rng=None, epsilon=0.01,
                  eta=0.1, update=True) -> np.ndarray:
    n = len(e)
    gain = GlisterGain(e, h, val_logits, val_labels, val_h, eta, update)
    if not update:  # static gains: greedy is a sort
        values = gain.gains(np.arange(n))
        order = np.lexsort((np.arange(n), -values))
        return order[:n if budget is None else budget]
    return greedy(gain, n, n if budget is None else budget, how, rng, epsilon)


# ---- registry entries ----

greedy_method("craig", "Mirzasoleiman et al., ICML 2020 (DeepCore)",
              {"compat": compat_param("weight = 1 + cluster size (DeepCore's off-by-one)")},
              function="facility_location", similarity=craig_similarity,
              weigh=lambda e, h, chosen, p: craig_weights(e, h, chosen, plus_one=p["compat"] == "deepcore"))


def _gradmatch_target(signals, p, epoch, label_value):
    """None (the group's own mean gradient) or the mean gradient of the class's query rows."""
    if p["target"] != "query":
        return None
    query = np.flatnonzero(signals.query_labels == label_value) if p["balanced"] else \
        np.arange(len(signals.query_labels))
    if len(query) == 0:
        raise InputError(f"gradmatch: class {label_value} has no query rows for target='query'")
    q_logits, q_h = signals.snapshot(epoch, "logits", role="query"), signals.snapshot(epoch, "embedding", role="query")
    return mean_gradient(probabilities.errors(q_logits[query], signals.query_labels[query], np.float32),
                         np.asarray(q_h[query], np.float32))


def _gradmatch_subset(scored, fraction, p, rng, signals):
    labels = scored["label"]
    epoch = int(scored["epoch"][0])
    logits, h = signals.snapshot(epoch, "logits"), signals.snapshot(epoch, "embedding")
    picks, weights = [], []
    for rows_g, k in zip(groups(labels, p["balanced"]), group_budgets(labels, p["balanced"], fraction)):
        e, hg = grad_factors(logits, h, rows_g, labels)
        target = _gradmatch_target(signals, p, epoch, labels[rows_g[0]])
        chosen, w = gradmatch_subset(e, hg, k, rng, p["ridge"], target)
        picks.append(rows_g[chosen])
        weights.append(w)
    return np.concatenate(picks), np.concatenate(weights)


@method("gradmatch", family="gradient", paper="Killamsetty et al., ICML 2021 (DeepCore one-shot)",
        signals=GRAD_SIGNALS,
        parameters={"epoch": epoch_param(), "max_class": MAX_CLASS,
                    "ridge": Param.number(1.0, "lambda of the ridge term (DeepCore: 1.0)", 1e-12, 1e12),
                    "target": Param.choice("train", "'train' (the class's mean pool gradient, DeepCore) or 'query' "
                                                    "(its query-set mean)", ("train", "query"))},
        subset=_gradmatch_subset, subset_reads_signals=True)
def _gradmatch(s, p, seed, plan):
    check_group_size("gradmatch", s.labels, p["balanced"], p["max_class"])
    epoch = snapshot_epoch(p, plan)
    logits, h = s.snapshot(epoch, "logits"), s.snapshot(epoch, "embedding")
    scores = np.zeros(len(s.labels))
    for rows in groups(s.labels, p["balanced"]):
        e, hg = grad_factors(logits, h, rows, s.labels)
        target = _gradmatch_target(s, p, epoch, s.labels[rows[0]])
        bias, weight = mean_gradient(e, hg) if target is None else target
        scores[rows] = dot_gradient(e, hg, bias, weight)  # OMP's first-pick criterion
    return with_epoch(scores, epoch)


def _glister_orders(s, p, epoch, seed, budgets=None, rng=None):
    logits, h = s.snapshot(epoch, "logits"), s.snapshot(epoch, "embedding")
    deepcore = p["compat"] == "deepcore"
    if not deepcore:
        q_logits, q_h = s.snapshot(epoch, "logits", role="query"), s.snapshot(epoch, "embedding", role="query")
    out = []
    for g, rows in enumerate(groups(s.labels, p["balanced"])):
        e, hg = grad_factors(logits, h, rows, s.labels)
        if deepcore:  # DeepCore: the training rows are the validation set, and the update is never applied
            val = (logits[rows], s.labels[rows], hg)
        else:
            query = np.flatnonzero(s.query_labels == s.labels[rows[0]]) if p["balanced"] else \
                np.arange(len(s.query_labels))
            if len(query) == 0:
                raise InputError(f"glister: class {s.labels[rows[0]]} has no query rows to validate on")
            val = (q_logits[query], s.query_labels[query], np.asarray(q_h[query], np.float32))
        budget = None if budgets is None else budgets[g]
        order = glister_order(e, hg, *val, budget=budget, how=p["greedy"],
                              rng=rng if rng is not None else group_rng(seed, "glister", g),
                              epsilon=p["epsilon"], eta=p["eta"], update=not deepcore)
        out.append((rows, order))
    return out


def _glister_subset(scored, fraction, p, rng, signals):
    if p["greedy"] != "stochastic" or p["compat"] == "deepcore":
        return prefix(scored, fraction, p), None
    budgets = group_budgets(scored["label"], p["balanced"], fraction)
    parts = _glister_orders(signals, p, int(scored["epoch"][0]), 0, budgets, rng)
    return np.concatenate([rows[order] for rows, order in parts]), None


@method("glister", family="gradient", paper="Killamsetty et al., AAAI 2021 (DeepCore one-shot)",
        signals=GRAD_SIGNALS + ("query snapshot.logits", "query snapshot.embedding"),
        parameters={"epoch": epoch_param(), **GREEDY_PARAMS,
                    "eta": Param.number(0.1, "step of the one-step last-layer update (DeepCore: the lr, 0.1)", 0, 1e6),
                    "compat": compat_param("no update, pool as validation set (a static top-k)")},
        subset=_glister_subset, subset_reads_signals=True)
def _glister(s, p, seed, plan):
    epoch = snapshot_epoch(p, plan)
    return with_epoch(order_scores(len(s.labels), _glister_orders(s, p, epoch, seed)), epoch)
