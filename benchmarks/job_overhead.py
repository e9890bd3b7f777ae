"""Where a finished run's job time went, from its Snakemake benchmark files, job logs and target result JSONs.

    .venv/bin/python benchmarks/job_overhead.py [results/fashion_mnist]

Prints, per rule, the jobs, their summed wall and CPU seconds (the benchmark files), the seconds
inside the pipeline step and the seconds of start-up before it (interpreter, imports; the last
line of each job's log, written by prunebench.runtime.run_step); then the share of target job time
not spent training (the trainings' own wall_seconds, data loading on the device included), and
the share of all job time spent neither training (proxy steps, target trainings) nor scoring
(score steps). Start-up, selection, aggregation and the report count as neither. Target for the
default benchmark: at most 10%.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prunebench.costs import read_benchmark  # noqa: E402
from prunebench.runtime import STEP_LINE  # noqa: E402

STEP = re.compile(STEP_LINE.replace("%s", r"(\w+)").replace("%.3f", r"([0-9.]+)"))


def step_seconds(log: Path) -> tuple[float, float] | None:
    """(seconds in the step, seconds of the process before it) from a job's log; None without the line."""
    found = STEP.findall(log.read_text(errors="replace")) if log.exists() else []
    return (float(found[-1][1]), float(found[-1][2])) if found else None


def main(folder: str = "results/fashion_mnist") -> None:
    root = Path(folder)
    rules: dict[str, list[float]] = {}  # jobs, wall, CPU, in step, before the step
    unlogged = 0
    for path in sorted((root / "benchmarks").rglob("*.tsv")):
        relative = path.relative_to(root / "benchmarks")
        rule = relative.parts[0].removesuffix(".tsv")
        values = read_benchmark(path)
        timed = step_seconds((root / "logs" / relative).with_suffix(".log"))
        unlogged += timed is None
        totals = rules.setdefault(rule, [0, 0.0, 0.0, 0.0, 0.0])
        for i, value in enumerate((1, values["s"], values.get("cpu_time", 0.0), *(timed or (0.0, 0.0)))):
            totals[i] += value
    if not rules:
        sys.exit(f"{root}: no benchmark files (run the workflow first)")
    results = [json.loads(p.read_text()) for p in (root / "targets").rglob("*.json")]
    trained = sum(r["wall_seconds"] for r in results)
    print(f"{'rule':<20}{'jobs':>6}{'wall s':>10}{'CPU s':>10}{'step s':>10}{'start-up s':>12}")
    for rule, (jobs, wall, cpu, step, before) in sorted(rules.items(), key=lambda item: -item[1][1]):
        print(f"{rule:<20}{jobs:>6}{wall:>10.1f}{cpu:>10.1f}{step:>10.1f}{before:>12.1f}")
    total = [sum(column) for column in zip(*rules.values())]
    print(f"{'all':<20}{total[0]:>6}{total[1]:>10.1f}{total[2]:>10.1f}{total[3]:>10.1f}{total[4]:>12.1f}")
    if unlogged:
        print(f"({unlogged} jobs have no step line in their log: their time counts as neither training nor scoring)")

    def rule_sum(names: tuple[str, ...], column: int) -> float:
        return sum(rules[r][column] for r in names if r in rules)

    target_jobs = rule_sum(("train_target", "train_target_full"), 1)
    print(f"\n{len(results)} target trainings: {trained:.1f} s training (their result JSONs' wall_seconds) in "
          f"{target_jobs:.1f} s of target job time")
    if target_jobs:
        print(f"share of target job time not spent training: {100 * (1 - trained / target_jobs):.1f}%")
    proxy = rule_sum(("train_proxy", "train_proxy_repeat"), 3)
    scoring = rule_sum(("score",), 3)
    other = total[1] - trained - proxy - scoring
    print(f"all job time {total[1]:.1f} s: proxy steps {proxy:.1f} s, target trainings {trained:.1f} s, score steps "
          f"{scoring:.1f} s; share spent neither training nor scoring: {100 * other / total[1]:.1f}%")


if __name__ == "__main__":
    main(*sys.argv[1:])
