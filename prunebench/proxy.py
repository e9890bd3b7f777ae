"""Proxy training that logs per-sample training dynamics, resumable from its last epoch."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from . import checkpoint as ckpt
from .datasets import ImageData
from .io import atomic_path, matrix_column, write_table
from .models import build_model
from .settings import TrainSettings
from .signals import EVAL_FILE, KL_SHIFT, PASSES, SIGNALS, TRAIN_FILE, model_file, snapshot_file
from .training import Trainer, load_data, per_sample_signals, predict, stream_seed

log = logging.getLogger(__name__)

SIGNAL_DTYPES = {"loss": torch.float32, "p_true": torch.float32, "margin": torch.float32, "correct": torch.int8,
                 KL_SHIFT: torch.float32}


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
    snapshots: dict[int, dict[str, np.ndarray]]  # epoch -> logits / embedding for pool then query rows
    models: dict[int, dict[str, torch.Tensor]]  # epoch -> model weights, at the snapshot epochs
    resumed_from: int = 0  # epochs restored from a checkpoint
    seconds: dict[str, float] = field(default_factory=dict)


def _buffers(epochs: int, n: int, device: torch.device, names=SIGNALS) -> dict[str, torch.Tensor]:
    """(epochs, n) buffers, NaN (or -1 for correctness) until written, so a gap cannot pass for a value."""
    return {name: torch.full((epochs, n), -1 if name == "correct" else float("nan"), dtype=SIGNAL_DTYPES[name],
                             device=device) for name in names}


def train_proxy(data: ImageData, mean, std, pool_index: np.ndarray, pool_labels: np.ndarray,
                query_index: np.ndarray, query_labels: np.ndarray, arch: str, settings: TrainSettings,
                seed: int, device: torch.device, snapshot_epochs: tuple[int, ...] = (),
                checkpoint: str | os.PathLike | None = None, log_in_training: bool = True,
                log_kl_shift: bool = False, repeat: int = 0, data_mode: str = "auto") -> ProxyRun:
    """Train the proxy on the pool, logging every per-sample signal each epoch.

    Snapshots (eval-mode probabilities, logits, embeddings and the weights) are kept at
    `snapshot_epochs` (1-based) and always at the last epoch. With `checkpoint`, the
    state after every epoch is saved there, and a matching checkpoint is resumed from.
    log_kl_shift: also log TDDS's per-epoch KL term, which keeps the previous epoch's
        log-probabilities of every pool sample (N x C, float16) on the device.
    repeat: 0 is the main run. Repeat r >= 1 is an independent run (its own initialisation
        and batch order) for methods averaged over runs (EL2N, GraNd): it logs no
        dynamics, keeps only the snapshots, and stops after the last snapshot epoch.
    data_mode: `memory`, `stream` or `auto` (training.load_data).
    """
    pool, query = (load_data(data.train_images, rows, labels, mean, std, device, data.crop_size, data_mode)
                   for rows, labels in ((pool_index, pool_labels), (query_index, query_labels)))
    stream = stream_seed(seed, "proxy" if repeat == 0 else f"proxy/repeat{repeat}")
    model = build_model(arch, data.train_images.shape[3], data.num_classes, data.image_size, stream).to(device)
    trainer = Trainer(model, settings, len(pool), stream)
    epochs = settings.num_epochs(len(pool))
    dynamics = repeat == 0
    wanted = set(snapshot_epochs) | ({epochs} if dynamics else set())
    last = epochs if dynamics else max(wanted)
    train_names = (*SIGNALS, KL_SHIFT) if log_kl_shift else SIGNALS
    logs = {"train": _buffers(epochs, len(pool), device, train_names if log_in_training and dynamics else ()),
            "pool": _buffers(epochs, len(pool), device, SIGNALS if dynamics else ()),
            "query": _buffers(epochs, len(query), device, SIGNALS if dynamics else ())}
    previous = torch.zeros((len(pool), data.num_classes), dtype=torch.float16, device=device) if log_kl_shift else None
    snapshots: dict[int, dict[str, torch.Tensor]] = {}
    models: dict[int, dict[str, torch.Tensor]] = {}
    # everything that shapes the run; a checkpoint from any other run is ignored
    content = ckpt.content_digest(pool_index, query_index, pool_labels, query_labels)
    fingerprint = ckpt.fingerprint(arch, settings.as_dict(), seed, sorted(wanted), log_in_training, log_kl_shift,
                                   repeat, list(mean), list(std), content,
                                   ckpt.source_digest(data.train_images))

    start = 0
    seconds = {"train": 0.0, "eval": 0.0}
    state = ckpt.resume(checkpoint, fingerprint, trainer, device, last)
    if state is not None:
        for part, buffers in logs.items():
            for name, values in buffers.items():
                values.copy_(state["logs"][part][name])
        if previous is not None:
            previous.copy_(state["previous"])
        snapshots = {int(k): v for k, v in state["snapshots"].items()}
        models = {int(k): v for k, v in state["models"].items()}
        seconds = dict(state["seconds"])
        start = int(state["epoch"])

    def record(buffers, epoch):
        def on_batch(rows, logits, labels, loss):
            for name, values in per_sample_signals(logits, labels, loss).items():
                buffers[name][epoch, rows] = values
            if previous is not None:
                log_probs = torch.log_softmax(logits.detach().float(), dim=1).clamp_min(-1e4)
                if epoch > 0:
                    shift = log_probs.exp() * (log_probs - previous[rows].float())
                    buffers[KL_SHIFT][epoch, rows] = shift.abs().sum(dim=1)
                previous[rows] = log_probs.half()
        return on_batch

    for epoch in range(start, last):
        tick = time.perf_counter()
        logging_batches = log_in_training and dynamics
        trainer.train_epoch(pool, epoch, on_batch=record(logs["train"], epoch) if logging_batches else None)
        seconds["train"] += time.perf_counter() - tick
        tick = time.perf_counter()
        keep_snapshot = epoch + 1 in wanted
        if dynamics or keep_snapshot:
            outputs = [predict(model, part, settings.eval_batch_size, embeddings=keep_snapshot,
                               precision=settings.precision)
                       for part in (pool, query)]
            for buffers, part, (logits, _) in zip((logs["pool"], logs["query"]), (pool, query), outputs):
                for name, values in per_sample_signals(logits, part.labels).items():
                    if name in buffers:
                        buffers[name][epoch] = values
            if keep_snapshot:  # pool rows, then query rows
                logits = torch.cat([z for z, _ in outputs])
                # logits only: float16 probabilities of confident samples round to exactly 1 and tie
                snapshots[epoch + 1] = {"logits": logits.half().cpu(),
                                        "embedding": torch.cat([h for _, h in outputs]).half().cpu()}
                models[epoch + 1] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            accuracy = (outputs[0][0].argmax(1) == pool.labels).float().mean().item()
            query_accuracy = (outputs[1][0].argmax(1) == query.labels).float().mean().item()
            log.info("epoch %d/%d: pool accuracy %.4f, query accuracy %.4f, train %.1fs, eval %.1fs",
                     epoch + 1, last, accuracy, query_accuracy, seconds["train"], seconds["eval"])
        seconds["eval"] += time.perf_counter() - tick
        ckpt.save_epoch(checkpoint, fingerprint, epoch + 1, trainer, logs=logs, previous=previous,
                        snapshots={str(k): v for k, v in snapshots.items()},
                        models={str(k): v for k, v in models.items()}, seconds=seconds)

    def to_numpy(buffers):
        return {name: values.T.contiguous().cpu().numpy() for name, values in buffers.items()}

    return ProxyRun(
        pool_index=pool_index, pool_labels=np.asarray(pool_labels), query_index=query_index,
        query_labels=np.asarray(query_labels), train=to_numpy(logs["train"]), eval_pool=to_numpy(logs["pool"]),
        eval_query=to_numpy(logs["query"]),
        snapshots={e: {k: v.numpy() for k, v in snap.items()} for e, snap in snapshots.items()},
        models=models, resumed_from=start, seconds=seconds)


def _signal_table(index, role, labels, signals: dict[str, np.ndarray]) -> pa.Table:
    columns = {"index": pa.array(index, pa.int64()), "role": pa.array(role, pa.string()),
               "label": pa.array(labels, pa.int64())}
    columns.update({name: matrix_column(values) for name, values in signals.items()})
    return pa.table(columns)


def write_proxy_run(run: ProxyRun, folder: str | os.PathLike, metadata: dict, repeat: int = 0) -> list[str]:
    """Write the dynamics (main run only), snapshots and weights of `run` into `folder`; returns their paths
    relative to `folder`."""
    folder = Path(folder)
    written = [TRAIN_FILE, EVAL_FILE] if repeat == 0 else []
    n_pool, n_query = len(run.pool_index), len(run.query_index)
    both_index = np.concatenate([run.pool_index, run.query_index])
    both_roles = ["pool"] * n_pool + ["query"] * n_query
    both_labels = np.concatenate([run.pool_labels, run.query_labels])
    if repeat == 0:
        base = {**metadata, "epochs": run.eval_pool["loss"].shape[1]}
        write_table(_signal_table(run.pool_index, ["pool"] * n_pool, run.pool_labels, run.train), folder / TRAIN_FILE,
                    {**base, "signals": list(run.train), "pass": PASSES["train"]})
        both = {name: np.concatenate([run.eval_pool[name], run.eval_query[name]]) for name in SIGNALS}
        write_table(_signal_table(both_index, both_roles, both_labels, both), folder / EVAL_FILE,
                    {**base, "signals": list(SIGNALS), "pass": PASSES["eval"]})
    for epoch, snap in run.snapshots.items():
        write_table(_signal_table(both_index, both_roles, both_labels, snap), folder / snapshot_file(epoch, repeat),
                    {**metadata, "epoch": epoch, "repeat": repeat})
        with atomic_path(folder / model_file(epoch, repeat)) as tmp:
            torch.save(run.models[epoch], tmp)
        written += [snapshot_file(epoch, repeat), model_file(epoch, repeat)]
    return written
