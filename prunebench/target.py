"""Target training: a fresh model on one subset, evaluated on the official test set."""

from __future__ import annotations

import logging
import os
import time

import numpy as np
import torch

from . import checkpoint as ckpt
from .datasets import ImageData
from .models import build_model
from .settings import TrainSettings
from .training import Trainer, load_data, predict, stream_seed

log = logging.getLogger(__name__)


def train_target(data: ImageData, mean, std, index: np.ndarray, labels: np.ndarray, weights: np.ndarray,
                 arch: str, settings: TrainSettings, seed: int, device: torch.device,
                 checkpoint: str | os.PathLike | None = None, eval_every: int | None = None,
                 data_mode: str = "auto") -> dict:
    """Train `arch` from scratch on the samples `index` (with their training `labels`).

    Weights other than all-ones train on sum(w * loss) / sum(w). The test set is
    evaluated once, after the last epoch, unless `eval_every` adds evaluations
    every that many epochs; then the best of them is kept too (`test_accuracy_best`,
    `best_epoch`: an epoch chosen on the test set, so an optimistic number; None with
    one evaluation). Returns those, per-class accuracy, test loss, steps and wall
    seconds (of all attempts). With `checkpoint`, the state after every epoch is saved
    there, and a matching checkpoint is resumed from (`resumed_from` says after which epoch).
    data_mode: `memory`, `stream` or `auto` (training.load_data).
    """
    tick = time.perf_counter()
    train = load_data(data.train_images, index, labels, mean, std, device, data.crop_size, data_mode)
    test = load_data(data.test_images, np.arange(len(data.test_labels)), data.test_labels, mean, std, device,
                     data.crop_size, data_mode)
    model = build_model(arch, data.train_images.shape[3], data.num_classes, data.image_size,
                        stream_seed(seed, f"target/{arch}")).to(device)
    trainer = Trainer(model, settings, len(train), stream_seed(seed, f"target/{arch}"))
    weighted = not np.allclose(weights, 1.0)
    # a copy: weights read from Parquet are a read-only view torch cannot wrap
    w = torch.tensor(np.asarray(weights), dtype=torch.float32, device=device) if weighted else None

    epochs = settings.num_epochs(len(train))
    every = eval_every or epochs
    history = {}
    fingerprint = ckpt.fingerprint("target", arch, settings.as_dict(), every, seed, list(mean), list(std),
                                   ckpt.content_digest(index, labels, weights),
                                   ckpt.source_digest(data.train_images))
    start, earlier_seconds = 0, 0.0
    state = ckpt.resume(checkpoint, fingerprint, trainer, device, epochs)
    if state is not None:
        history = {int(e): float(a) for e, a in state["history"].items()}
        start, earlier_seconds = int(state["epoch"]), float(state["seconds"])
    for epoch in range(start, epochs):
        trainer.train_epoch(train, epoch, weights=w)
        if (epoch + 1) % every == 0 or epoch + 1 == epochs:
            logits, _ = predict(model, test, settings.eval_batch_size, precision=settings.precision)
            history[epoch + 1] = (logits.argmax(1) == test.labels).float().mean().item()
            log.info("epoch %d: test accuracy %.4f (step %d/%d)", epoch + 1, history[epoch + 1], trainer.step,
                     trainer.total_steps)
        ckpt.save_epoch(checkpoint, fingerprint, epoch + 1, trainer, history={str(e): a for e, a in history.items()},
                        seconds=earlier_seconds + time.perf_counter() - tick)
    if start == epochs:  # killed after the last checkpoint: the final evaluation is deterministic
        logits, _ = predict(model, test, settings.eval_batch_size, precision=settings.precision)

    predicted = logits.argmax(1).cpu().numpy()
    truth = data.test_labels
    per_class = [float((predicted[truth == c] == c).mean()) for c in range(data.num_classes)]
    test_loss = torch.nn.functional.cross_entropy(logits, test.labels).item()
    best = max(history, key=lambda e: (history[e], -e)) if len(history) > 1 else None
    return {
        "test_accuracy": history[epochs],
        "test_accuracy_best": history[best] if best else None,
        "best_epoch": best,
        "test_history": [[e, history[e]] for e in sorted(history)],
        "test_loss": test_loss,
        "per_class_accuracy": per_class,
        "epochs": epochs,
        "steps": trainer.step,
        "weighted": weighted,
        "wall_seconds": round(earlier_seconds + time.perf_counter() - tick, 3),
        "device": str(device),
        "resumed_from": start,
    }
