"""Scoring and selection of every dynamics-only method on a synthetic ImageNet-size log.

Writes a proxy folder with the real on-disk layout (split, in-training and eval
dynamics as Parquet) for N samples, T epochs and C classes, then runs each
method's real `score` and `select` steps in a fresh process and prints its wall
time and peak memory (max RSS). Targets: at most 60 s and 4 GiB per method on 2 cores.

    .venv/bin/python benchmarks/dynamics_scale.py [--samples 1281167] [--epochs 90] [--classes 1000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prunebench.io import matrix_column, write_table
from prunebench.signals import EVAL_FILE, KL_SHIFT, TRAIN_FILE

# every method that reads only logged dynamics, with parameters that fit a 90-epoch log
METHODS = {
    "forgetting": {}, "aum": {}, "cld": {}, "dyn_unc": {}, "dual": {}, "tdds": {"epochs": 90},
    "ccs": {}, "ccs_forgetting": {"score": "forgetting"},
}
CHUNK = 131_072


def write_log(folder: Path, n: int, epochs: int, classes: int, query_per_class: int, seed: int = 0) -> None:
    """Split plus dynamics files, written in row chunks so the generator itself stays small."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    query_labels = np.repeat(np.arange(classes), query_per_class)
    index = np.arange(n + len(query_labels))
    write_table(pa.table({
        "index": index, "label": np.concatenate([labels, query_labels]),
        "role": ["pool"] * n + ["query"] * len(query_labels),
        "clean_label": np.concatenate([labels, query_labels]), "noisy": np.zeros(len(index), bool)}),
        folder / "split.parquet")

    def signals(rows: int) -> dict[str, np.ndarray]:
        skill = rng.random((rows, 1), dtype=np.float32)
        p = np.clip(skill + 0.2 * rng.standard_normal((rows, epochs), dtype=np.float32), 1e-4, 1 - 1e-4)
        kl = rng.exponential(0.1, (rows, epochs)).astype(np.float32)
        kl[:, 0] = np.nan
        return {"loss": -np.log(p), "p_true": p, "margin": np.log(p / (1 - p)), "correct": (p > 0.5).astype(np.int8),
                KL_SHIFT: kl}

    proxy = folder / "proxy"
    proxy.mkdir()
    for name, roles, train in ((TRAIN_FILE, ["pool"], True), (EVAL_FILE, ["pool", "query"], False)):
        writer = None
        rows_of = {"pool": (index[:n], labels), "query": (index[n:], query_labels)}
        for role in roles:
            role_index, role_labels = rows_of[role]
            for start in range(0, len(role_index), CHUNK):
                part = signals(min(CHUNK, len(role_index) - start))
                if not train:
                    part.pop(KL_SHIFT)
                columns = {"index": pa.array(role_index[start:start + CHUNK]),
                           "role": pa.array([role] * len(part["loss"])),
                           "label": pa.array(role_labels[start:start + CHUNK]),
                           **{k: matrix_column(v) for k, v in part.items()}}
                table = pa.table(columns)
                writer = writer or pq.ParquetWriter(proxy / name, table.schema)
                writer.write_table(table)
        writer.close()


CHILD = """
import json, resource, sys, time
from prunebench import pipeline
from prunebench.methods import ProxyPlan, get_method
folder, method, overrides, epochs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
plan = ProxyPlan(epochs=epochs, log_kl_shift=True)
params = get_method(method).params(overrides)
assert not get_method(method).problems(params, plan), get_method(method).problems(params, plan)
tick = time.perf_counter()
pipeline.score(method, params, plan, f"{folder}/split.parquet", f"{folder}/proxy", 0, f"{folder}/{method}.parquet")
scored = time.perf_counter() - tick
pipeline.select(f"{folder}/{method}.parquet", 0.1, f"{folder}/{method}_subset.parquet", f"{folder}/split.parquet",
                f"{folder}/proxy")
print(json.dumps({"score_s": scored, "total_s": time.perf_counter() - tick,
                  "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_281_167)
    parser.add_argument("--epochs", type=int, default=90)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--query-per-class", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        folder = Path(tmp)
        tick = time.perf_counter()
        write_log(folder, args.samples, args.epochs, args.classes, args.query_per_class)
        size = sum(f.stat().st_size for f in (folder / "proxy").iterdir()) / 2**30
        print(f"log: {args.samples:,} samples x {args.epochs} epochs x {args.classes} classes, "
              f"{size:.2f} GiB of Parquet, written in {time.perf_counter() - tick:.0f} s")
        print(f"{'method':<16}{'score s':>9}{'score+select s':>16}{'peak GiB':>10}  verdict (<= 60 s, <= 4 GiB)")
        for name, overrides in METHODS.items():
            method = name.split("_")[0] if name.startswith("ccs_") else name
            done = subprocess.run([sys.executable, "-c", CHILD, str(folder), method, json.dumps(overrides),
                                   str(args.epochs)], capture_output=True, text=True)
            if done.returncode:
                print(f"{name:<16} failed: {done.stderr.strip().splitlines()[-1]}")
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            ok = r["total_s"] <= 60 and r["peak_gib"] <= 4
            verdict = "ok" if ok else "MISSED"
            print(f"{name:<16}{r['score_s']:>9.1f}{r['total_s']:>16.1f}{r['peak_gib']:>10.2f}  {verdict}")


if __name__ == "__main__":
    main()
