"""Peak host memory of a streamed training: bounded by the batch queue, not by the dataset.

Writes a store of --images 64-px RGB images (default 400,000: 4.6 GiB; sparse on disk, so
it costs no disk space), then trains small_cnn on all of it for --steps steps in child
processes whose data memory is capped at --limit GiB (RLIMIT_DATA: the heap and anonymous
mappings; the memory-mapped store's pages are page cache, which the kernel reclaims):
first streamed, then held in memory. Prints each child's outcome, its peak anonymous
memory (RssAnon, sampled every 20 ms) and its peak resident set (VmHWM, which counts
mapped store pages too).

    .venv/bin/python benchmarks/stream_memory.py [--images N] [--limit GIB] [--steps S]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def child(store: str, mode: str, limit_gib: float, steps: int) -> None:
    import resource
    import threading
    import time

    resource.setrlimit(resource.RLIMIT_DATA, (int(limit_gib * 2**30),) * 2)
    peak = {"anon": 0}

    def status(key: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) * 1024
        return 0

    def sample():
        while True:
            peak["anon"] = max(peak["anon"], status("RssAnon:"))
            time.sleep(0.02)

    threading.Thread(target=sample, daemon=True).start()
    import torch

    from prunebench.models import build_model
    from prunebench.settings import TrainSettings
    from prunebench.training import Trainer, load_data

    torch.set_num_threads(1)
    images = np.load(store, mmap_mode="r")
    labels = np.arange(len(images)) % 10
    outcome = "finished"
    try:
        data = load_data(images, np.arange(len(images)), labels, (0.5,) * 3, (0.25,) * 3, torch.device("cpu"),
                         mode=mode)
        trainer = Trainer(build_model("small_cnn", 3, 10, 64, seed=0),
                          TrainSettings(budget="steps", steps=steps, batch_size=256), len(data), seed=0)
        trainer.train_epoch(data, 0)
        outcome = f"finished {trainer.step} steps"
    except MemoryError as err:
        outcome = f"MemoryError: {err}"
    time.sleep(0.05)
    print(json.dumps({"mode": mode, "outcome": outcome, "peak_anon": peak["anon"], "peak_rss": status("VmHWM:")}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=400_000)
    parser.add_argument("--limit", type=float, default=2.0, help="GiB of data memory allowed to the training")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--child", nargs=2, metavar=("STORE", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.limit, args.steps)
        return
    print(f"data memory allowed: {args.limit} GiB; batch 256, depth 4 (a batch is {256 * 64 * 64 * 3 / 2**20:.1f} MiB)")
    with tempfile.TemporaryDirectory() as folder:
        for images, mode in ((args.images // 4, "stream"), (args.images, "stream"), (args.images, "memory")):
            store = Path(folder) / f"train_images_{images}.npy"
            if not store.exists():
                np.lib.format.open_memmap(store, mode="w+", dtype=np.uint8, shape=(images, 64, 64, 3)).flush()
            done = subprocess.run([sys.executable, __file__, "--child", str(store), mode, "--limit", str(args.limit),
                                   "--steps", str(args.steps)], capture_output=True, text=True)
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            where = f"{images} images ({images * 64 * 64 * 3 / 2**30:.2f} GiB), {mode:6s}"
            if not lines:
                print(f"{where}: the child died (exit {done.returncode}): {done.stderr.strip()[-300:]}")
                continue
            result = json.loads(lines[-1])
            print(f"{where}: {result['outcome']}; peak anonymous memory {result['peak_anon'] / 2**20:.0f} MiB, "
                  f"peak resident {result['peak_rss'] / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
