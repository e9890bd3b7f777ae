"""Geometry methods on the proxy's penultimate embeddings and softmax outputs: Herding, k-Center
Greedy, Moderate-DS, Cal, Contextual Diversity and D2-Pruning.

Each works inside one selection group (a class, or the whole pool when not balanced) on arrays
with one row per sample. Greedy ones return the group's rows in greedy order (a prefix of it is
the subset at every budget); the rest return one score per row.
"""

from __future__ import annotations

import numpy as np

from . import probabilities
from .kernels import (
    MAX_CLASS,
    as_f32,
    check_group_size,
    group_rng,
    groups,
    knn,
    order_scores,
    single_blas_thread,
)
from .registry import (
    Param,
    compat_param,
    difficulty_files,
    difficulty_params,
    difficulty_problems,
    difficulty_scores,
    epoch_param,
    method,
    snapshot_epoch,
    snapshot_files,
)

PROB_FLOOR = 1e-12  # probabilities are clamped here before logs (DeepCore's Cal and CD can produce inf/NaN)


def herding_order(h: np.ndarray, budget: int | None = None, farthest: bool = False) -> np.ndarray:
    """Kernel herding (Welling 2009) in embedding space: step t picks
    argmin_x ||(t + 1) mu - sum_{j in S} h_j - h_x||, so the running mean of S tracks the group mean mu.

    farthest: DeepCore's argmax of that distance (its herding.py), which moves away from the mean.
    Uses the n x n Gram matrix, so every step is O(n).
    """
    h = as_f32(h)
    n = len(h)
    budget = n if budget is None else min(budget, n)
    gram = h @ h.T
    sq = np.einsum("nd,nd->n", h, h, dtype=np.float64)
    h_mu = gram.mean(axis=1, dtype=np.float64)  # <h_x, mu>
    taken_sum = np.zeros(n)  # <h_x, sum_{j in S} h_j>
    order = np.empty(budget, np.int64)
    blocked = np.inf if not farthest else -np.inf
    chosen = np.zeros(n, bool)
    with single_blas_thread():
        _herd(order, sq, h_mu, taken_sum, gram, chosen, blocked, farthest)
    return order


def _herd(order, sq, h_mu, taken_sum, gram, chosen, blocked, farthest):
    for t in range(len(order)):
        # ||r - h_x||^2 = ||r||^2 - 2 <r, h_x> + ||h_x||^2 with r = (t + 1) mu - sum_S h_j; ||r|| is the same for all x
        value = sq - 2.0 * ((t + 1) * h_mu - taken_sum)
        value[chosen] = blocked
        j = int(np.argmax(value) if farthest else np.argmin(value))
        order[t] = j
        chosen[j] = True
        taken_sum += gram[j]


def kcenter_order(h: np.ndarray, first: int, budget: int | None = None) -> np.ndarray:
    """k-Center Greedy (Sener & Savarese, ICLR 2018): farthest-first traversal from row `first`, each
    pick argmax_i min_{j in S} ||h_i - h_j||_2; every prefix covers the group within twice the
    optimal radius of its size. Uses the n x n Gram matrix, so every step is O(n)."""
    h = as_f32(h)
    n = len(h)
    budget = n if budget is None else min(budget, n)
    gram = h @ h.T
    sq = np.einsum("nd,nd->n", h, h).astype(np.float32)
    order = np.empty(budget, np.int64)
    if budget == 0:
        return order
    nearest = np.full(n, np.inf, np.float32)  # squared distance to the closest pick
    j = first
    for t in range(budget):
        order[t] = j
        dist = sq + sq[j] - 2.0 * gram[j]
        np.minimum(nearest, np.maximum(dist, 0.0), out=nearest)
        nearest[order[:t + 1]] = -1.0
        j = int(np.argmax(nearest))
    return order


def covering_radius(h: np.ndarray, chosen: np.ndarray) -> float:
    """max_i min_{j in chosen} ||h_i - h_j||_2."""
    h = np.asarray(h, np.float64)
    d = ((h[:, None, :] - h[None, chosen, :]) ** 2).sum(-1)
    return float(np.sqrt(d.min(axis=1).max()))


def moderate_scores(h: np.ndarray, labels: np.ndarray, group_rows: list[np.ndarray]) -> np.ndarray:
    """Moderate-DS (Xia et al., ICLR 2023): d_i = ||h_i - median of its class||_2, then the middle band.

    The score is minus the distance of a row's rank from the middle rank of its group (by d, ties to
    the lower row), so the top k of a group are exactly its ranks [(n - k) / 2, (n + k) / 2): the
    closest and the farthest (1 - f) / 2 are dropped. One group (not balanced, the paper) makes the
    band global over class-relative distances.
    """
    dist = np.empty(len(h))
    for rows in groups(labels, True):  # one class at a time: no float32 copy of the whole pool
        x = as_f32(h[rows])
        dist[rows] = np.linalg.norm(x - np.median(x, axis=0), axis=1)
    scores = np.empty(len(h))
    for rows in group_rows:
        n = len(rows)
        rank = np.empty(n, np.int64)
        rank[np.argsort(dist[rows], kind="stable")] = np.arange(n)
        twice_off = np.abs(2 * rank - (n - 1))  # 2 |rank - (n - 1) / 2|, an integer
        scores[rows] = -(2 * twice_off + (2 * rank > n - 1))  # below the middle first on a tie
    return scores


def _clamped(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.maximum(probabilities.softmax(logits, np.float32), PROB_FLOOR)
    return p, np.log(p)


def symmetric_kl_rows(p_a, log_a, p_b, log_b) -> np.ndarray:
    """0.5 KL(a || b) + 0.5 KL(b || a) row by row: 0.5 sum (p_a - p_b)(log p_a - log p_b)."""
    return 0.5 * np.einsum("...c,...c->...", p_a - p_b, log_a - log_b)


def cal_scores(h: np.ndarray, logits: np.ndarray, neighbours: int = 10, block: int = 1024) -> np.ndarray:
    """Cal / CAL (Margatina et al., EMNLP 2021): mean symmetric KL between a row's softmax and those of its
    `neighbours` nearest rows in embedding space (the group is the neighbourhood pool). Keep the highest
    (the paper's most contrastive); DeepCore keeps the lowest."""
    nbrs, _ = knn(as_f32(h), neighbours)
    p, log_p = _clamped(logits)
    out = np.zeros(len(p))
    if nbrs.shape[1] == 0:
        return out
    for start in range(0, len(p), block):
        rows = slice(start, start + block)
        nb = nbrs[rows]
        out[rows] = symmetric_kl_rows(p[rows, None, :], log_p[rows, None, :], p[nb], log_p[nb]).mean(axis=1)
    return out


def contextual_diversity_order(logits: np.ndarray, first: int, budget: int | None = None) -> np.ndarray:
    """Contextual Diversity as DeepCore implements it (Agarwal et al., ECCV 2020): k-center greedy from row
    `first` with the symmetric KL divergence between softmax outputs as the distance. O(n C) per pick,
    O(n C) memory."""
    p, log_p = _clamped(logits)
    n = len(p)
    budget = n if budget is None else min(budget, n)
    neg_entropy = np.einsum("nc,nc->n", p, log_p)
    nearest = np.full(n, np.inf, np.float32)
    order = np.empty(budget, np.int64)
    j = first
    with single_blas_thread():
        for t in range(budget):
            order[t] = j
            dist = 0.5 * (neg_entropy + neg_entropy[j] - p @ log_p[j] - log_p @ p[j])
            np.minimum(nearest, np.maximum(dist, 0.0), out=nearest)
            nearest[order[:t + 1]] = -1.0
            j = int(np.argmax(nearest))
    return order


def d2_order(h: np.ndarray, difficulty: np.ndarray, neighbours: int = 5, gamma_forward: float = 1.0,
             gamma_reverse: float = 0.1, kernel: str = "code", cutoff: float = 0.0) -> np.ndarray:
    """D2-Pruning (Maharana et al., ICLR 2024): message passing on the kNN graph, then greedy picks with
    reverse suppression. Returns every row of the group in pick order.

    difficulty: higher = harder/more important; shifted to be >= 0 and clipped at 1e-7 (as the code does).
    cutoff: the hardest share is dropped before the graph is built (D2's mis-ratio, like CCS); dropped
        rows come last, least hard first, so a budget larger than the rest still fills.
    kernel: 'code' weighs an edge of length d by exp(-gamma d) (the released code; forward gamma 1),
        'paper' by exp(-gamma d^2).
    Forward: score_i = s_i + sum_{j in kNN(i)} w_f(d_ij) s_j (one round, graph mode 'sum').
    Reverse: pick argmax score; each of the pick's kNN neighbours j loses w_r(d) * score_pick.
    """
    h = as_f32(h)
    n = len(h)
    s = np.asarray(difficulty, np.float64)
    s = np.maximum(s - s.min(initial=0.0), 1e-7) if n else s
    dropped_count = int(cutoff * n)
    by_hardness = np.lexsort((np.arange(n), -s))  # hardest first, ties to the lower row
    dropped, kept = by_hardness[:dropped_count], np.sort(by_hardness[dropped_count:])
    nbrs, dist = knn(h[kept], neighbours)
    dist = dist.astype(np.float64)
    weight = (lambda g: np.exp(-g * dist)) if kernel == "code" else (lambda g: np.exp(-g * dist * dist))
    sk = s[kept]
    score = sk + (weight(gamma_forward) * sk[nbrs]).sum(axis=1) if nbrs.shape[1] else sk.copy()
    w_rev = weight(gamma_reverse)
    order = np.empty(len(kept), np.int64)
    for t in range(len(kept)):
        i = int(np.argmax(score))
        order[t] = i
        score[nbrs[i]] -= w_rev[i] * score[i]  # already picked rows stay at -inf
        score[i] = -np.inf
    return np.concatenate([kept[order], dropped[::-1]])


# ---- registry entries ----

EMB = ("snapshot.embedding",)


def _embedding(s, p, plan) -> np.ndarray:
    return s.snapshot(snapshot_epoch(p, plan), "embedding")


@method("herding", family="geometry", paper="Welling, ICML 2009 (DeepCore)", signals=EMB,
        parameters={"epoch": epoch_param(), "max_class": MAX_CLASS,
                    "compat": compat_param("pick the farthest point from the herding target (argmax)")})
def _herding(s, p, seed, plan):
    check_group_size("herding", s.labels, p["balanced"], p["max_class"])
    h = _embedding(s, p, plan)
    parts = [(rows, herding_order(h[rows], farthest=p["compat"] == "deepcore"))
             for rows in groups(s.labels, p["balanced"])]
    return order_scores(len(s.labels), parts)


@method("kcenter", family="geometry", paper="Sener & Savarese, ICLR 2018", signals=EMB,
        parameters={"epoch": epoch_param(), "max_class": MAX_CLASS})
def _kcenter(s, p, seed, plan):
    check_group_size("kcenter", s.labels, p["balanced"], p["max_class"])
    h = _embedding(s, p, plan)
    parts = [(rows, kcenter_order(h[rows], int(group_rng(seed, "kcenter", g).integers(len(rows)))))
             for g, rows in enumerate(groups(s.labels, p["balanced"]))]
    return order_scores(len(s.labels), parts)


@method("moderate", family="geometry", paper="Xia et al., ICLR 2023", signals=EMB, balanced=False,
        parameters={"epoch": epoch_param()})
def _moderate(s, p, seed, plan):
    return moderate_scores(_embedding(s, p, plan), s.labels, groups(s.labels, p["balanced"]))


@method("d2_pruning", family="geometry", paper="Maharana et al., ICLR 2024",
        signals=("snapshot.embedding", "a difficulty score"),
        parameters={"epoch": epoch_param(), **difficulty_params("difficulty score (its preferred end = hard)"),
                    "neighbors": Param.integer(5, "k of the kNN graph (D2's README: 5)", 1, 1000),
                    "gamma_forward": Param.number(1.0, "forward message weight exp(-gamma d) (code) or exp(-gamma d^2) "
                                                       "(paper)", 0, float("inf")),
                    "gamma_reverse": Param.number(0.1, "reverse suppression weight, same kernel (README: 0.1)", 0,
                                                  float("inf")),
                    "kernel": Param.choice("code", "'code' (exp(-gamma d), the released code) or 'paper' "
                                                   "(exp(-gamma d^2))", ("code", "paper")),
                    "cutoff": Param.number(0.0, "hardest share dropped before the graph (D2's mis-ratio; README CIFAR "
                                                "recipe 0.4)", 0, 1)},
        files=lambda p, plan: sorted(set(snapshot_files(p, plan)) | set(difficulty_files(p, plan))),
        check=difficulty_problems)
def _d2(s, p, seed, plan):
    base_scores, base_keep = difficulty_scores(s, p, seed, plan)
    difficulty = base_scores if base_keep == "highest" else -base_scores
    h = _embedding(s, p, plan)
    parts = [(rows, d2_order(h[rows], difficulty[rows], p["neighbors"], p["gamma_forward"], p["gamma_reverse"],
                             p["kernel"], p["cutoff"]))
             for rows in groups(s.labels, p["balanced"])]
    return order_scores(len(s.labels), parts)


@method("cal", family="geometry", paper="Margatina et al., EMNLP 2021 (DeepCore); kNN in the proxy's embedding space",
        signals=("snapshot.embedding", "snapshot.logits"),
        parameters={"epoch": epoch_param(),
                    "neighbors": Param.integer(10, "nearest neighbours in the proxy's embedding space (no pretrained "
                                                   "model here)", 1, 1000),
                    "compat": compat_param("keep the lowest divergence (DeepCore's ascending sort)")})
def _cal(s, p, seed, plan):
    epoch = snapshot_epoch(p, plan)
    h, z = s.snapshot(epoch, "embedding"), s.snapshot(epoch, "logits")
    scores = np.zeros(len(s.labels))
    for rows in groups(s.labels, p["balanced"]):
        scores[rows] = cal_scores(h[rows], z[rows], p["neighbors"])
    return -scores if p["compat"] == "deepcore" else scores


@method("contextual_diversity", family="geometry", paper="Agarwal et al., ECCV 2020 (DeepCore)",
        signals=("snapshot.logits",), parameters={"epoch": epoch_param()})
def _contextual_diversity(s, p, seed, plan):
    z = s.snapshot(snapshot_epoch(p, plan), "logits")
    parts = [(rows, contextual_diversity_order(z[rows], int(group_rng(seed, "contextual_diversity", g).integers(
        len(rows))))) for g, rows in enumerate(groups(s.labels, p["balanced"]))]
    return order_scores(len(s.labels), parts)
