"""Where a finished run's job time went, from its Snakemake benchmark files and target result JSONs.

    .venv/bin/python benchmarks/job_overhead.py [results/fashion_mnist]

Prints, per rule, the jobs, their summed wall and CPU seconds; then the share of target job time
not spent training (process start-up, imports, data loading: what many trainings per process cut),
and the share of all job time spent neither training (proxy and target) nor scoring. Target for
the default benchmark: at most 10%.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prunebench.costs import read_benchmark  # noqa: E402


def main(folder: str = "results/fashion_mnist") -> None:
    root = Path(folder)
    rules: dict[str, list[float]] = {}
    for path in sorted((root / "benchmarks").rglob("*.tsv")):
        rule = path.relative_to(root / "benchmarks").parts[0].removesuffix(".tsv")
        values = read_benchmark(path)
        totals = rules.setdefault(rule, [0, 0.0, 0.0])
        totals[0] += 1
        totals[1] += values["s"]
        totals[2] += values.get("cpu_time", 0.0)
    if not rules:
        sys.exit(f"{root}: no benchmark files (run the workflow first)")
    trained = sum(json.loads(p.read_text())["wall_seconds"] for p in (root / "targets").rglob("*.json"))
    runs = len(list((root / "targets").rglob("*.json")))
    print(f"{'rule':<20}{'jobs':>6}{'wall s':>10}{'CPU s':>10}")
    for rule, (jobs, wall, cpu) in sorted(rules.items(), key=lambda item: -item[1][1]):
        print(f"{rule:<20}{jobs:>6}{wall:>10.1f}{cpu:>10.1f}")
    total = sum(wall for _, wall, _ in rules.values())
    print(f"{'all':<20}{sum(j for j, _, _ in rules.values()):>6}{total:>10.1f}"
          f"{sum(c for _, _, c in rules.values()):>10.1f}")

    target_jobs = sum(rules.get(r, [0, 0.0, 0.0])[1] for r in ("train_target", "train_target_full"))
    print(f"\n{runs} target trainings: {trained:.1f} s training (their result JSONs' wall_seconds) in "
          f"{target_jobs:.1f} s of target job time")
    if target_jobs:
        print(f"share of target job time not spent training: {100 * (1 - trained / target_jobs):.1f}%")
    proxy = sum(rules.get(r, [0, 0.0, 0.0])[1] for r in ("train_proxy", "train_proxy_repeat"))
    scoring = rules.get("score", [0, 0.0, 0.0])[1]
    other = total - trained - proxy - scoring
    print(f"share of all job time spent neither training (proxy jobs, target trainings) nor scoring "
          f"(score jobs, start-up included): {100 * other / total:.1f}%")


if __name__ == "__main__":
    main(*sys.argv[1:])
