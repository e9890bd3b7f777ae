"""Time the report on a realistic amount of finished work: about 1,500 target runs.

Builds a fake-but-structurally-real results folder (results.parquet with one row per target run,
Snakemake benchmark TSVs of every train_proxy/score/select/train_target job, subset and split
Parquets of a CIFAR-size pool with label noise, proxy outputs) and times `pipeline.report` on it,
in this process and in a fresh one (imports included, as the `report` job pays them).

    .venv/bin/python benchmarks/report_speed.py [--rows 1500] [--pool 45000] [--methods a,b,...] [--keep DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from prunebench import paths, pipeline  # noqa: E402
from prunebench.config import ConfigError, method_params, proxy_plan, validate_config  # noqa: E402
from prunebench.io import write_table  # noqa: E402
from prunebench.methods import REGISTRY, get_method  # noqa: E402
from prunebench.results import RESULT_COLUMNS, write_results  # noqa: E402

DEEPCORE_FRACTIONS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
BENCH_HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _bench(path: Path, seconds: float, rss: float, rng) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cpu = seconds * rng.uniform(0.8, 1.6)
    hms = f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    path.write_text(BENCH_HEADER + f"{seconds:.4f}\t{hms}\t{rss:.2f}\t{rss * 4:.2f}\t{rss * .7:.2f}\t"
                    f"{rss * .8:.2f}\t{rng.uniform(1, 50):.2f}\t{rng.uniform(1, 20):.2f}\t"
                    f"{100 * cpu / seconds:.2f}\t{cpu:.2f}\n")


def fake_workflow(root: str | Path, methods: list[str] | None = None, fractions: list[float] | None = None,
                  seeds: list[int] | None = None, archs: tuple[str, ...] = ("small_cnn", "resnet18"),
                  pool: int = 45_000, num_classes: int = 10, label_noise: float = 0.1, drop: float = 0.0,
                  seed: int = 0) -> dict:
    """Write a finished-looking results/<dataset>/ tree under `root`; return the report step's arguments.

    drop: share of target runs (and their subsets) left out at random, to exercise missing cells.
    """
    rng = np.random.default_rng(seed)
    methods = methods or list(REGISTRY)
    fractions = fractions or DEEPCORE_FRACTIONS
    seeds = seeds or [0]
    proxy = "resnet18"  # every target trains on its subsets
    config = validate_config({"dataset": {"name": "cifar10"}, "seeds": seeds, "methods": methods,
                              "fractions": fractions, "split": {"label_noise": label_noise},
                              "proxy": {"archs": [proxy], "snapshot_epochs": [2]}, "target": {"archs": list(archs)}})
    out = Path(root) / paths.results_dir(config)
    query = pool // 9
    total = pool + query
    plan = proxy_plan(config, proxy)
    benchmarks, subsets, splits, rows = [], [], [], []
    skill = {m: rng.uniform(-8, 4) for m in methods}
    for s in seeds:
        labels = rng.integers(0, num_classes, total)
        role = np.where(np.arange(total) < pool, "pool", "query")
        noisy = (role == "pool") & (rng.random(total) < label_noise)
        noisy_labels = np.where(noisy, (labels + rng.integers(1, num_classes, total)) % num_classes, labels)
        split = pa.table({"index": np.arange(total, dtype=np.int64), "label": noisy_labels, "role": role,
                          "clean_label": labels, "noisy": noisy})
        splits.append(out / paths.SPLIT.format(seed=s))
        write_table(split, splits[-1], {"seed": s, "num_classes": num_classes, "dataset": "cifar10"})
        proxy_dir = out / paths.PROXY.format(proxy=proxy, seed=s)
        needed = {f for m in methods for f in get_method(m).proxy_files(method_params(config, m), plan)}
        for name in needed:
            (proxy_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (proxy_dir / name).write_bytes(b"\0" * int(rng.integers(10_000, 2_000_000)))
        if needed:
            benchmarks.append(out / paths.benchmark("train_proxy").format(proxy=proxy, seed=s))
            _bench(benchmarks[-1], rng.uniform(200, 400), 2500, rng)
        pool_labels = noisy_labels[:pool]
        for m in methods:
            benchmarks.append(out / paths.benchmark("score", "seed").format(proxy=proxy, method=m, seed=s))
            _bench(benchmarks[-1], rng.uniform(0.5, 60), rng.uniform(200, 3000), rng)
            full_only = get_method(m).full_only
            select_wall, target_wall = 0.0, dict.fromkeys(archs, 0.0)  # one job per method and seed (and arch)
            for f in ([1.0] if full_only else fractions):
                if not full_only and rng.random() < drop:
                    continue
                label = repr(float(f))
                k = pool if full_only else max(1, round(f * pool))
                index = np.sort(rng.choice(pool, size=k, replace=False))
                subset = pa.table({"index": index.astype(np.int64), "label": pool_labels[index].astype(np.int64),
                                   "weight": np.ones(k), "rank": np.arange(k, dtype=np.int64)})
                subsets.append(out / paths.SUBSET.format(proxy=proxy, method=m, fraction=label, seed=s))
                write_table(subset, subsets[-1], {"method": m, "fraction": float(f), "seed": s, "k": k, "params": {}})
                select_wall += rng.uniform(0.3, 2)
                for arch in archs:
                    acc = float(np.clip(0.93 - 0.25 * (1 - f) ** 3 + skill[m] / 100 * (1 - f)
                                        + rng.normal(0, 0.005), 0, 1))
                    wall = rng.uniform(50, 120) * (0.2 + f)
                    rows.append({"dataset": "cifar10", "arch": arch, "method": m, "fraction": float(f), "seed": s,
                                 "k": k, "test_accuracy": acc, "test_accuracy_best": min(1.0, acc + 0.004),
                                 "best_epoch": 200, "test_loss": 1 - acc, "epochs": 200, "steps": 200 * k // 128,
                                 "budget": "epochs", "weighted": False, "wall_seconds": wall, "proxy_arch": proxy,
                                 "device": "cuda:0", "per_class_accuracy": list(rng.uniform(acc - .05, acc + .05,
                                                                                             num_classes))})
                    target_wall[arch] += wall
            if select_wall:
                benchmarks.append(out / paths.benchmark("select", "seed").format(proxy=proxy, method=m, seed=s))
                _bench(benchmarks[-1], select_wall, rng.uniform(150, 400), rng)
                for arch in archs:
                    job = paths.benchmark("train_target", "seed")  # the fake jobs train a method's fractions
                    benchmarks.append(out / job.format(proxy=proxy, arch=arch, method=m, seed=s))
                    _bench(benchmarks[-1], target_wall[arch], rng.uniform(2000, 4000), rng)
    frame = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    write_results(frame, out / paths.TABLE, out / paths.TABLE_CSV)
    return {"results_path": str(out / paths.TABLE), "out_dir": str(out / paths.REPORT), "config": config,
            "benchmarks": [str(p) for p in benchmarks], "subsets": [str(p) for p in subsets],
            "splits": [str(p) for p in splits], "proxy_runs": str(out / paths.fill(paths.PROXY, proxy=proxy))}


def usable_methods() -> list[str]:
    """Registered methods that run on the faked proxy plan (10 epochs, a snapshot at epoch 2) with defaults."""
    usable = []
    for name in REGISTRY:
        try:
            validate_config({"dataset": {"name": "cifar10"}, "methods": [name], "proxy": {"snapshot_epochs": [2]}})
        except ConfigError:
            continue
        usable.append(name)
    return usable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1500, help="target runs to fake (about)")
    parser.add_argument("--pool", type=int, default=45_000, help="candidate pool size (CIFAR: 45,000)")
    parser.add_argument("--methods", help="comma-separated registry names (default: every method that runs here)")
    parser.add_argument("--keep", type=Path, help="build here and keep it (default: a temporary folder)")
    args = parser.parse_args()
    methods = args.methods.split(",") if args.methods else usable_methods()
    archs = ("small_cnn", "resnet18")
    per_seed = sum(1 if get_method(m).full_only else len(DEEPCORE_FRACTIONS) for m in methods) * len(archs)
    seeds = list(range(max(1, -(-args.rows // per_seed))))  # at least --rows
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        tick = time.perf_counter()
        kwargs = fake_workflow(root, methods, DEEPCORE_FRACTIONS, seeds, archs, pool=args.pool)
        rows = len(pd.read_parquet(kwargs["results_path"]))
        print(f"built {rows} result rows ({len(methods)} methods, {len(DEEPCORE_FRACTIONS)} fractions, "
              f"{len(seeds)} seeds, {len(archs)} archs), {len(kwargs['benchmarks'])} benchmark files, "
              f"{len(kwargs['subsets'])} subsets of a {args.pool:,}-sample pool in {time.perf_counter() - tick:.1f}s")
        tick = time.perf_counter()
        pipeline.report(**kwargs)
        seconds = time.perf_counter() - tick
        print(f"report, in process: {seconds:.1f}s (target: under 30 s for 1,500 runs; "
              f"{'met' if seconds < 30 else 'NOT met'})")
        script = ("import json, sys; from prunebench import pipeline; "
                  "pipeline.report(**json.loads(sys.stdin.read()))")
        import json
        tick = time.perf_counter()
        subprocess.run([sys.executable, "-c", script], input=json.dumps(kwargs), text=True, check=True,
                       cwd=REPO)
        print(f"report, fresh process (imports included, as the report job): {time.perf_counter() - tick:.1f}s")
        page = Path(kwargs["out_dir"]) / "index.html"
        print(f"index.html: {page.stat().st_size / 1e6:.1f} MB; {len(list(page.parent.glob('*.png')))} figures")


if __name__ == "__main__":
    main()
