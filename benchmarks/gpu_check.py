"""A first check on a GPU node: speed, memory and bit-for-bit reruns of the real training paths.

1. CIFAR-shaped (50,000 synthetic 32-px images, 10 classes): the CIFAR-10 DeepCore preset's ResNet-18 and
   target settings, trained as a proxy (every per-sample signal logged) for --epochs epochs, twice;
2. ImageNet-shaped (a memory-mapped store of 72-px images, 64-px crops, 100 classes): ResNet-18 target
   training streamed from the store (bf16, channels_last), twice; and the streaming loader alone.
Prints images per second (training with logging, the evaluation pass, the loader), peak GPU memory and
whether each pair of runs is byte-identical. Without CUDA it stops with one line; --dry-run runs the same
code on the CPU at a tiny size (to check the script, not to measure anything).

    .venv/bin/python benchmarks/gpu_check.py [--epochs E] [--dry-run]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from prunebench.config import load_config
from prunebench.datasets import ImageData
from prunebench.proxy import train_proxy
from prunebench.settings import train_settings
from prunebench.target import train_target
from prunebench.training import StreamData

REPO = Path(__file__).resolve().parents[1]


def synthetic(n: int, side: int, classes: int, seed: int, store: Path | None = None) -> ImageData:
    """Class-tinted noise (learnable), in memory or written to a memory-mapped .npy store."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    tints = rng.integers(40, 216, (classes, 1, 1, 3))
    images = np.lib.format.open_memmap(store, mode="w+", dtype=np.uint8, shape=(n, side, side, 3)) if store \
        else np.empty((n, side, side, 3), np.uint8)
    for start in range(0, n, 4096):
        noise = rng.integers(-40, 41, (len(labels[start:start + 4096]), side, side, 3))
        images[start:start + 4096] = np.clip(tints[labels[start:start + 4096]] + noise, 0, 255)
    if store:
        images.flush()
        images = np.load(store, mmap_mode="r")
    test = max(n // 10, classes)
    return ImageData(images[test:], labels[test:], images[:test], labels[:test], tuple(map(str, range(classes))))


def peak_memory(device: torch.device) -> str:
    return f"{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB" if device.type == "cuda" else "n/a (CPU)"


def cifar_check(device: torch.device, epochs: int, n: int) -> None:
    preset = load_config(REPO / "config.yaml", REPO / "configs" / "cifar10-deepcore.yaml")
    settings = dataclasses.replace(train_settings(preset["target"], True), epochs=epochs, milestones=())
    data = synthetic(n, 32, 10, seed=0)
    index = np.arange(len(data.train_labels))
    pool, query = index[index % 10 != 0], index[index % 10 == 0]
    runs = []
    for attempt in range(2):
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        run = train_proxy(data, (0.49, 0.48, 0.45), (0.25, 0.24, 0.26), pool, data.train_labels[pool], query,
                          data.train_labels[query], "resnet18", settings, seed=0, device=device, data_mode="memory")
        runs.append(run)
        print(f"CIFAR-shaped ResNet-18 proxy, run {attempt + 1}: training with logging "
              f"{len(pool) * epochs / run.seconds['train']:.0f} images/s, evaluation pass "
              f"{(len(pool) + len(query)) * epochs / run.seconds['eval']:.0f} images/s, peak GPU memory "
              f"{peak_memory(device)}")
    same = all(np.array_equal(getattr(runs[0], part)[k], getattr(runs[1], part)[k])
               for part in ("train", "eval_pool", "eval_query") for k in getattr(runs[0], part)) and \
        all(torch.equal(runs[0].models[epochs][k], runs[1].models[epochs][k]) for k in runs[0].models[epochs])
    print(f"CIFAR-shaped: the two runs are byte-identical (signals and weights): {same}")


def imagenet_check(device: torch.device, epochs: int, n: int, folder: Path) -> None:
    data = dataclasses.replace(synthetic(n, 72, 100, seed=1, store=folder / "train_images.npy"), crop_size=64)
    stream = StreamData(data.train_images, np.arange(len(data.train_labels)), data.train_labels, (0.5,) * 3,
                        (0.25,) * 3, device)
    order = torch.randperm(len(data.train_labels), generator=torch.Generator().manual_seed(0))
    tick = time.perf_counter()
    for _ in stream.raw_batches(order, 256):
        pass
    if device.type == "cuda":
        torch.cuda.synchronize()
    print(f"streaming loader alone (2 threads, batch 256, 72 px): "
          f"{len(order) / (time.perf_counter() - tick):.0f} images/s")
    settings = train_settings({"epochs": epochs, "batch_size": 256, "precision": "bf16"}, True)
    index = np.arange(len(data.train_labels))
    results = []
    for attempt in range(2):
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        result = train_target(data, (0.5,) * 3, (0.25,) * 3, index, data.train_labels, np.ones(len(index)),
                              "resnet18", settings, seed=0, device=device, data_mode="stream")
        print(f"ImageNet-shaped ResNet-18 target (64-px crops, bf16, streamed), run {attempt + 1}: "
              f"{len(index) * epochs / result['wall_seconds']:.0f} images/s (training and test passes), "
              f"test accuracy {result['test_accuracy']:.3f}, peak GPU memory {peak_memory(device)}")
        results.append(json.dumps({k: v for k, v in result.items() if k != "wall_seconds"}, sort_keys=True))
    print(f"ImageNet-shaped: the two runs give identical results: {results[0] == results[1]}")  # NaN == NaN here


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU: checks the script only")
    args = parser.parse_args()
    if not args.dry_run and not torch.cuda.is_available():
        print("gpu_check: CUDA is not available on this machine (torch.cuda.is_available() is False); run it on a "
              "GPU node, or pass --dry-run for a tiny CPU run of the script", file=sys.stderr)
        return 1
    from prunebench.training import resolve_device

    device = resolve_device("cpu" if args.dry_run else "cuda")
    name = torch.cuda.get_device_name() if device.type == "cuda" else "CPU (dry run)"
    print(f"device: {name}, torch {torch.__version__}")
    epochs = 1 if args.dry_run else args.epochs
    cifar_check(device, epochs, 600 if args.dry_run else 50_000)
    with tempfile.TemporaryDirectory() as folder:
        imagenet_check(device, epochs, 600 if args.dry_run else 50_000, Path(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
