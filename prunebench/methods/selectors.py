"""Registry entries of the geometry, gradient-matching and submodular methods: the glue that reads their
signals, their defaults, docs and checks. Imported at the end of prunebench.methods (it uses the helpers there).

Greedy methods whose subset is a prefix of one greedy order compute the order once per seed (score =
minus the position within its group, keep 'highest'); stochastic greedy, GradMatch and CRAIG's weights
depend on the budget and run per fraction in their `subset` sampler, which reads the snapshot again.
"""

from __future__ import annotations

import numpy as np

from ..budgets import class_budgets, total_budget
from . import (
    COMPAT_DOC,
    EPOCH_DOC,
    Method,
    ProxyPlan,
    _check_compat,
    _check_epoch,
    _int_in,
    _number_in,
    _one_of,
    _snapshot_epoch,
    _snapshots,
    geometry,
    gradients,
    submodular,
)
from .kernels import (
    check_group_size,
    cosine_similarity,
    errors,
    group_rng,
    groups,
    mean_gradient,
    order_scores,
)

MAX_CLASS = 16_384  # an n x n float32 similarity of 1 GiB
SIZE_DOC = "largest selection group (a class, or the pool when not balanced) the n x n similarity may take"
GREEDY_DOC = "greedy optimiser: 'lazy' (DeepCore's default), 'naive' or 'stochastic' (per fraction)"
EPSILON_DOC = "stochastic greedy samples ceil(n / k ln(1 / epsilon)) rows per step (DeepCore: 0.9)"
GREEDY_DEFAULTS = {"greedy": "lazy", "epsilon": 0.01}
GRAD_SIGNALS = ("snapshot.logits", "snapshot.embedding")


def _epoch(p: dict, plan: ProxyPlan) -> int:
    return _snapshot_epoch(p, plan)


def _embedding(s, p, plan, role="pool") -> np.ndarray:
    return s.snapshot(_epoch(p, plan), "embedding", role=role)


def _with_epoch(scores: np.ndarray, p: dict, plan: ProxyPlan) -> dict:
    """The score column plus the snapshot epoch read, which a per-fraction sampler reads again."""
    return {"score": scores, "epoch": np.full(len(scores), float(_epoch(p, plan)))}


def _check_size(name: str, s, p: dict) -> None:
    check_group_size(name, s.labels, p["balanced"], p["max_class"])


# ---- geometry ----

def _herding(s, p, seed, plan):
    _check_size("herding", s, p)
    h = _embedding(s, p, plan)
    parts = [(rows, geometry.herding_order(h[rows], farthest=p["compat"] == "deepcore"))
             for rows in groups(s.labels, p["balanced"])]
    return order_scores(len(s.labels), parts)


def _kcenter(s, p, seed, plan):
    _check_size("kcenter", s, p)
    h = _embedding(s, p, plan)
    parts = [(rows, geometry.kcenter_order(h[rows], int(group_rng(seed, "kcenter", g).integers(len(rows)))))
             for g, rows in enumerate(groups(s.labels, p["balanced"]))]
    return order_scores(len(s.labels), parts)


def _moderate(s, p, seed, plan):
    return geometry.moderate_scores(_embedding(s, p, plan), s.labels, groups(s.labels, p["balanced"]))


def _cal(s, p, seed, plan):
    epoch = _epoch(p, plan)
    h, z = s.snapshot(epoch, "embedding"), s.snapshot(epoch, "logits")
    scores = np.zeros(len(s.labels))
    for rows in groups(s.labels, p["balanced"]):
        scores[rows] = geometry.cal_scores(h[rows], z[rows], p["neighbors"])
    return -scores if p["compat"] == "deepcore" else scores


def _contextual_diversity(s, p, seed, plan):
    z = s.snapshot(_epoch(p, plan), "logits")
    parts = [(rows, geometry.contextual_diversity_order(
        z[rows], int(group_rng(seed, "contextual_diversity", g).integers(len(rows)))))
        for g, rows in enumerate(groups(s.labels, p["balanced"]))]
    return order_scores(len(s.labels), parts)


D2_BASES = ("aum", "forgetting", "el2n", "grand", "dyn_unc", "dual", "tdds", "entropy", "least_confidence", "cld")


def _d2_base(p: dict):
    from . import REGISTRY
    base = REGISTRY[p["score"]]
    return base, base.params(p["score_params"])


def _check_d2(p, plan):
    found = (_check_epoch("d2_pruning", p, plan) or _one_of("d2_pruning", p, "score", D2_BASES)
             or _int_in("d2_pruning", p, "neighbors", 1, 1000)
             or _number_in("d2_pruning", p, "gamma_forward", 0, float("inf"))
             or _number_in("d2_pruning", p, "gamma_reverse", 0, float("inf"))
             or _one_of("d2_pruning", p, "kernel", ("code", "paper"))
             or _number_in("d2_pruning", p, "cutoff", 0, 1))
    if found:
        return found
    base, base_params = _d2_base(p)
    return [f"d2_pruning: score={p['score']}: {line}" for line in base.problems(base_params, plan)]


def _d2_files(p, plan):
    base, base_params = _d2_base(p)
    return sorted(set(_snapshots(p, plan)) | set(base.proxy_files(base_params, plan)))


def _d2(s, p, seed, plan):
    base, base_params = _d2_base(p)
    scored = base.score(s, base_params, seed, plan)
    base_scores = np.asarray(scored["score"] if isinstance(scored, dict) else scored, np.float64)
    difficulty = base_scores if base_params["keep"] == "highest" else -base_scores
    h = _embedding(s, p, plan)
    parts = [(rows, geometry.d2_order(h[rows], difficulty[rows], p["neighbors"], p["gamma_forward"],
                                      p["gamma_reverse"], p["kernel"], p["cutoff"]))
             for rows in groups(s.labels, p["balanced"])]
    return order_scores(len(s.labels), parts)


# ---- gradient embeddings and submodular functions ----

def _grad_factors(signals, epoch: int, rows: np.ndarray, labels: np.ndarray, logits=None, h=None):
    logits = signals.snapshot(epoch, "logits") if logits is None else logits
    h = signals.snapshot(epoch, "embedding") if h is None else h
    return errors(logits[rows], labels[rows]), np.asarray(h[rows], np.float32)


def _group_budgets(labels: np.ndarray, balanced: bool, fraction: float) -> list[int]:
    if not balanced:
        return [total_budget(len(labels), fraction)]
    _, counts = np.unique(labels, return_counts=True)
    return [int(k) for k in class_budgets(counts, fraction)]


def _submodular_order(function: str, p: dict):
    def order(e, h, budget, rng):
        sim = gradients.craig_similarity(e, h) if function == "craig" else cosine_similarity(e, h)
        kind = "facility_location" if function == "craig" else function
        capacity = None if budget is None else budget
        objective = submodular.objective(kind, sim, p.get("lam", 1.0), p.get("ridge", 1e-3), capacity)
        return submodular.greedy(objective, len(e), len(e) if budget is None else budget, p["greedy"], rng,
                                 p["epsilon"])
    return order


def _greedy_score(name: str, function: str, per_fraction: bool = False):
    def score(s, p, seed, plan):
        _check_size(name, s, p)
        if per_fraction:  # every fraction runs its own greedy in the sampler; no ranking here
            return _with_epoch(np.zeros(len(s.labels)), p, plan)
        epoch = _epoch(p, plan)
        logits, h = s.snapshot(epoch, "logits"), s.snapshot(epoch, "embedding")
        order = _submodular_order(function, p)
        parts = [(rows, order(*_grad_factors(s, epoch, rows, s.labels, logits, h), None, group_rng(seed, name, g)))
                 for g, rows in enumerate(groups(s.labels, p["balanced"]))]
        return _with_epoch(order_scores(len(s.labels), parts), p, plan)
    return score


def _prefix(scored, fraction, p) -> np.ndarray:
    from ..selection import select_rows
    return select_rows(scored["score"], scored["label"], scored["index"], fraction, p["keep"], p["balanced"])


def _greedy_subset(name: str, function: str, weighted: bool = False, per_fraction: bool = False):
    """Lazy/naive greedy: the prefix of the scored order. Stochastic greedy (and per_fraction methods): a fresh
    run at this fraction's budgets. CRAIG: plus its cluster-size weights."""
    def subset(scored, fraction, p, rng, signals):
        labels = scored["label"]
        stochastic = p["greedy"] == "stochastic" or per_fraction
        if not stochastic and not weighted:
            return _prefix(scored, fraction, p), None
        epoch = int(scored["epoch"][0])
        logits, h = signals.snapshot(epoch, "logits"), signals.snapshot(epoch, "embedding")
        if not stochastic:
            rows = _prefix(scored, fraction, p)
        order = _submodular_order(function, p)
        picks, weights = [], []
        for rows_g, k in zip(groups(labels, p["balanced"]), _group_budgets(labels, p["balanced"], fraction)):
            e, hg = _grad_factors(signals, epoch, rows_g, labels, logits, h)
            if stochastic:
                chosen = order(e, hg, k, rng)
            else:
                chosen = np.flatnonzero(np.isin(rows_g, rows))
                chosen = chosen[np.argsort(-scored["score"][rows_g[chosen]], kind="stable")]
            picks.append(rows_g[chosen])
            if weighted:
                weights.append(gradients.craig_weights(e, hg, chosen, plus_one=p["compat"] == "deepcore"))
        return np.concatenate(picks), (np.concatenate(weights) if weighted else None)
    return subset


def _check_greedy(name: str, extra=None):
    def check(p, plan):
        found = (_check_epoch(name, p, plan) or _int_in(name, p, "max_class", 2, 10_000_000)
                 or _one_of(name, p, "greedy", submodular.GREEDY) or _number_in(name, p, "epsilon", 1e-12, 1))
        return found or (extra(p) if extra else [])
    return check


def _gradmatch_target(signals, p, epoch, label_value):
    """None (the group's own mean gradient) or the mean gradient of the class's query rows."""
    if p["target"] != "query":
        return None
    query = np.flatnonzero(signals.query_labels == label_value) if p["balanced"] else \
        np.arange(len(signals.query_labels))
    if len(query) == 0:
        raise ValueError(f"gradmatch: class {label_value} has no query rows for target='query'")
    q_logits, q_h = signals.snapshot(epoch, "logits", role="query"), signals.snapshot(epoch, "embedding", role="query")
    return mean_gradient(errors(q_logits[query], signals.query_labels[query]), np.asarray(q_h[query], np.float32))


def _gradmatch(s, p, seed, plan):
    _check_size("gradmatch", s, p)
    epoch = _epoch(p, plan)
    logits, h = s.snapshot(epoch, "logits"), s.snapshot(epoch, "embedding")
    scores = np.zeros(len(s.labels))
    for rows in groups(s.labels, p["balanced"]):
        e, hg = _grad_factors(s, epoch, rows, s.labels, logits, h)
        target = _gradmatch_target(s, p, epoch, s.labels[rows[0]])
        bias, weight = mean_gradient(e, hg) if target is None else target
        scores[rows] = gradients.dot_gradient(e, hg, bias, weight)  # OMP's first-pick criterion
    return _with_epoch(scores, p, plan)


def _gradmatch_subset(scored, fraction, p, rng, signals):
    labels = scored["label"]
    epoch = int(scored["epoch"][0])
    logits, h = signals.snapshot(epoch, "logits"), signals.snapshot(epoch, "embedding")
    picks, weights = [], []
    for rows_g, k in zip(groups(labels, p["balanced"]), _group_budgets(labels, p["balanced"], fraction)):
        e, hg = _grad_factors(signals, epoch, rows_g, labels, logits, h)
        target = _gradmatch_target(signals, p, epoch, labels[rows_g[0]])
        chosen, w = gradients.gradmatch_subset(e, hg, k, rng, p["ridge"], target)
        picks.append(rows_g[chosen])
        weights.append(w)
    return np.concatenate(picks), np.concatenate(weights)


def _glister_orders(s, p, seed, plan, budgets=None, rng=None):
    epoch = _epoch(p, plan) if plan is not None else p["_epoch"]
    logits, h = s.snapshot(epoch, "logits"), s.snapshot(epoch, "embedding")
    deepcore = p["compat"] == "deepcore"
    if not deepcore:
        q_logits, q_h = s.snapshot(epoch, "logits", role="query"), s.snapshot(epoch, "embedding", role="query")
    out = []
    for g, rows in enumerate(groups(s.labels, p["balanced"])):
        e, hg = _grad_factors(s, epoch, rows, s.labels, logits, h)
        if deepcore:  # DeepCore: the training rows are the validation set, and the update is never applied
            val = (logits[rows], s.labels[rows], hg)
        else:
            query = np.flatnonzero(s.query_labels == s.labels[rows[0]]) if p["balanced"] else \
                np.arange(len(s.query_labels))
            if len(query) == 0:
                raise ValueError(f"glister: class {s.labels[rows[0]]} has no query rows to validate on")
            val = (q_logits[query], s.query_labels[query], np.asarray(q_h[query], np.float32))
        budget = None if budgets is None else budgets[g]
        order = gradients.glister_order(e, hg, *val, budget=budget, how=p["greedy"],
                                        rng=rng if rng is not None else group_rng(seed, "glister", g),
                                        epsilon=p["epsilon"], eta=p["eta"], update=not deepcore)
        out.append((rows, order))
    return out


def _glister(s, p, seed, plan):
    return _with_epoch(order_scores(len(s.labels), _glister_orders(s, p, seed, plan)), p, plan)


def _glister_subset(scored, fraction, p, rng, signals):
    if p["greedy"] != "stochastic" or p["compat"] == "deepcore":
        return _prefix(scored, fraction, p), None
    budgets = _group_budgets(scored["label"], p["balanced"], fraction)
    parts = _glister_orders(signals, {**p, "_epoch": int(scored["epoch"][0])}, 0, None, budgets, rng)
    return np.concatenate([rows[order] for rows, order in parts]), None


def _snapshot_files(p, plan):
    return _snapshots(p, plan)


SUBMODULAR_PAPER = "Iyer et al., ALT 2021 (DeepCore's Submodular)"


def _submodular_method(name: str, paper: str, extra_defaults: dict, extra_docs: dict, extra_check=None,
                       function: str | None = None, weighted: bool = False, compat_doc: str | None = None,
                       per_fraction: bool = False):
    defaults = {"epoch": None, "max_class": MAX_CLASS, **GREEDY_DEFAULTS, **extra_defaults}
    docs = {"epoch": EPOCH_DOC, "max_class": SIZE_DOC, "greedy": GREEDY_DOC, "epsilon": EPSILON_DOC, **extra_docs}
    if compat_doc:
        defaults["compat"] = None
        docs["compat"] = compat_doc
        base_check = extra_check
        extra_check = lambda p: _check_compat(name, p) or (base_check(p) if base_check else [])
    function = function or name
    return Method(name, "gradient", paper, GRAD_SIGNALS, "highest", True,
                  _greedy_score(name, function, per_fraction), defaults=defaults, docs=docs, files=_snapshot_files,
                  check=_check_greedy(name, extra_check), subset=_greedy_subset(name, function, weighted, per_fraction),
                  subset_reads_signals=True)


EMB = ("snapshot.embedding",)

METHODS = [
    Method("herding", "geometry", "Welling, ICML 2009 (DeepCore)", EMB, "highest", True, _herding,
           defaults={"epoch": None, "max_class": MAX_CLASS, "compat": None},
           docs={"epoch": EPOCH_DOC, "max_class": SIZE_DOC,
                 "compat": COMPAT_DOC + ": pick the farthest point from the herding target (argmax)"},
           files=_snapshot_files,
           check=lambda p, plan: _check_epoch("herding", p, plan) or _int_in("herding", p, "max_class", 2, 10_000_000)
           or _check_compat("herding", p)),
    Method("kcenter", "geometry", "Sener & Savarese, ICLR 2018", EMB, "highest", True, _kcenter,
           defaults={"epoch": None, "max_class": MAX_CLASS}, docs={"epoch": EPOCH_DOC, "max_class": SIZE_DOC},
           files=_snapshot_files,
           check=lambda p, plan: _check_epoch("kcenter", p, plan) or _int_in("kcenter", p, "max_class", 2, 10_000_000)),
    Method("moderate", "geometry", "Xia et al., ICLR 2023", EMB, "highest", False, _moderate,
           defaults={"epoch": None}, docs={"epoch": EPOCH_DOC}, files=_snapshot_files,
           check=lambda p, plan: _check_epoch("moderate", p, plan)),
    Method("d2_pruning", "geometry", "Maharana et al., ICLR 2024", ("snapshot.embedding", "a difficulty score"),
           "highest", True, _d2,
           defaults={"epoch": None, "score": "aum", "score_params": {}, "neighbors": 5, "gamma_forward": 1.0,
                     "gamma_reverse": 0.1, "kernel": "code", "cutoff": 0.0},
           docs={"epoch": EPOCH_DOC, "score": "difficulty score (its preferred end = hard): " + ", ".join(D2_BASES),
                 "score_params": "that score's parameters", "neighbors": "k of the kNN graph (D2's README: 5)",
                 "gamma_forward": "forward message weight exp(-gamma d) (code) or exp(-gamma d^2) (paper)",
                 "gamma_reverse": "reverse suppression weight, same kernel (README: 0.1)",
                 "kernel": "'code' (exp(-gamma d), the released code) or 'paper' (exp(-gamma d^2))",
                 "cutoff": "hardest share dropped before the graph (D2's mis-ratio; README CIFAR recipe 0.4)"},
           files=_d2_files, check=_check_d2),
    Method("cal", "geometry", "Margatina et al., EMNLP 2021 (DeepCore); kNN in the proxy's embedding space",
           ("snapshot.embedding", "snapshot.logits"), "highest", True, _cal,
           defaults={"epoch": None, "neighbors": 10, "compat": None},
           docs={"epoch": EPOCH_DOC, "neighbors": "nearest neighbours in the proxy's embedding space (no pretrained "
                                                   "model here)",
                 "compat": COMPAT_DOC + ": keep the lowest divergence (DeepCore's ascending sort)"},
           files=_snapshot_files,
           check=lambda p, plan: _check_epoch("cal", p, plan) or _int_in("cal", p, "neighbors", 1, 1000)
           or _check_compat("cal", p)),
    Method("contextual_diversity", "geometry", "Agarwal et al., ECCV 2020 (DeepCore)", ("snapshot.logits",),
           "highest", True, _contextual_diversity, defaults={"epoch": None}, docs={"epoch": EPOCH_DOC},
           files=_snapshot_files, check=lambda p, plan: _check_epoch("contextual_diversity", p, plan)),
    _submodular_method("craig", "Mirzasoleiman et al., ICML 2020 (DeepCore)", {}, {}, function="craig",
                       weighted=True,
                       compat_doc=COMPAT_DOC + ": weight = 1 + cluster size (DeepCore's off-by-one)"),
    Method("gradmatch", "gradient", "Killamsetty et al., ICML 2021 (DeepCore one-shot)", GRAD_SIGNALS, "highest",
           True, _gradmatch,
           defaults={"epoch": None, "max_class": MAX_CLASS, "ridge": 1.0, "target": "train"},
           docs={"epoch": EPOCH_DOC, "max_class": SIZE_DOC, "ridge": "lambda of the ridge term (DeepCore: 1.0)",
                 "target": "'train' (the class's mean pool gradient, DeepCore) or 'query' (its query-set mean)"},
           files=_snapshot_files, subset=_gradmatch_subset, subset_reads_signals=True,
           check=lambda p, plan: _check_epoch("gradmatch", p, plan)
           or _int_in("gradmatch", p, "max_class", 2, 10_000_000) or _number_in("gradmatch", p, "ridge", 1e-12, 1e12)
           or _one_of("gradmatch", p, "target", ("train", "query"))),
    Method("glister", "gradient", "Killamsetty et al., AAAI 2021 (DeepCore one-shot)",
           GRAD_SIGNALS + ("query snapshot.logits", "query snapshot.embedding"), "highest", True, _glister,
           defaults={"epoch": None, **GREEDY_DEFAULTS, "eta": 0.1, "compat": None},
           docs={"epoch": EPOCH_DOC, "greedy": GREEDY_DOC, "epsilon": EPSILON_DOC,
                 "eta": "step of the one-step last-layer update (DeepCore: the lr, 0.1)",
                 "compat": COMPAT_DOC + ": no update, pool as validation set (a static top-k)"},
           files=_snapshot_files, subset=_glister_subset, subset_reads_signals=True,
           check=lambda p, plan: _check_epoch("glister", p, plan) or _one_of("glister", p, "greedy", submodular.GREEDY)
           or _number_in("glister", p, "epsilon", 1e-12, 1) or _number_in("glister", p, "eta", 0, 1e6)
           or _check_compat("glister", p)),
    _submodular_method("facility_location", SUBMODULAR_PAPER, {}, {}),
    _submodular_method("graph_cut", SUBMODULAR_PAPER, {"lam": 1.0}, {"lam": "weight lambda of the coverage term"},
                       extra_check=lambda p: _number_in("graph_cut", p, "lam", 0, 1e6)),
    _submodular_method("log_determinant", SUBMODULAR_PAPER, {"ridge": 1e-3},
                       {"ridge": "epsilon added to the kernel's diagonal (Schur-complement gain)"},
                       extra_check=lambda p: _number_in("log_determinant", p, "ridge", 1e-12, 1e6),
                       per_fraction=True),  # the whole order costs O(n^3) per class; a budget k costs O(n k^2)
]
