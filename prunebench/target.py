"""Target training: a fresh model on one subset, evaluated on the official test set."""

from __future__ import annotations

import logging
import time

import numpy as np
import torch

from .datasets import ImageData
from .models import build_model
from .settings import TrainSettings
from .training import DeviceData, Trainer, predict, stream_seed

log = logging.getLogger(__name__)


def train_target(data: ImageData, mean, std, index: np.ndarray, labels: np.ndarray, weights: np.ndarray,
                 arch: str, settings: TrainSettings, seed: int, device: torch.device) -> dict:
    """Train `arch` from scratch on the samples `index` (with their training `labels`).

    Weights other than all-ones train on sum(w * loss) / sum(w). Returns final-epoch
    and best-epoch test accuracy, per-class accuracy, steps and wall seconds.
    """
    tick = time.perf_counter()
    train = DeviceData(data.train_images[index], labels, mean, std, device)
    test = DeviceData(data.test_images, data.test_labels, mean, std, device)
    shape = data.train_images.shape
    model = build_model(arch, shape[3], data.num_classes, shape[1], stream_seed(seed, f"target/{arch}")).to(device)
    trainer = Trainer(model, settings, len(train), stream_seed(seed, f"target/{arch}"))
    weighted = not np.allclose(weights, 1.0)
    w = torch.as_tensor(weights, dtype=torch.float32, device=device) if weighted else None

    history = []
    for epoch in range(settings.num_epochs(len(train))):
        trainer.train_epoch(train, epoch, weights=w)
        logits, _ = predict(model, test, settings.eval_batch_size)
        history.append((logits.argmax(1) == test.labels).float().mean().item())
        log.info("epoch %d: test accuracy %.4f (step %d/%d)", epoch + 1, history[-1], trainer.step,
                 trainer.total_steps)

    predicted = logits.argmax(1).cpu().numpy()
    truth = data.test_labels
    per_class = [float((predicted[truth == c] == c).mean()) for c in range(data.num_classes)]
    test_loss = torch.nn.functional.cross_entropy(logits, test.labels).item()
    best = int(np.argmax(history))
    return {
        "test_accuracy": history[-1],
        "test_accuracy_best": history[best],
        "best_epoch": best + 1,
        "test_loss": test_loss,
        "per_class_accuracy": per_class,
        "epochs": len(history),
        "steps": trainer.step,
        "train_size": len(train),
        "weighted": weighted,
        "wall_seconds": round(time.perf_counter() - tick, 3),
        "device": str(device),
    }
