"""Cost of logging in-training per-sample signals, relative to proxy training without it.

Trains the default proxy on Fashion-MNIST with and without the in-training
logging hook, alternating runs to share the machine's noise, and prints the
median training time of each and their ratio. Target: at most 3% overhead.

    .venv/bin/python benchmarks/logging_overhead.py [--samples N] [--epochs E] [--repeats R]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from prunebench.datasets import get_dataset
from prunebench.proxy import train_proxy
from prunebench.settings import TrainSettings
from prunebench.splits import make_split, rows_of
from prunebench.training import per_sample_signals


def hook_seconds_per_epoch(n: int, classes: int, batch_size: int, epochs: int = 5) -> float:
    """The logging hook alone: signals of every batch written into (epochs, n) buffers, timed directly."""
    buffers = {name: torch.zeros(epochs, n) for name in ("loss", "p_true", "margin", "correct")}
    order = torch.randperm(n)
    batches = [(order[s:s + batch_size], torch.randn(len(order[s:s + batch_size]), classes),
                torch.randint(0, classes, (len(order[s:s + batch_size]),))) for s in range(0, n, batch_size)]
    tick = time.perf_counter()
    for epoch in range(epochs):
        for rows, logits, labels in batches:
            for name, values in per_sample_signals(logits, labels).items():
                buffers[name][epoch, rows] = values.float()
    return (time.perf_counter() - tick) / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60000, help="training-set slice (class-stratified)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    spec = get_dataset("fashion_mnist")
    data = spec.load()
    split = make_split(data.train_labels, data.num_classes, 0.1, seed=0, max_samples=args.samples)
    pool, pool_labels = rows_of(split, "pool")
    query, query_labels = rows_of(split, "query")
    settings = TrainSettings(epochs=args.epochs, batch_size=256, lr=0.1)
    times: dict[bool, list[float]] = {True: [], False: []}
    for repeat in range(args.repeats):
        for logging_on in (False, True) if repeat % 2 == 0 else (True, False):
            run = train_proxy(data, spec.mean, spec.std, pool, pool_labels, query, query_labels, "small_cnn",
                              settings, seed=0, device=torch.device("cpu"), log_in_training=logging_on)
            times[logging_on].append(run.seconds["train"])
            print(f"repeat {repeat}: logging {'on ' if logging_on else 'off'} train {run.seconds['train']:.2f}s "
                  f"(eval pass {run.seconds['eval']:.2f}s)", flush=True)
    on, off = statistics.median(times[True]), statistics.median(times[False])
    print(f"pool {len(pool)} samples, {args.epochs} epochs, {args.threads} threads")
    print(f"median training time: logging off {off:.2f}s, on {on:.2f}s")
    print(f"in-training logging overhead, end to end: {100 * (on / off - 1):+.2f}% (target <= 3%)")
    hook = hook_seconds_per_epoch(len(pool), data.num_classes, settings.batch_size)
    print(f"logging hook timed alone: {1000 * hook:.1f} ms per epoch = {100 * hook * args.epochs / off:.2f}% "
          f"of training (target <= 3%)")
    print(f"post-epoch eval pass (CLD's signal), for comparison: {np.median(run.seconds['eval']):.2f}s "
          f"= {100 * run.seconds['eval'] / run.seconds['train']:.0f}% of training")


if __name__ == "__main__":
    main()
