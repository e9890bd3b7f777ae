"""Scores from per-epoch training dynamics: Forgetting, AUM, EL2N, GraNd (last layer), Dyn-Unc, DUAL, TDDS.

Every function takes logged arrays with one row per sample and one column per
epoch (or per repeat) and returns one float64 score per sample. Their registry
entries (and CCS's, which stratifies any of these scores) are at the end.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..signals import KL_SHIFT
from . import probabilities, sampling
from .kernels import prefix
from .registry import (
    REPEATS,
    Param,
    compat_param,
    difficulty_files,
    difficulty_method,
    difficulty_params,
    difficulty_problems,
    difficulty_scores,
    epoch_param,
    method,
    min_epochs,
    model_files,
    repeats,
    snapshot_epoch,
    snapshot_files,
)


def forgetting_scores(correct: np.ndarray, never_learned: str = "max") -> np.ndarray:
    """Forgetting events (Toneva et al., ICLR 2019): correct at one presentation, wrong at the next.

    correct: (N, T) 0/1 correctness of each sample at each presentation.
    never_learned: "max" (the paper): samples never classified correctly get T, above
        any possible count, as if forgotten infinitely often; "zero" (DeepCore and CCS
        code): they get 0 and rank last with the unforgettable ones.
    Returns (N,) counts; keep the highest.
    """
    correct = np.asarray(correct)
    if not np.isin(correct, (0, 1)).all():
        raise InputError("forgetting: correctness must be 0 or 1 (was the in-training pass logged?)")
    correct = correct.astype(bool)
    events = (correct[:, :-1] & ~correct[:, 1:]).sum(axis=1).astype(np.float64)
    events[~correct.any(axis=1)] = correct.shape[1] if never_learned == "max" else 0.0
    return events


def aum_scores(margin: np.ndarray) -> np.ndarray:
    """Area under the margin (Pleiss et al., NeurIPS 2020): mean over epochs of z_y - max_{k!=y} z_k.

    margin: (N, T) logit margin of each sample in each epoch's training pass.
    Low (negative) AUM marks hard or mislabeled samples.
    """
    return _by_blocks(lambda m: m.mean(axis=1, dtype=np.float64), margin)


def _error_norms(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """||p - onehot(y)||_2 per row, float64, from logits (probabilities.errors: no cancellation at p_y ~ 1)."""
    return probabilities.by_blocks(lambda z, y: np.linalg.norm(probabilities.errors(z, y), axis=1), logits,
                                   np.asarray(labels))


def el2n_scores(logits: list[np.ndarray], labels: np.ndarray) -> np.ndarray:
    """EL2N (Paul et al., NeurIPS 2021): ||p(x) - onehot(y)||_2 early in training, averaged over runs.

    logits: one (N, C) snapshot per independent proxy run, all at the same epoch.
    Keep the highest.
    """
    return sum(_error_norms(z, labels) for z in logits) / len(logits)


def grand_last_layer_scores(logits: list[np.ndarray], embeddings: list[np.ndarray], labels: np.ndarray) -> np.ndarray:
    """GraNd (Paul et al., NeurIPS 2021), last-layer form, averaged over runs.

    The per-sample gradient of cross-entropy w.r.t. the last linear layer is [e, e (x) h]
    with e = p - onehot(y) and h the penultimate embedding, so its norm factors as
    ||e|| * sqrt(1 + ||h||^2): the C*(d+1) vector is never built.
    logits, embeddings: one (N, C) and one (N, d) snapshot per independent run.
    Keep the highest.
    """
    total = np.zeros(len(labels))
    for z, h in zip(logits, embeddings):
        h_sq = np.einsum("nd,nd->n", np.asarray(h, np.float32), np.asarray(h, np.float32), dtype=np.float64)
        total += _error_norms(z, labels) * np.sqrt(1.0 + h_sq)
    return total / len(logits)


BLOCK = 65536  # rows per block: float64 temporaries stay near 100 MB each for 90-epoch logs


def _by_blocks(score, x: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """Apply a row-wise score to `x` in row blocks, bounding temporary memory for ImageNet-size logs."""
    return np.concatenate([np.zeros(0), *(score(x[start:start + block]) for start in range(0, len(x), block))])


def _window_stats(x: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population std of every length-`window` sliding window of each row: (N, T - window + 1) each.

    Computed from cumulative sums in float64, so the cost is O(N T) whatever the window.
    """
    x = np.asarray(x, dtype=np.float64)
    zero = np.zeros((len(x), 1))
    c1 = np.concatenate([zero, np.cumsum(x, axis=1)], axis=1)
    c2 = np.concatenate([zero, np.cumsum(x * x, axis=1)], axis=1)
    mean = (c1[:, window:] - c1[:, :-window]) / window
    var = (c2[:, window:] - c2[:, :-window]) / window - mean * mean
    return mean, np.sqrt(np.clip(var, 0.0, None))


def dyn_unc_scores(p_true: np.ndarray, window: int = 10) -> np.ndarray:
    """Dynamic uncertainty (He et al., 2023): mean over sliding windows of the std of p_y.

    p_true: (N, T) train-time probability of the given label per epoch; window <= T.
    Keep the highest (most uncertain).
    """
    return _by_blocks(lambda x: _window_stats(x, window)[1].mean(axis=1), p_true)


def dual_scores(p_true: np.ndarray, window: int = 10) -> np.ndarray:
    """DUAL (Cho et al., ICML 2025): mean over sliding windows of std(p_y) * (1 - mean(p_y)).

    p_true: (N, T) train-time p_y over the first T epochs (the paper: T = 30); window <= T.
    Keep the highest when not sampling (see `beta_sample_rows`).
    """
    def score(x):
        mean, std = _window_stats(x, window)
        return (std * (1.0 - mean)).mean(axis=1)
    return _by_blocks(score, p_true)


def tdds_scores(kl_shift: np.ndarray, window: int = 10, decay: float = 0.9) -> np.ndarray:
    """Temporal Dual-Depth Scoring (Zhang et al., CVPR 2024).

    kl_shift: (N, T - 1) per-epoch contributions a_t = sum_c |p_{t+1,c} (log p_{t+1,c} - log p_{t,c})|
        between consecutive train-time softmaxes, for the first T epochs.
    For each window k = 0..T-J of J epochs, v_k = ||a_k..a_{k+J-2} - their mean||_2; the score is
    sum_k decay (1 - decay)^(T-J-k) v_k, which weights later windows most. Keep the highest.
    """
    n_windows = kl_shift.shape[1] - window + 2
    weights = decay * (1.0 - decay) ** (n_windows - 1 - np.arange(n_windows))
    # ||a - mean(a)||_2 over each window's J - 1 contributions is sqrt(J - 1) times their population std
    return _by_blocks(lambda a: _window_stats(a, window - 1)[1] @ weights * np.sqrt(window - 1), kl_shift)


# ---- registry entries ----

@method("forgetting", family="training dynamics", paper="Toneva et al., ICLR 2019", signals=("train.correct",),
        difficulty=True, requires=min_epochs(2),
        parameters={"compat": compat_param("never-learned samples count 0 instead of the maximum")})
def _forgetting(s, p, seed, plan):
    return forgetting_scores(s.train("correct"), "zero" if p["compat"] == "deepcore" else "max")


@method("el2n", family="training dynamics", paper="Paul et al., NeurIPS 2021", signals=("snapshot.logits",),
        difficulty=True, balanced=False, parameters={"epoch": epoch_param(2, repeated=True), "repeats": REPEATS},
        files=lambda p, plan: snapshot_files(p, plan, repeated=True))
def _el2n(s, p, seed, plan):
    epoch = snapshot_epoch(p, plan)
    return el2n_scores([s.snapshot(epoch, "logits", r) for r in range(repeats(p, plan))], s.labels)


@method("grand", difficulty=True, family="gradient", paper="Paul et al., NeurIPS 2021",
        signals=("snapshot.logits", "snapshot.embedding"),
        parameters={"epoch": epoch_param(2, repeated=True), "repeats": REPEATS,
                    "form": Param.choice("last_layer", "'last_layer' (factored [e, e(x)h] norm, DeepCore) or 'full' "
                                                       "(every weight, the paper)", ("last_layer", "full"))},
        files=lambda p, plan: snapshot_files(p, plan, True) + (model_files(p, plan, True) if p["form"] == "full"
                                                                else []))
def _grand(s, p, seed, plan):
    epoch, runs = snapshot_epoch(p, plan), range(repeats(p, plan))
    if p["form"] == "full":
        from .probing import full_gradient_norms, probe
        return np.mean([full_gradient_norms(*probe(s, plan, epoch, r)) for r in runs], axis=0)
    return grand_last_layer_scores([s.snapshot(epoch, "logits", r) for r in runs],
                                   [s.snapshot(epoch, "embedding", r) for r in runs], s.labels)


@method("aum", family="training dynamics", paper="Pleiss et al., NeurIPS 2020", signals=("train.margin",),
        difficulty=True, keep="lowest", balanced=False)
def _aum(s, p, seed, plan):
    return aum_scores(s.train("margin"))


def _window(available, what: str) -> Param:
    """A sliding window J of at least 2 epochs, no longer than the `available(params, plan)` epochs it slides over."""
    def note(p, plan):
        return f" (a window longer than the {what} of {available(p, plan)} epochs cannot slide)"

    return Param.integer(10, "sliding window J in epochs", 2, lambda p, plan: max(available(p, plan), 2), note)


@method("dyn_unc", family="training dynamics", paper="He et al., 2023 (arXiv 2306.05175)", signals=("train.p_true",),
        difficulty=True, balanced=False, parameters={"window": _window(lambda p, plan: plan.epochs, "proxy log")})
def _dyn_unc(s, p, seed, plan):
    return dyn_unc_scores(s.train("p_true"), p["window"])


def _dual_subset(scored, fraction, p, rng, signals):
    if p["sampling"] == "top":
        return prefix(scored, fraction, p), None
    if p["balanced"]:
        return sampling.per_class(lambda rows, k: rows[sampling.beta_sample_rows(
            scored["score"][rows], scored["mean_p_true"][rows], k / len(rows), p["c_d"], rng)], scored["label"],
            fraction), None
    return sampling.beta_sample_rows(scored["score"], scored["mean_p_true"], fraction, p["c_d"], rng), None


@method("dual", family="training dynamics", paper="Cho et al., ICML 2025", signals=("train.p_true",), balanced=False,
        difficulty=True,
        parameters={"epochs": Param.integer(30, "early epochs scored (T)", 2, lambda p, plan: plan.epochs,
                                            " (the early epochs DUAL scores; proxy.epochs)"),
                    "window": _window(lambda p, plan: p["epochs"], "scored trajectory"),
                    "c_d": Param.number(4, "Beta sampling's pruning-ratio exponent", 0, float("inf")),
                    "sampling": Param.choice("beta", "'beta' (the paper) or 'top' (top-k)", ("beta", "top"))},
        subset=_dual_subset)
def _dual(s, p, seed, plan):
    p_true = s.train("p_true")[:, :p["epochs"]]
    return {"score": dual_scores(p_true, p["window"]), "mean_p_true": p_true.mean(axis=1, dtype=np.float64)}


@method("tdds", family="training dynamics", paper="Zhang et al., CVPR 2024", signals=(f"train.{KL_SHIFT}",),
        difficulty=True, balanced=False,
        requires=lambda plan: None if plan.log_kl_shift else
        "needs the per-epoch KL term of the training pass; set proxy.log_kl_shift: true",
        parameters={"epochs": Param.integer(10, "trajectory length T", 3, lambda p, plan: plan.epochs,
                                            " (TDDS's trajectory length T; proxy.epochs)"),
                    "window": Param.integer(10, "window J in epochs", 3, lambda p, plan: p["epochs"],
                                            " (window J <= trajectory length T)"),
                    "decay": Param.number(0.9, "EMA decay beta", 0, 1, closed=True)})
def _tdds(s, p, seed, plan):
    # column t of kl_shift compares epoch t with epoch t - 1; column 0 has no predecessor
    return tdds_scores(s.train(KL_SHIFT)[:, 1:p["epochs"]], p["window"], p["decay"])


@method("ccs", family="training dynamics", paper="Zheng et al., ICLR 2023",
        signals=("a difficulty score (aum by default)",), keep="lowest", balanced=False,
        parameters={**difficulty_params("difficulty score"), **sampling.STRATA_PARAMS},
        files=difficulty_files, check=difficulty_problems,
        subset=lambda scored, fraction, p, rng, signals: (
            sampling.stratified(scored, fraction, p, rng, difficulty_method(p)[1]["keep"]), None))
def _ccs(s, p, seed, plan):
    return difficulty_scores(s, p, seed, plan)[0]
