"""Baselines: uniform random selection and the whole pool."""

from __future__ import annotations

import numpy as np


def random_scores(n: int, seed: int) -> np.ndarray:
    """i.i.d. uniform scores: keeping the top k per class is a uniform draw without replacement.

    Because the order is fixed per seed, smaller random subsets are nested in larger ones.
    """
    return np.random.default_rng([seed, 0x7A4D]).random(n)
