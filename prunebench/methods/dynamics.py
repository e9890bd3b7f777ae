"""Scores from per-epoch training dynamics: Forgetting, AUM, EL2N."""

from __future__ import annotations

import numpy as np


def forgetting_scores(correct: np.ndarray) -> np.ndarray:
    """Forgetting events (Toneva et al., ICLR 2019): correct at one presentation, wrong at the next.

    correct: (N, T) 0/1 correctness of each sample at each presentation.
    Samples never classified correctly get T, above any possible count (the
    paper ranks them as forgotten infinitely often); DeepCore gives them 0.
    Returns (N,) counts; keep the highest.
    """
    correct = np.asarray(correct)
    if not np.isin(correct, (0, 1)).all():
        raise ValueError("forgetting: correctness must be 0 or 1 (was the in-training pass logged?)")
    correct = correct.astype(bool)
    events = (correct[:, :-1] & ~correct[:, 1:]).sum(axis=1).astype(np.float64)
    events[~correct.any(axis=1)] = correct.shape[1]
    return events


def aum_scores(margin: np.ndarray) -> np.ndarray:
    """Area under the margin (Pleiss et al., NeurIPS 2020): mean over epochs of z_y - max_{k!=y} z_k.

    margin: (N, T) logit margin of each sample in each epoch's training pass.
    Low (negative) AUM marks hard or mislabeled samples.
    """
    return np.asarray(margin, dtype=np.float64).mean(axis=1)


def el2n_scores(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """EL2N (Paul et al., NeurIPS 2021): ||p(x) - onehot(y)||_2 early in training; keep the highest.

    probs: (N, C) softmax probabilities from an early-epoch snapshot.
    """
    error = np.asarray(probs, dtype=np.float64).copy()
    error[np.arange(len(labels)), labels] -= 1.0
    return np.linalg.norm(error, axis=1)
