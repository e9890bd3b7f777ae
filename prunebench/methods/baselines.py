"""Baselines: uniform random selection and the whole pool."""

from __future__ import annotations

import numpy as np

from .registry import method


def random_scores(n: int, seed: int) -> np.ndarray:
    """i.i.d. uniform scores: keeping the top k per class is a uniform draw without replacement.

    Because the order is fixed per seed, smaller random subsets are nested in larger ones.
    """
    return np.random.default_rng([seed, 0x7A4D]).random(n)


@method("random", family="baseline", paper="uniform sampling")
def _random(s, p, seed, plan):
    return random_scores(len(s.labels), seed)


@method("full", family="baseline", paper="the whole candidate pool", full_only=True)
def _full(s, p, seed, plan):
    return np.zeros(len(s.labels))
