"""Submodular selection: Facility Location, Graph Cut and Log-Determinant on a dense per-group
similarity, maximised by naive, lazy or stochastic greedy (DeepCore's `Submodular`, with the
Log-Determinant gain as the Schur complement the function defines).

An objective exposes `gains(rows)`, the marginal gain of adding each row to the current set,
and `add(row)`. The optimisers return the picks in greedy order; naive and lazy greedy give
the same order whatever the budget (a prefix serves every fraction), stochastic greedy's
sample size depends on the budget. The registry entries at the end run these greedy methods on
last-layer gradient similarities (CRAIG's in prunebench.methods.gradients uses the same glue).
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from .kernels import (
    MAX_CLASS,
    check_group_size,
    cosine_similarity,
    grad_factors,
    group_budgets,
    group_rng,
    groups,
    order_scores,
    prefix,
    single_blas_thread,
    with_epoch,
)
from .registry import Method, Param, epoch_param, register, snapshot_epoch

GREEDY = ("naive", "lazy", "stochastic")
CHUNK = 256  # candidate rows per gains() call in naive greedy: temporaries stay at CHUNK x n


class FacilityLocation:
    """f(S) = sum_i max_{j in S} s_ij; gain(x | S) = sum_i max(0, s_ix - cur_i), cur_i = max_{j in S} s_ij
    (0 for the empty set). `sim` must be symmetric and non-negative."""

    def __init__(self, sim: np.ndarray):
        self.sim = sim
        self.cur = np.zeros(len(sim), np.float32)

    def gains(self, rows: np.ndarray) -> np.ndarray:
        diff = self.sim[rows] - self.cur[None, :]  # symmetric: rows are the columns
        np.maximum(diff, 0.0, out=diff)
        return diff.sum(axis=1, dtype=np.float64)

    def add(self, row: int) -> None:
        np.maximum(self.cur, self.sim[row], out=self.cur)


class GraphCut:
    """f(S) = lam sum_{i in V, j in S} s_ij - sum_{i, j in S} s_ij;
    gain(x | S) = lam sum_i s_ix - 2 sum_{j in S} s_jx - s_xx (DeepCore drops the constant -s_xx)."""

    exact_for_all = True  # every gain is current after each add(): O(n) per pick

    def __init__(self, sim: np.ndarray, lam: float = 1.0):
        self.sim = sim
        self.values = lam * sim.sum(axis=0, dtype=np.float64) - np.diag(sim).astype(np.float64)

    def gains(self, rows: np.ndarray) -> np.ndarray:
        return self.values[rows]

    def all_gains(self) -> np.ndarray:
        return self.values

    def add(self, row: int) -> None:
        self.values -= 2.0 * self.sim[row]


class LogDeterminant:
    """f(S) = log det(L_S) with L = sim + ridge I; gain(x | S) = log(L_xx - L_xS L_S^-1 L_Sx), the Schur
    complement, kept for every row by an incremental Cholesky factor (O(n |S|) per pick).

    DeepCore maximises the quadratic form L_xS L_S^+ L_Sx itself, which picks the most redundant row;
    that is not this function's gain. Once every remaining residual is at the ridge floor (the
    similarity's rank is used up) all gains are equal and `exhausted` says so.
    """

    exact_for_all = True  # gains() of every row is current after each add()

    def __init__(self, sim: np.ndarray, ridge: float = 1e-3, capacity: int | None = None):
        self.sim, self.ridge = sim, ridge
        n = len(sim)
        self.residual = np.diag(sim).astype(np.float64) + ridge
        # factor[s, i]: row i's coordinate on the s-th Cholesky direction; rows of it are contiguous
        self.factor = np.zeros((min(capacity or n, n), n), np.float64)
        self.size = 0

    def gains(self, rows: np.ndarray) -> np.ndarray:
        return np.log(np.maximum(self.residual[rows], 1e-300))

    def all_gains(self) -> np.ndarray:
        return self.residual  # log is increasing: the argmax is the same

    def add(self, row: int) -> None:
        t = self.size
        if t == len(self.factor):
            self.factor = np.concatenate([self.factor, np.zeros_like(self.factor)], axis=0)
        column = self.sim[row].astype(np.float64)
        column[row] += self.ridge
        if t:
            column -= self.factor[:t, row] @ self.factor[:t]
        column /= math.sqrt(max(self.residual[row], 1e-300))
        self.factor[t] = column
        self.residual -= column * column
        self.residual[row] = 0.0
        self.size += 1

    def exhausted(self, available: np.ndarray) -> bool:
        """True when every available row (a boolean mask) is at the ridge floor: all gains are equal."""
        left = self.residual[available]
        return len(left) > 0 and float(left.max()) <= self.ridge * (1.0 + 1e-6)


def greedy(objective, n: int, budget: int, how: str = "lazy", rng: np.random.Generator | None = None,
           epsilon: float = 0.01) -> np.ndarray:
    """`budget` rows of 0..n-1 in greedy order, maximising `objective`.

    naive: every step evaluates every remaining row (O(budget n) gains).
    lazy: Minoux's lazy greedy with stale upper bounds in a heap; the same picks as naive greedy
        for a submodular objective (ties aside).
    stochastic: each step evaluates a random sample of ceil(n / budget * ln(1 / epsilon)) remaining
        rows (Mirzasoleiman et al., 2015; DeepCore's default epsilon 0.9 samples about n/(10 budget)).
    Ties go to the lower row. An objective that reports `exhausted` (all gains equal) gets the
    remaining picks in row order.
    """
    with single_blas_thread():
        return _greedy(objective, n, budget, how, rng, epsilon)


def _greedy(objective, n, budget, how, rng, epsilon) -> np.ndarray:
    budget = min(budget, n)
    available = np.ones(n, bool)
    picks = np.empty(budget, np.int64)
    exact = getattr(objective, "exact_for_all", False)
    exhausted = getattr(objective, "exhausted", None)
    sample = stochastic_sample_size(n, budget, epsilon) if how == "stochastic" else 0
    heap = None
    if how == "lazy" and not exact:
        bound = np.concatenate([objective.gains(np.arange(s, min(s + CHUNK, n))) for s in range(0, n, CHUNK)]) \
            if n else np.zeros(0)
        heap = list(zip((-bound).tolist(), range(n)))  # (-bound, row): the highest bound, then the lower row
        heapq.heapify(heap)
    for t in range(budget):
        if exhausted is not None and exhausted(available):
            picks[t:] = np.flatnonzero(available)[:budget - t]
            break
        if how == "stochastic":
            rows = np.flatnonzero(available)
            if len(rows) > sample:
                rows = np.sort(rng.choice(rows, sample, replace=False))
            best = int(rows[int(np.argmax(objective.gains(rows)))])
        elif exact:  # every gain is current: one pass over the live array
            values = objective.all_gains()
            best = int(np.argmax(np.where(available, values, -np.inf)))
        elif how == "naive":
            rows = np.flatnonzero(available)
            values = np.concatenate([objective.gains(rows[s:s + CHUNK]) for s in range(0, len(rows), CHUNK)])
            best = int(rows[int(np.argmax(values))])
        else:
            best = _lazy_step(objective, heap)
        picks[t] = best
        available[best] = False
        objective.add(best)
    return picks


def _lazy_step(objective, heap: list) -> int:
    """One lazy-greedy pick (Minoux): re-evaluate the row with the highest stale bound; accept it when its
    fresh gain is still at least every other bound, else push it back with the fresh gain."""
    while True:
        _, row = heapq.heappop(heap)
        fresh = float(objective.gains(np.array([row]))[0])
        if not heap or fresh >= -heap[0][0]:
            return row
        heapq.heappush(heap, (-fresh, row))


def stochastic_sample_size(n: int, budget: int, epsilon: float) -> int:
    return max(1, math.ceil(n / max(budget, 1) * math.log(1.0 / epsilon)))


FUNCTIONS = ("facility_location", "graph_cut", "log_determinant")


def objective(function: str, sim: np.ndarray, lam: float = 1.0, ridge: float = 1e-3, capacity: int | None = None):
    if function == "facility_location":
        return FacilityLocation(sim)
    if function == "graph_cut":
        return GraphCut(sim, lam)
    if function == "log_determinant":
        return LogDeterminant(sim, ridge, capacity)
    raise ValueError(f"unknown submodular function {function!r}; known: {', '.join(FUNCTIONS)}")


# ---- registry entries: greedy selection on per-group gradient similarities ----

GREEDY_PARAMS = {
    "greedy": Param.choice("lazy", "greedy optimiser: 'lazy' (DeepCore's default), 'naive' or 'stochastic' "
                                   "(per fraction)", GREEDY),
    "epsilon": Param.number(0.01, "stochastic greedy samples ceil(n / k ln(1 / epsilon)) rows per step "
                                  "(DeepCore: 0.9)", 1e-12, 1),
}
GRAD_SIGNALS = ("snapshot.logits", "snapshot.embedding")
PAPER = "Iyer et al., ALT 2021 (DeepCore's Submodular)"


def greedy_method(name: str, paper: str, parameters: dict | None = None, function: str | None = None,
                  similarity=cosine_similarity, weigh=None, per_fraction: bool = False) -> Method:
    """A method that greedily maximises `function` on `similarity(e, h)` per selection group.

    Lazy/naive greedy rank once per seed (score = minus the position in its group's order; every
    fraction takes a prefix). Stochastic greedy, and per_fraction methods, run at each fraction's
    budgets in the sampler, which reads the snapshot again. weigh(e, h, chosen, params): subset weights.
    """
    function = function or name

    def order(p, e, h, budget, rng):
        objective_ = objective(function, similarity(e, h), p.get("lam", 1.0), p.get("ridge", 1e-3), budget)
        return greedy(objective_, len(e), len(e) if budget is None else budget, p["greedy"], rng, p["epsilon"])

    def score(s, p, seed, plan):
        check_group_size(name, s.labels, p["balanced"], p["max_class"])
        epoch = snapshot_epoch(p, plan)
        if per_fraction:  # every fraction runs its own greedy in the sampler; no ranking here
            return with_epoch(np.zeros(len(s.labels)), epoch)
        logits, h = s.snapshot(epoch, "logits"), s.snapshot(epoch, "embedding")
        parts = [(rows, order(p, *grad_factors(logits, h, rows, s.labels), None, group_rng(seed, name, g)))
                 for g, rows in enumerate(groups(s.labels, p["balanced"]))]
        return with_epoch(order_scores(len(s.labels), parts), epoch)

    def subset(scored, fraction, p, rng, signals):
        labels = scored["label"]
        stochastic = p["greedy"] == "stochastic" or per_fraction
        if not stochastic and weigh is None:
            return prefix(scored, fraction, p), None
        epoch = int(scored["epoch"][0])
        logits, h = signals.snapshot(epoch, "logits"), signals.snapshot(epoch, "embedding")
        if not stochastic:
            rows = prefix(scored, fraction, p)
        picks, weights = [], []
        for rows_g, k in zip(groups(labels, p["balanced"]), group_budgets(labels, p["balanced"], fraction)):
            e, hg = grad_factors(logits, h, rows_g, labels)
            if stochastic:
                chosen = order(p, e, hg, k, rng)
            else:
                chosen = np.flatnonzero(np.isin(rows_g, rows))
                chosen = chosen[np.argsort(-scored["score"][rows_g[chosen]], kind="stable")]
            picks.append(rows_g[chosen])
            if weigh is not None:
                weights.append(weigh(e, hg, chosen, p))
        return np.concatenate(picks), (np.concatenate(weights) if weigh is not None else None)

    return register(Method(
        name=name, score=score, family="gradient", paper=paper, signals=GRAD_SIGNALS,
        parameters={"epoch": epoch_param(), "max_class": MAX_CLASS, **GREEDY_PARAMS, **(parameters or {})},
        subset=subset, subset_reads_signals=True))


greedy_method("facility_location", PAPER)
greedy_method("graph_cut", PAPER, {"lam": Param.number(1.0, "weight lambda of the coverage term", 0, 1e6)})
# the whole order costs O(n^3) per class; a budget k costs O(n k^2)
greedy_method("log_determinant", PAPER, {"ridge": Param.number(
    1e-3, "epsilon added to the kernel's diagonal (Schur-complement gain)", 1e-12, 1e6)}, per_fraction=True)
