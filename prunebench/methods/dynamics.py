"""Scores from per-epoch training dynamics: Forgetting, AUM, EL2N, GraNd (last layer), Dyn-Unc, DUAL, TDDS.

Every function takes logged arrays with one row per sample and one column per
epoch (or per repeat) and returns one float64 score per sample.
"""

from __future__ import annotations

import numpy as np

from . import probabilities


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
        raise ValueError("forgetting: correctness must be 0 or 1 (was the in-training pass logged?)")
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
