"""Streaming loader throughput against the trainer's own consumption, at 64 and 160 px.

Writes a random uint8 store (.npy, memory-mapped as the pipeline reads it), then times
1. the loader alone: StreamData gathering a seeded permutation's batches with 2 threads
   into (pinned, on CUDA) buffers and copying them to the device (uint8; the normalisation
   that follows is the same for in-memory data);
2. the trainer: ResNet-18 (ImageNet stem) training steps on device-resident batches of the
   same size, with the ImageNet-style augmentation.
Target: the loader delivers more images per second than the trainer consumes. The store
was just written, so it is read from the page cache (the steady state for a store that
fits in RAM; a colder disk is slower).

    .venv/bin/python benchmarks/stream_throughput.py [--images N] [--batch B] [--steps S]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from prunebench.models import build_model
from prunebench.settings import TrainSettings
from prunebench.training import DeviceData, StreamData, Trainer, resolve_device


def loader_rate(images: np.ndarray, batch: int, device: torch.device, threads: int = 2) -> float:
    stream = StreamData(images, np.arange(len(images)), np.zeros(len(images), np.int64), (0.5,) * 3, (0.25,) * 3,
                        device, threads=threads)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    tick = time.perf_counter()
    seen = 0
    for _, x in stream.raw_batches(order, batch):
        seen += len(x)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - tick)


def trainer_rate(side: int, batch: int, steps: int, device: torch.device) -> float:
    crop = side * 7 // 8
    images = np.random.default_rng(0).integers(0, 256, (batch * (steps + 1), side, side, 3), dtype=np.uint8)
    data = DeviceData(images, np.arange(len(images)) % 1000, (0.5,) * 3, (0.25,) * 3, device, crop_size=crop)
    model = build_model("resnet18", 3, 1000, crop, seed=0).to(device)
    settings = TrainSettings(budget="steps", steps=steps + 1, batch_size=batch, augment=True)
    trainer = Trainer(model, settings, len(data), seed=0)
    trainer.total_steps = 1  # one warm-up step
    trainer.train_epoch(data, 0)
    trainer.total_steps = steps + 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    tick = time.perf_counter()
    trainer.train_epoch(data, 1)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - tick)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=4096, help="images in the store at each size")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3, help="timed training steps")
    args = parser.parse_args()
    device = resolve_device("auto")
    print(f"device {device}, torch threads {torch.get_num_threads()}, loader threads 2, batch {args.batch}")
    with tempfile.TemporaryDirectory() as folder:
        for side in (64, 160):
            path = Path(folder) / f"store{side}.npy"
            store = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(args.images, side, side, 3))
            rng = np.random.default_rng(side)
            for start in range(0, args.images, 1024):
                store[start:start + 1024] = rng.integers(0, 256, store[start:start + 1024].shape, dtype=np.uint8)
            store.flush()
            del store
            images = np.load(path, mmap_mode="r")
            loader = loader_rate(images, args.batch, device)
            trainer = trainer_rate(side, args.batch, args.steps, device)
            print(f"{side:4d} px store ({images.nbytes / 1e9:.2f} GB): loader {loader:8.0f} images/s, "
                  f"trainer (ResNet-18, {side * 7 // 8} px crops) {trainer:7.0f} images/s, "
                  f"loader/trainer {loader / trainer:6.1f}x")


if __name__ == "__main__":
    main()
