"""Uncertainty scores of the trained proxy (Coleman et al., ICLR 2020)."""

from __future__ import annotations

import numpy as np


def entropy_scores(probs: np.ndarray) -> np.ndarray:
    """Predictive entropy -sum_k p_k log p_k; keep the highest (most uncertain).

    probs: (N, C) softmax probabilities of the final proxy model (eval mode).
    """
    p = np.asarray(probs, dtype=np.float64)
    return -(p * np.log(np.clip(p, 1e-12, None))).sum(axis=1)
