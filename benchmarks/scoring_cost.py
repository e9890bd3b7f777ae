"""Scoring plus selection of each method, as a share of the proxy training it rests on (Fashion-MNIST).

Reads a finished workflow folder (the default benchmark's, or any run that trained
the proxy of `--seed`), then runs every configured method's real `score` step and
its `select` step at every configured fraction in this process, and prints their
seconds against the proxy's training seconds (from its log). Target: below 5%,
model-probing methods excepted (their cost is reported, not held to it).
Snakemake's per-job cost (Python start-up included) is printed beside it when the
folder has the rules' benchmark files.

    .venv/bin/python benchmarks/scoring_cost.py [--workdir .] [--config config.yaml] [--seed 0]
"""

from __future__ import annotations

import argparse
import csv
import re
import tempfile
import time
from pathlib import Path

from prunebench import paths, pipeline
from prunebench.config import load_config, method_labels, method_params, method_spec, proxy_plan


def proxy_train_seconds(log: Path) -> float:
    """Training seconds of the main proxy run, as its log reports them (eval pass excluded)."""
    found = re.findall(r"proxy run 0 done: train ([\d.]+)s", log.read_text())
    if not found:
        raise SystemExit(f"{log}: no finished proxy run in this log")
    return float(found[-1])


def job_seconds(path: Path) -> float | None:
    if not path.exists():
        return None
    with path.open() as f:
        return float(next(csv.DictReader(f, delimiter="\t"))["s"])


def job_share(out: Path, rule: str, cfg: dict, run: dict, method: str) -> float | None:
    """Seconds of the run's `rule` job of `method` for one seed (under job_scope method one job covers every seed)."""
    scope = cfg["job_scope"]
    seconds = job_seconds(out / paths.benchmark(rule, scope).format(**run, method=method))
    if seconds is None or "seed" in paths.job_wildcards(rule, scope):
        return seconds
    return seconds / len(cfg["seeds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("."))
    parser.add_argument("--config", type=Path, default=Path(__file__).parents[1] / "config.yaml")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cfg = load_config(args.config)
    run = {"proxy": cfg["target"]["proxy"], "seed": args.seed}
    plan = proxy_plan(cfg, run["proxy"])
    out = args.workdir / paths.results_dir(cfg)
    split, proxy = out / paths.SPLIT.format(seed=args.seed), out / paths.PROXY.format(**run)
    train = proxy_train_seconds(out / paths.log("train_proxy").format(**run))
    fractions = cfg["fractions"]
    print(f"proxy training: {train:.1f} s (seed {args.seed}); fractions {fractions}")
    print(f"{'method':<18}{'score s':>9}{'select s':>10}{'share':>8}{'jobs s':>9}  verdict (< 5% of proxy training)")
    with tempfile.TemporaryDirectory() as tmp:
        for name in method_labels(cfg):
            method = method_spec(cfg, name)
            if method.full_only:
                continue
            params = method_params(cfg, name)
            scores = Path(tmp) / f"{name}.parquet"
            tick = time.perf_counter()
            pipeline.score(method.name, params, plan, split, proxy, args.seed, scores,
                           data_dir=args.workdir / paths.data_dir(cfg), device=cfg["device"], label=name)
            scored = time.perf_counter() - tick
            tick = time.perf_counter()
            for fraction in fractions:
                pipeline.select(scores, fraction, Path(tmp) / f"{name}_{fraction}.parquet", split, proxy)
            selected = time.perf_counter() - tick
            share = (scored + selected) / train
            # the run's score and select jobs, per seed (under job_scope method one job covers every seed)
            jobs = [job_share(out, rule, cfg, run, name) for rule in ("score", "select")]
            job_total = f"{sum(jobs):9.1f}" if None not in jobs else f"{'-':>9}"
            probing = method.needs_images(params, plan)
            verdict = "reported" if probing else ("ok" if share < 0.05 else "MISSED")
            print(f"{name:<18}{scored:>9.2f}{selected:>10.2f}{share:>8.1%}{job_total}  {verdict}")


if __name__ == "__main__":
    main()
