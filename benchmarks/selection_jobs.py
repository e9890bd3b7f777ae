"""Seconds per score and select job of the geometry, gradient and submodular methods on a real proxy run.

Each job runs in a fresh Python process, as a Snakemake job does (start-up and imports included):

    .venv/bin/python benchmarks/selection_jobs.py RESULTS_DIR [--seed 0] [--fractions 0.01,0.05,0.2]

RESULTS_DIR is a finished run's results/<dataset> folder (split/, proxy/ with the snapshots).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from prunebench import paths

METHODS = ["moderate", "cal", "herding", "kcenter", "contextual_diversity", "d2_pruning", "craig", "gradmatch",
           "glister", "facility_location", "graph_cut", "log_determinant"]

SCORE = """
import sys
from prunebench import pipeline
from prunebench.methods import ProxyPlan, get_method
m = get_method({method!r})
plan = ProxyPlan(epochs={epochs}, snapshot_epochs={snapshots})
pipeline.score({method!r}, m.params({params}), plan, {split!r}, {proxy!r}, {seed}, {out!r})
"""
SELECT = """
from prunebench import pipeline
pipeline.select({scores!r}, {fraction}, {out!r}, {split!r}, {proxy!r})
"""


def timed(code: str) -> float:
    tick = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(done.stderr.strip().splitlines()[-1])
    return time.perf_counter() - tick


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--proxy", default="small_cnn", help="the proxy architecture whose run to score")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--snapshots", default="2")
    parser.add_argument("--fractions", default="0.01,0.05,0.2")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--params", default="None", help="Python literal of overrides for every method")
    args = parser.parse_args()
    root = Path(args.results)
    split = str(root / paths.SPLIT.format(seed=args.seed))
    proxy = str(root / paths.PROXY.format(proxy=args.proxy, seed=args.seed))
    snapshots = tuple(int(s) for s in args.snapshots.split(",") if s)
    fractions = [float(f) for f in args.fractions.split(",")]
    print(f"{'method':22s} {'score s':>8s}  " + "  ".join(f"{'select ' + str(f):>12s}" for f in fractions), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for method in args.methods.split(","):
            scores = f"{tmp}/{method}.parquet"
            try:
                line = [timed(SCORE.format(method=method, epochs=args.epochs, snapshots=snapshots, params=args.params,
                                           split=split, proxy=proxy, seed=args.seed, out=scores))]
                for f in fractions:
                    line.append(timed(SELECT.format(scores=scores, fraction=f, out=f"{tmp}/{method}_{f}.parquet",
                                                    split=split, proxy=proxy)))
            except RuntimeError as error:
                print(f"{method:22s} failed: {error}", flush=True)
                continue
            print(f"{method:22s} {line[0]:8.2f}  " + "  ".join(f"{s:12.2f}" for s in line[1:]), flush=True)


if __name__ == "__main__":
    main()
