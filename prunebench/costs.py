"""Measured costs: Snakemake benchmark files and the size on disk of the signals each method reads.

Every rule writes a benchmark TSV under `results/<dataset>/benchmarks/<rule>/...` (columns s, h:m:s,
max_rss, max_vms, max_uss, max_pss, io_in, io_out, mean_load, cpu_time). This module reads them into
one tidy table, with the rule's wildcards parsed from the path, and builds the per-method cost
table of the report. Nothing here is estimated: a cost that was not measured stays missing (NaN).
"""

from __future__ import annotations

import math
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .io import DataError
from .paths import SCOPED, SCOPES, job_pattern

# the benchmark files of the jobs the report costs, from the same templates the rules write them by
# (a score, select or train_target job's path says its job_scope: the wildcards it keeps)
_LAYOUT = [(rule, job_pattern(rule)) for rule in ("train_proxy", "train_proxy_repeat")]
_LAYOUT += [(rule, job_pattern(rule, scope)) for rule in SCOPED for scope in SCOPES]
_REPEAT_FILE = re.compile(r"(?:^|[/\s])repeat(\d+)/")
BENCHMARK_COLUMNS = {"s": "wall_s", "cpu_time": "cpu_s", "max_rss": "max_rss_mb", "max_uss": "max_uss_mb",
                     "io_in": "io_in_mb", "io_out": "io_out_mb", "mean_load": "mean_load"}
TABLE_COLUMNS = ["rule", "proxy", "arch", "method", "fraction", "seed", "repeat", *BENCHMARK_COLUMNS.values()]


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:  # Snakemake writes "-" or "NA" for what it could not measure
        return math.nan
    return value


def read_benchmark(path: str | os.PathLike) -> dict[str, float]:
    """One benchmark TSV as {column: value}; repeated runs (`repeat()`) are averaged, unmeasured values are NaN."""
    lines = Path(path).read_text().splitlines()
    if len(lines) < 2:
        raise DataError(f"{path}: not a Snakemake benchmark file (no data row)")
    header = lines[0].split("\t")
    if "s" not in header:
        raise DataError(f"{path}: not a Snakemake benchmark file (no 's' column)")
    rows = [[_number(v) for v in line.split("\t")] for line in lines[1:] if line.strip()]
    with warnings.catch_warnings():  # h:m:s is text, never a number: its mean is NaN by design
        warnings.simplefilter("ignore", RuntimeWarning)
        values = np.nanmean(np.array(rows, dtype=float), axis=0)
    return dict(zip(header, values.tolist()))


def parse_benchmark_path(path: str | os.PathLike) -> dict:
    """The rule and wildcards of a benchmark file, from its path below `benchmarks/`."""
    text = Path(path).as_posix()
    stem, _, extension = text.rsplit("benchmarks/", 1)[-1].rpartition(".")
    for rule, pattern in _LAYOUT:
        match = pattern.fullmatch(stem) if extension in ("tsv", "jsonl") else None
        if match:
            found = match.groupdict()
            return {"rule": rule, "proxy": found.get("proxy"), "arch": found.get("arch"), "method": found.get("method"),
                    "fraction": float(found["fraction"]) if "fraction" in found else math.nan,
                    "seed": int(found["seed"]) if "seed" in found else None, "repeat": int(found.get("repeat") or 0)}
    raise DataError(f"{path}: not a benchmark path of {', '.join(dict.fromkeys(rule for rule, _ in _LAYOUT))}")


def benchmark_table(paths: list[str | os.PathLike], seeds: list[int] = ()) -> pd.DataFrame:
    """One row per benchmark file and seed: rule, proxy, arch, method, fraction, seed and the measured columns
    (MB, seconds). A job over every seed (job_scope: method) gives each of `seeds` an equal share of its seconds
    (its peak memory is each seed's)."""
    rows = []
    for path in paths:
        values = read_benchmark(path)
        row = {**parse_benchmark_path(path),
               **{name: values.get(column, math.nan) for column, name in BENCHMARK_COLUMNS.items()}}
        if row["seed"] is not None:
            rows.append(row)
            continue
        if not seeds:
            raise DataError(f"{path}: a job over every seed, but the seeds were not given")
        share = {"wall_s": row["wall_s"] / len(seeds), "cpu_s": row["cpu_s"] / len(seeds)}
        rows += [{**row, **share, "seed": seed} for seed in seeds]
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def signal_bytes(proxy_runs: str, methods: dict[str, list[str]], seeds: list[int]) -> pd.DataFrame:
    """Bytes on disk of the proxy outputs each method reads, per seed.

    proxy_runs: the folder of each seed's proxy run, with a {seed} field; methods: {name: the proxy files it
    reads (Method.proxy_files)}. A method that reads no proxy output has 0 bytes; a file that is missing leaves
    that seed's value NaN (not measured), never 0.
    """
    rows = []
    for name, files in methods.items():
        for seed in seeds:
            paths = [Path(proxy_runs.format(seed=seed)) / f for f in files]
            total = sum(p.stat().st_size for p in paths) if all(p.exists() for p in paths) else math.nan
            rows.append({"method": name, "seed": seed, "signal_bytes": total, "files": " ".join(files)})
    return pd.DataFrame(rows, columns=["method", "seed", "signal_bytes", "files"])


COST_COLUMNS = ["proxy_wall_s", "score_wall_s", "select_wall_s", "selection_wall_s", "selection_cpu_s",
                "selection_peak_mb", "signal_bytes", "target_wall_s", "target_cpu_s", "target_peak_mb"]


def cost_table(bench: pd.DataFrame, signals: pd.DataFrame, methods: dict[str, int]) -> pd.DataFrame:
    """Per method (rows, in `methods` order; values: the method's fractions, 1 for a full-only method),
    measured means over seeds (and archs), from `benchmark_table` (which shares a job over every seed among them):

    proxy_wall_s     the proxy training runs the method reads (the main run, plus the repeats it
                     averages over), counted whole (0 for methods that read no proxy output);
    score_wall_s     the method's scoring, per seed;
    select_wall_s    one subset's share of the method's selection (a `select` job may select every
                     fraction), per seed;
    selection_*      proxy (if read) + score + one select share: wall and CPU seconds, peak resident
                     memory (MB);
    signal_bytes     size on disk of the proxy outputs the method reads;
    target_*         one training's share of a `train_target` job (which may train every fraction of a
                     method and architecture): wall, CPU seconds; peak memory of the job.
    """
    # a select or train_target job over every fraction (no fraction in its path) shares it among them
    bench = bench.assign(share=[methods.get(m, 1) if r in ("select", "train_target") and math.isnan(f) else 1
                                for r, m, f in zip(bench["rule"], bench["method"], bench["fraction"])])
    bench = bench.assign(wall_s=bench["wall_s"] / bench["share"], cpu_s=bench["cpu_s"] / bench["share"])
    def per_seed(rule: str, column: str, how: str = "mean") -> pd.Series:
        part = bench[bench["rule"] == rule]
        if rule in ("train_proxy", "train_proxy_repeat"):
            return part.groupby(["seed", "repeat"])[column].agg(how)
        return part.groupby(["method", "seed"])[column].agg(how)

    # proxy runs by (seed, repeat): the main run is repeat 0, train_proxy_repeat writes repeats 1..
    proxy_wall, proxy_cpu, proxy_rss = (pd.concat([per_seed("train_proxy", c), per_seed("train_proxy_repeat", c)])
                                        for c in ("wall_s", "cpu_s", "max_rss_mb"))
    score_wall, score_cpu, score_rss = (per_seed("score", c) for c in ("wall_s", "cpu_s", "max_rss_mb"))
    select_wall, select_cpu = per_seed("select", "wall_s"), per_seed("select", "cpu_s")
    select_rss = per_seed("select", "max_rss_mb", "max")
    target = bench[bench["rule"] == "train_target"].groupby("method")
    files = signals.groupby("method")["files"].first() if len(signals) else pd.Series(dtype=str)
    rows = []
    for method in methods:
        read = str(files.get(method, "") or "")
        uses_proxy = bool(read)
        runs = sorted({0, *(int(r) for r in _REPEAT_FILE.findall(read))})  # the proxy runs this method reads
        seeds = sorted({s for (m, s) in score_wall.index if m == method} | {s for (m, s) in select_wall.index
                                                                            if m == method})
        wall, cpu, peak, proxies = [], [], [], []
        for seed in seeds:
            parts_wall = [score_wall.get((method, seed), math.nan), select_wall.get((method, seed), math.nan)]
            parts_cpu = [score_cpu.get((method, seed), math.nan), select_cpu.get((method, seed), math.nan)]
            parts_rss = [score_rss.get((method, seed), math.nan), select_rss.get((method, seed), math.nan)]
            proxy = sum(proxy_wall.get((seed, r), math.nan) for r in runs) if uses_proxy else 0.0
            proxies.append(proxy)
            if uses_proxy:
                parts_cpu.append(sum(proxy_cpu.get((seed, r), math.nan) for r in runs))
                parts_rss.append(_max([proxy_rss.get((seed, r), math.nan) for r in runs]))
            wall.append(sum([proxy, *parts_wall]))  # NaN when any part was not measured
            cpu.append(sum(parts_cpu))
            peak.append(_max(parts_rss))
        sig = signals.loc[signals["method"] == method, "signal_bytes"]
        rows.append({
            "method": method,
            "proxy_wall_s": _mean(proxies),
            "score_wall_s": _mean([score_wall.get((method, s), math.nan) for s in seeds]),
            "select_wall_s": _mean([select_wall.get((method, s), math.nan) for s in seeds]),
            "selection_wall_s": _mean(wall),
            "selection_cpu_s": _mean(cpu),
            "selection_peak_mb": _mean(peak),
            "signal_bytes": sig.mean() if len(sig) and sig.notna().all() else math.nan,
            "target_wall_s": target["wall_s"].mean().get(method, math.nan),
            "target_cpu_s": target["cpu_s"].mean().get(method, math.nan),
            "target_peak_mb": target["max_rss_mb"].max().get(method, math.nan),
        })
    return pd.DataFrame(rows, columns=["method", *COST_COLUMNS]).set_index("method")


def _mean(values: list[float]) -> float:
    """Mean of measured values; NaN when none was measured or any is missing (a partial sum is not a cost)."""
    if not values or any(math.isnan(v) for v in values):
        return math.nan
    return float(np.mean(values))


def _max(values: list[float]) -> float:
    """Largest value; NaN when any is missing."""
    return math.nan if any(math.isnan(v) for v in values) else max(values)
