"""Uncertainty scores of the trained proxy (Coleman et al., ICLR 2020; DeepCore).

All three read eval-mode logits of the final proxy (probabilities come from them
without rounding, see probabilities.py); keep the most uncertain.
"""

from __future__ import annotations

import numpy as np

from . import probabilities
from .registry import compat_param, epoch_param, method, snapshot_epoch


def least_confidence_scores(logits: np.ndarray) -> np.ndarray:
    """1 - max_k p_k; keep the highest (least confident).

    logits: (N, C). DeepCore ranks by the max *logit* instead;
    that is `-max_k z_k` here (the `compat: deepcore` switch of the registry).
    """
    return probabilities.least_confidence(logits)


def max_logit_uncertainty(logits: np.ndarray) -> np.ndarray:
    """-max_k z_k: DeepCore's least confidence, on logits; keep the highest."""
    return -np.asarray(logits, dtype=np.float64).max(axis=1)


def entropy_scores(logits: np.ndarray) -> np.ndarray:
    """Predictive entropy -sum_k p_k log p_k; keep the highest (most uncertain).

    logits: (N, C) of the final proxy model (eval mode).
    """
    return probabilities.entropy(logits)


def margin_scores(logits: np.ndarray) -> np.ndarray:
    """Top-1 minus top-2 probability; keep the lowest (closest call between two classes)."""
    return probabilities.top2_margin(logits)


# ---- registry entries ----

def _final_logits(s, p, plan):
    return s.snapshot(snapshot_epoch(p, plan), "logits")


COLEMAN = "Coleman et al., ICLR 2020"


@method("least_confidence", difficulty=True, family="uncertainty", paper=COLEMAN, signals=("snapshot.logits",),
        parameters={"epoch": epoch_param(), "compat": compat_param("rank by the max logit, not the max probability")})
def _least_confidence(s, p, seed, plan):
    if p["compat"] == "deepcore":
        return max_logit_uncertainty(_final_logits(s, p, plan))
    return least_confidence_scores(_final_logits(s, p, plan))


@method("entropy", difficulty=True, family="uncertainty", paper=COLEMAN, signals=("snapshot.logits",),
        parameters={"epoch": epoch_param()})
def _entropy(s, p, seed, plan):
    return entropy_scores(_final_logits(s, p, plan))


@method("margin", family="uncertainty", paper=COLEMAN, signals=("snapshot.logits",), keep="lowest",
        parameters={"epoch": epoch_param()})
def _margin(s, p, seed, plan):
    return margin_scores(_final_logits(s, p, plan))
