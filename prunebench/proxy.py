"""Proxy training that logs per-sample training dynamics, resumable from its last epoch."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from .datasets import ImageData
from .io import atomic_path, matrix_column, write_table
from .models import build_model
from .settings import TrainSettings
from .signals import PASSES, SIGNALS, proxy_files
from .training import DeviceData, Trainer, per_sample_signals, predict, stream_seed

log = logging.getLogger(__name__)

SIGNAL_DTYPES = {"loss": torch.float32, "p_true": torch.float32, "margin": torch.float32, "correct": torch.int8}


@dataclass
class ProxyRun:
    """Everything a proxy run logged. Signal arrays are (N, T): one row per sample, one column per epoch."""

    pool_index: np.ndarray
    pool_labels: np.ndarray
    query_index: np.ndarray
    query_labels: np.ndarray
    train: dict[str, np.ndarray]  # in-training pass (augmented view, train-mode BN), pool only
    eval_pool: dict[str, np.ndarray]  # post-epoch eval-mode pass on clean images
    eval_query: dict[str, np.ndarray]
    snapshots: dict[int, dict[str, np.ndarray]]  # epoch -> probs / embedding for pool then query rows
    model_state: dict[str, torch.Tensor]
    resumed_from: int = 0  # epochs restored from a checkpoint
    seconds: dict[str, float] = field(default_factory=dict)


def _buffers(epochs: int, n: int, device: torch.device) -> dict[str, torch.Tensor]:
    """(epochs, n) buffers, NaN (or -1 for correctness) until written, so a gap cannot pass for a value."""
    return {name: torch.full((epochs, n), -1 if name == "correct" else float("nan"), dtype=SIGNAL_DTYPES[name],
                             device=device) for name in SIGNALS}


def _fingerprint(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def train_proxy(data: ImageData, mean, std, pool_index: np.ndarray, pool_labels: np.ndarray,
                query_index: np.ndarray, query_labels: np.ndarray, arch: str, settings: TrainSettings,
                seed: int, device: torch.device, snapshot_epochs: tuple[int, ...] = (),
                checkpoint: str | os.PathLike | None = None, log_in_training: bool = True) -> ProxyRun:
    """Train the proxy on the pool, logging every per-sample signal each epoch.

    Snapshots (eval-mode probabilities and embeddings) are kept at `snapshot_epochs`
    (1-based) and always at the last epoch. With `checkpoint`, the state after every
    epoch is saved there, and a matching checkpoint is resumed from.
    """
    pool = DeviceData(data.train_images[pool_index], pool_labels, mean, std, device)
    query = DeviceData(data.train_images[query_index], query_labels, mean, std, device)
    shape = data.train_images.shape
    model = build_model(arch, shape[3], data.num_classes, shape[1], stream_seed(seed, "proxy")).to(device)
    trainer = Trainer(model, settings, len(pool), stream_seed(seed, "proxy"))
    epochs = settings.num_epochs(len(pool))
    train_log, pool_log, query_log = (_buffers(epochs, n, device) for n in (len(pool), len(pool), len(query)))
    snapshots: dict[int, dict[str, torch.Tensor]] = {}
    wanted = set(snapshot_epochs) | {epochs}
    # everything that shapes the run; a checkpoint from any other run is ignored
    content = hashlib.sha256()
    for part in (pool_index, query_index, np.asarray(pool_labels), np.asarray(query_labels), pool.images.cpu().numpy()):
        content.update(np.ascontiguousarray(part).tobytes())
    fingerprint = _fingerprint(arch, settings.as_dict(), seed, sorted(wanted), log_in_training, list(mean), list(std),
                               content.hexdigest())

    start = 0
    seconds = {"train": 0.0, "eval": 0.0}
    if checkpoint and Path(checkpoint).exists():
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        if state["fingerprint"] == fingerprint:
            trainer.load_state_dict(state["trainer"])
            for target, saved in ((train_log, state["train"]), (pool_log, state["pool"]), (query_log, state["query"])):
                for name in SIGNALS:
                    target[name].copy_(saved[name])
            snapshots = {int(k): v for k, v in state["snapshots"].items()}
            seconds = dict(state["seconds"])
            start = int(state["epoch"])
            log.info("resumed from checkpoint %s after epoch %d of %d", checkpoint, start, epochs)
        else:
            log.info("checkpoint %s belongs to other settings; starting afresh", checkpoint)

    def record(buffers, epoch):
        def on_batch(rows, logits, labels, loss):
            for name, values in per_sample_signals(logits, labels, loss).items():
                buffers[name][epoch, rows] = values
        return on_batch

    for epoch in range(start, epochs):
        tick = time.perf_counter()
        trainer.train_epoch(pool, epoch, on_batch=record(train_log, epoch) if log_in_training else None)
        seconds["train"] += time.perf_counter() - tick
        tick = time.perf_counter()
        keep_snapshot = epoch + 1 in wanted
        outputs = [predict(model, part, settings.eval_batch_size, embeddings=keep_snapshot) for part in (pool, query)]
        for buffers, part, (logits, _) in zip((pool_log, query_log), (pool, query), outputs):
            for name, values in per_sample_signals(logits, part.labels).items():
                buffers[name][epoch] = values
        if keep_snapshot:  # pool rows, then query rows
            snapshots[epoch + 1] = {"probs": torch.cat([torch.softmax(z, 1) for z, _ in outputs]).half().cpu(),
                                    "embedding": torch.cat([h for _, h in outputs]).half().cpu()}
        seconds["eval"] += time.perf_counter() - tick
        accuracy = pool_log["correct"][epoch].float().mean().item()
        query_accuracy = query_log["correct"][epoch].float().mean().item()
        log.info("epoch %d/%d: pool accuracy %.4f, query accuracy %.4f, train %.1fs, eval %.1fs",
                 epoch + 1, epochs, accuracy, query_accuracy, seconds["train"], seconds["eval"])
        if checkpoint:
            state = {"fingerprint": fingerprint, "epoch": epoch + 1, "trainer": trainer.state_dict(),
                     "train": train_log, "pool": pool_log, "query": query_log,
                     "snapshots": {str(k): v for k, v in snapshots.items()}, "seconds": seconds}
            with atomic_path(checkpoint) as tmp:
                torch.save(state, tmp)

    def to_numpy(buffers):
        return {name: buffers[name].T.contiguous().cpu().numpy() for name in SIGNALS}

    return ProxyRun(
        pool_index=pool_index, pool_labels=np.asarray(pool_labels), query_index=query_index,
        query_labels=np.asarray(query_labels), train=to_numpy(train_log), eval_pool=to_numpy(pool_log),
        eval_query=to_numpy(query_log),
        snapshots={e: {k: v.numpy() for k, v in snap.items()} for e, snap in snapshots.items()},
        model_state={k: v.cpu() for k, v in model.state_dict().items()}, resumed_from=start, seconds=seconds)


def _signal_table(index, role, labels, signals: dict[str, np.ndarray]) -> pa.Table:
    columns = {"index": pa.array(index, pa.int64()), "role": pa.array(role, pa.string()),
               "label": pa.array(labels, pa.int64())}
    columns.update({name: matrix_column(signals[name]) for name in SIGNALS})
    return pa.table(columns)


def write_proxy_run(run: ProxyRun, folder: str | os.PathLike, metadata: dict) -> None:
    """Write dynamics, snapshots and final weights of `run` into `folder`."""
    files = proxy_files(folder, run.snapshots)
    epochs = run.train["loss"].shape[1]
    n_pool, n_query = len(run.pool_index), len(run.query_index)
    base = {**metadata, "epochs": epochs, "signals": list(SIGNALS)}
    write_table(_signal_table(run.pool_index, ["pool"] * n_pool, run.pool_labels, run.train), files["train"],
                {**base, "pass": PASSES["train"]})
    both = {name: np.concatenate([run.eval_pool[name], run.eval_query[name]]) for name in SIGNALS}
    write_table(_signal_table(np.concatenate([run.pool_index, run.query_index]),
                              ["pool"] * n_pool + ["query"] * n_query,
                              np.concatenate([run.pool_labels, run.query_labels]), both),
                files["eval"], {**base, "pass": PASSES["eval"]})
    for epoch, snap in run.snapshots.items():
        table = pa.table({
            "index": pa.array(np.concatenate([run.pool_index, run.query_index]), pa.int64()),
            "role": pa.array(["pool"] * n_pool + ["query"] * n_query, pa.string()),
            "label": pa.array(np.concatenate([run.pool_labels, run.query_labels]), pa.int64()),
            "probs": matrix_column(snap["probs"]),
            "embedding": matrix_column(snap["embedding"]),
        })
        write_table(table, files[f"snapshot{epoch}"], {**metadata, "epoch": epoch})
    with atomic_path(files["model"]) as tmp:
        torch.save(run.model_state, tmp)
