"""Optimisation settings shared by proxy and target training (no torch import: cheap to load)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings shared by proxy and target training."""

    epochs: int = 10  # training epochs; with budget="steps", the steps are spread over as many epochs as needed
    budget: str = "epochs"  # "epochs": fixed epochs whatever the subset size (DeepCore, CLD); "steps" (CCS)
    steps: int | None = None  # optimiser steps when budget == "steps"
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = True
    schedule: str = "cosine"  # "cosine" (per step, to 0), "multistep" (x gamma at each milestone epoch) or "constant"
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    augment: bool = False  # random crop (pad 4, reflect) and horizontal flip
    eval_batch_size: int = 1024
    precision: str = "fp32"  # "bf16": bf16 autocast and channels_last on CUDA (fp32 on the CPU whatever is asked)

    @classmethod
    def from_dict(cls, values: dict) -> TrainSettings:
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        if "milestones" in known:
            known["milestones"] = tuple(known["milestones"])
        return cls(**known)

    def total_steps(self, n: int) -> int:
        per_epoch = math.ceil(n / self.batch_size)
        return self.steps if self.budget == "steps" else self.epochs * per_epoch

    def num_epochs(self, n: int) -> int:
        return math.ceil(self.total_steps(n) / math.ceil(n / self.batch_size))

    def as_dict(self) -> dict:
        values = asdict(self)
        values["milestones"] = list(values["milestones"])
        return values


def train_settings(section: dict, augment_default: bool) -> TrainSettings:
    """TrainSettings from the proxy or target section; augment None takes the dataset's default."""
    values = dict(section)
    if values.get("augment") is None:
        values["augment"] = augment_default
    return TrainSettings.from_dict(values)
