"""Uncertainty scores of the trained proxy (Coleman et al., ICLR 2020; DeepCore).

All three read eval-mode outputs of the final proxy; keep the most uncertain.
"""

from __future__ import annotations

import numpy as np


def least_confidence_scores(probs: np.ndarray) -> np.ndarray:
    """1 - max_k p_k; keep the highest (least confident).

    probs: (N, C) softmax probabilities. DeepCore ranks by the max *logit* instead;
    that is `-max_k z_k` here (the `compat: deepcore` switch of the registry).
    """
    return 1.0 - np.asarray(probs, dtype=np.float64).max(axis=1)


def max_logit_uncertainty(logits: np.ndarray) -> np.ndarray:
    """-max_k z_k: DeepCore's least confidence, on logits; keep the highest."""
    return -np.asarray(logits, dtype=np.float64).max(axis=1)


def entropy_scores(probs: np.ndarray) -> np.ndarray:
    """Predictive entropy -sum_k p_k log p_k; keep the highest (most uncertain).

    probs: (N, C) softmax probabilities of the final proxy model (eval mode).
    """
    p = np.asarray(probs, dtype=np.float64)
    return -(p * np.log(np.clip(p, 1e-12, None))).sum(axis=1)


def margin_scores(probs: np.ndarray) -> np.ndarray:
    """Top-1 minus top-2 probability; keep the lowest (closest call between two classes)."""
    top2 = np.sort(np.asarray(probs, dtype=np.float64), axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]
