"""Epoch checkpoints shared by proxy and target training: fingerprinted, atomic, resumed bit-exactly.

A checkpoint holds everything a run needs to continue after a kill (SIGKILL, or
SLURM's SIGTERM at a time limit): the trainer's state (model, optimiser, schedule,
step) plus whatever the caller logs. Batch order and augmentation come from
generators seeded by (seed, epoch), so no RNG state needs saving. The fingerprint
covers everything that shapes the run; a checkpoint from other settings or data is
ignored, never resumed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np
import torch

from .io import atomic_path

log = logging.getLogger(__name__)

# the layout of a saved trainer state; a checkpoint of another layout (an older prunebench's) is not resumed
STATE_LAYOUT = 2


def fingerprint(*parts) -> str:
    """A short digest of JSON-able settings (anything else is hashed through its str())."""
    return hashlib.sha256(json.dumps([STATE_LAYOUT, *parts], sort_keys=True, default=str).encode()).hexdigest()[:16]


def content_digest(*arrays) -> str:
    """The digest of arrays' contents (indices, labels, images), in order."""
    digest = hashlib.sha256()
    for part in arrays:
        digest.update(np.ascontiguousarray(np.asarray(part)).tobytes())
    return digest.hexdigest()


def source_digest(images: np.ndarray) -> str:
    """Identifies the images a run reads: a memory-mapped store by its file (path, size and modification time;
    a store is written once, by a rename), so a resume need not read it all; an in-memory array by its bytes."""
    filename = getattr(images, "filename", None)
    if filename:
        stat = os.stat(filename)
        return f"{os.path.abspath(filename)}:{stat.st_size}:{stat.st_mtime_ns}"
    return content_digest(images)


def load(path: str | os.PathLike | None, expected: str, device: torch.device) -> dict | None:
    """The saved state at `path` if it exists and its fingerprint is `expected`, else None."""
    if not path or not Path(path).exists():
        return None
    state = torch.load(path, map_location=device, weights_only=True)
    if state.get("fingerprint") != expected:
        log.info("checkpoint %s belongs to other settings; starting afresh", path)
        return None
    return state


def resume(path: str | os.PathLike | None, expected: str, trainer, device: torch.device, total: int) -> dict | None:
    """Restore `trainer` from the checkpoint at `path` if it matches `expected`; the saved state (the caller
    restores its own parts from it, and continues after its "epoch"), or None to start afresh."""
    state = load(path, expected, device)
    if state is not None:
        trainer.load_state_dict(state["trainer"])
        log.info("resumed from checkpoint %s after epoch %d of %d", path, int(state["epoch"]), total)
    return state


def save_epoch(path: str | os.PathLike | None, expected: str, epoch: int, trainer, **parts) -> None:
    """After `epoch` finished epochs, save the trainer and the caller's `parts` (nothing without a path)."""
    if path:
        save(path, {"fingerprint": expected, "epoch": epoch, "trainer": trainer.state_dict(), **parts})


def save(path: str | os.PathLike, state: dict) -> None:
    """Write `state` (with its "fingerprint") atomically: a kill mid-write leaves the previous one."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
