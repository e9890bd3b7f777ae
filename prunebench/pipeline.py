"""One function per pipeline step, from input paths to output paths.

The workflow scripts call these; they know nothing of Snakemake, so each step
can also be run from Python or a test. Training and plotting modules are
imported inside the steps that use them: importing torch and matplotlib costs
seconds, and scoring and selection jobs are many and short.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa

from . import archs, store
from .datasets import get_dataset, open_cache, save_cache, verify
from .errors import InputError
from .io import DataError, read_table, sha256_file, table_metadata, write_json, write_table
from .methods import ProxyPlan, get_method
from .selection import (
    SUBSET_COLUMNS,
    check_fraction,
    check_scores,
    check_subset,
    select_rows,
    selection_rng,
    subset_table,
)
from .signals import Signals
from .splits import SPLIT_COLUMNS, budget_problem, read_query_scores, rows_of, split_params
from .splits import make_split as draw_split

log = logging.getLogger(__name__)


def prepare_data(dataset: dict, out_dir: str | os.PathLike, workers: int = 1) -> None:
    """Load, verify and cache the dataset described by the config's `dataset` section.

    Image folders are decoded by `workers` threads, straight into the cache.
    """
    spec = get_dataset(dataset["name"])
    if spec.prepare is not None:
        spec.prepare(dataset, out_dir, workers)
        try:
            verify(open_cache(out_dir)[0], dataset["name"])
        except DataError:
            shutil.rmtree(out_dir)  # nothing that looks finished is left
            raise
        return
    data = spec.load(dataset["root"], dataset["download_root"], **dataset.get("options", {}))
    verify(data, dataset["name"])
    save_cache(data, out_dir, dataset["name"])
    log.info("cached %s: %d train, %d test, %d classes, images %s", dataset["name"], len(data.train_labels),
             len(data.test_labels), data.num_classes, data.train_images.shape[1:])


def make_split(data_dir, split: dict, seed: int, out: str | os.PathLike) -> None:
    """The split of the config's `split` section; a biased query set reads its score file, whose content
    (not its name) the split's metadata records."""
    data, meta = open_cache(data_dir)
    labels = np.asarray(data.train_labels)
    split = split_params(split)
    scores = None
    if "query_scores" in split:
        scores = read_query_scores(split["query_scores"], len(labels))
        split = {**{k: v for k, v in split.items() if k != "query_scores"},
                 "query_scores_sha256": sha256_file(split["query_scores"])}
    table = draw_split(labels, data.num_classes, split["query_fraction"], seed, split["label_noise"],
                       split["max_samples"], split.get("query_selection", "random"), scores)
    write_table(table, out, {**split, "seed": seed, "num_classes": data.num_classes, "dataset": meta["name"]})
    log.info("split seed %d: %d pool, %d query, %d noisy labels", seed, (np.asarray(table["role"]) == "pool").sum(),
             (np.asarray(table["role"]) == "query").sum(), np.asarray(table["noisy"]).sum())


def _read_split(path) -> pa.Table:
    return read_table(path, SPLIT_COLUMNS)


def train_proxy(data_dir, split_path, proxy: dict, seed: int, device: str, out_dir: str | os.PathLike,
                repeat: int = 0, crop_size: int | None = None) -> None:
    """Train proxy run `repeat` on the pool and write its dynamics, snapshots and weights into `out_dir`.

    Repeat 0 is the main run; repeats 1.. are independent short runs that only keep
    snapshots (see prunebench.proxy). A checkpoint is kept after every epoch and
    removed once the outputs are written.
    """
    from .proxy import train_proxy as run_proxy
    from .proxy import write_proxy_run
    from .settings import train_settings
    from .training import resolve_device

    data, meta = open_cache(data_dir)
    data = dataclasses.replace(data, crop_size=crop_size)  # the training view is the config's, not the store's
    split = _read_split(split_path)
    pool_index, pool_labels = rows_of(split, "pool")
    query_index, query_labels = rows_of(split, "query")
    settings = train_settings(proxy, meta["augment"])
    resolved = resolve_device(device)
    code = step_code("train_proxy", arch=proxy["arch"])  # the rule's code param: one digest for both
    stored = store.proxy_key(data_dir, split_path, {**proxy, "crop_size": crop_size}, seed, repeat, resolved.type,
                             code)
    if store.restore(stored, out_dir):  # the same run finished before, in this or another config
        return
    checkpoint = Path(out_dir) / ("checkpoint.pt" if repeat == 0 else f"checkpoint_repeat{repeat}.pt")
    run = run_proxy(data, meta["mean"], meta["std"], pool_index, pool_labels, query_index, query_labels,
                    proxy["arch"], settings, seed, resolved, tuple(proxy["snapshot_epochs"]),
                    checkpoint=checkpoint, log_in_training=proxy["log_in_training"],
                    log_kl_shift=proxy["log_kl_shift"], repeat=repeat, data_mode=proxy.get("data", "auto"))
    written = write_proxy_run(run, out_dir, {"seed": seed, "arch": proxy["arch"], "settings": settings.as_dict(),
                                             "dataset": meta["name"], "crop_size": crop_size}, repeat)
    checkpoint.unlink(missing_ok=True)
    store.save(stored, out_dir, written)
    log.info("proxy run %d done: train %.1fs, eval pass %.1fs", repeat, run.seconds["train"], run.seconds["eval"])


def score(method: str, params: dict, plan: ProxyPlan, split_path, proxy_dir, seed: int,
          out: str | os.PathLike, data_dir=None, device: str = "auto", label: str | None = None) -> None:
    """Score every pool sample with registered `method`; the table keeps the method's own score semantics.
    `label`: the config's name for this entry (a variant's), which its subsets and results carry."""
    spec = get_method(method)
    signals = Signals(_read_split(split_path), proxy_dir, data_dir, device)
    scored = spec.score(signals, params, seed, plan)
    columns = dict(scored) if isinstance(scored, dict) else {"score": scored}
    for name, values in columns.items():
        values = np.asarray(values, dtype=np.float64)
        if values.shape != signals.labels.shape:
            raise ValueError(f"{method}: returned {values.shape} {name} values for {len(signals.labels)} pool samples")
        if not np.isfinite(values).all():
            raise ValueError(f"{method}: {int((~np.isfinite(values)).sum())} {name} values are not finite")
        columns[name] = values
    table = pa.table({"index": pa.array(signals.index, pa.int64()), "label": pa.array(signals.labels, pa.int64()),
                      **{name: pa.array(values, pa.float64()) for name, values in columns.items()}})
    write_table(table, out, {"method": label or method, "base_method": method, "params": params, "seed": seed,
                             "signals": list(spec.signals), "keep": params["keep"], "balanced": params["balanced"]})
    scores = columns["score"]
    log.info("%s seed %d: scored %d samples (min %.4g, max %.4g)", label or method, seed, len(scores), scores.min(),
             scores.max())


def scored_method(meta: dict):
    """The registered method a score table's metadata names (a variant's label is in `method`, its method in
    `base_method`, which score tables from before variants lack)."""
    return get_method(meta.get("base_method", meta["method"]))


def select(scores_path, fraction: float, out: str | os.PathLike, split_path=None, proxy_dir=None) -> None:
    """Write the subset at `fraction` from a score table (its metadata says how to rank).

    Methods with their own sampler (strata, Beta sampling, weights) draw with a
    generator seeded by (seed, method, fraction); the rest take the top of the ranking.
    """
    table = read_table(scores_path, required=("index", "label", "score"))
    meta = table_metadata(table, scores_path, ("method", "keep", "balanced", "seed", "params"))
    check_scores(table, scores_path)
    method = scored_method(meta)
    columns = {name: table.column(name).to_numpy() for name in table.column_names}
    index, labels = columns["index"], columns["label"]
    weights = None
    if method.subset is None:
        rows = select_rows(columns["score"], labels, index, fraction, meta["keep"], meta["balanced"])
    else:
        check_fraction(fraction)
        signals = Signals(_read_split(split_path), proxy_dir) if split_path else None
        rows, weights = method.subset(columns, fraction, meta["params"], selection_rng(meta["seed"], method.name,
                                                                                       fraction), signals)
        if len(np.unique(rows)) != len(rows):
            raise ValueError(f"{method.name}: the sampler returned repeated rows")
    if len(rows) == 0:
        raise InputError(budget_problem(np.bincount(labels), [fraction]) or f"fraction {fraction} kept no sample")
    write_table(subset_table(rows, index, labels, weights), out,
                {"method": meta["method"], "fraction": fraction, "seed": meta["seed"], "k": len(rows),
                 "params": meta["params"], "weighted": weights is not None})
    log.info("%s fraction %g seed %d: kept %d of %d", meta["method"], fraction, meta["seed"], len(rows), len(index))


def score_each(method: str, params: dict, plan: ProxyPlan, seeds: list[int], split_paths: list, proxy_dirs: list,
               outs: list, data_dir=None, device: str = "auto", label: str | None = None) -> None:
    """`score` for each seed, with that seed's split, proxy run and output, in this process (start-up is paid
    once)."""
    for seed, split_path, proxy_dir, out in zip(seeds, split_paths, proxy_dirs, outs, strict=True):
        score(method, params, plan, split_path, proxy_dir, seed, out, data_dir, device, label)


def select_each(scores_paths: list, fractions: list[float], outs: list, split_paths: list | None = None,
                proxy_dirs: list | None = None) -> None:
    """`select` at every fraction of each score table (one per seed; with that seed's split and proxy run for
    samplers that read signals), in this process (start-up is paid once); `outs` is seed-major."""
    n = len(scores_paths)
    tables = zip(scores_paths, split_paths or [None] * n, proxy_dirs or [None] * n, _per_seed(outs, n), strict=True)
    for scores_path, split_path, proxy_dir, seed_outs in tables:
        for fraction, out in zip(fractions, seed_outs, strict=True):
            select(scores_path, fraction, out, split_path, proxy_dir)


def _per_seed(paths: list, seeds: int) -> list[list]:
    """A seed-major list of paths (every fraction of one seed, then of the next), cut into one list per seed."""
    paths = list(paths)
    if len(paths) % seeds:
        raise ValueError(f"{len(paths)} paths do not split evenly over {seeds} seeds")
    size = len(paths) // seeds
    return [paths[i * size:(i + 1) * size] for i in range(seeds)]


def train_target(data_dir, subset_path, target: dict, arch: str, seed: int, device: str, proxy_arch: str,
                 out: str | os.PathLike, split_path, crop_size: int | None = None) -> None:
    """Train `arch` from scratch on one subset and write one result record (JSON); see `train_targets`."""
    train_targets(data_dir, [subset_path], target, arch, [seed], device, proxy_arch, [out], [split_path],
                  crop_size=crop_size)


def train_targets(data_dir, subset_paths: list, target: dict, arch: str, seeds: list[int], device: str,
                  proxy_arch: str, outs: list, split_paths: list, packing: int = 1,
                  crop_size: int | None = None) -> None:
    """Train `arch` from scratch on each subset (each checked against its seed's split first) and
    write one result record (JSON) per subset. `split_paths` go with `seeds`; `subset_paths` and
    `outs` are seed-major: every subset of the first seed, then of the next.

    The trainings run one after another in this process (torch, the dataset and the device are set
    up once), or with `packing` > 1 on up to that many worker processes at once, which share the
    device (several small trainings fill one GPU); each training then has 1/`packing` of this
    process's CPU threads, however many subsets there are, so its result does not depend on them.
    Each training keeps a checkpoint beside its record after every epoch and resumes from it. The
    checkpoints are removed only once every record is written: Snakemake deletes all outputs of a
    job that fails or is killed, so the rerun resumes each training from its own checkpoint (a
    finished one just repeats its final test evaluation) instead of training it again.
    """
    per_seed = zip(seeds, split_paths, _per_seed(subset_paths, len(seeds)), _per_seed(outs, len(seeds)), strict=True)
    jobs = [(str(subset), str(out), int(seed), str(split))
            for seed, split, subsets, seed_outs in per_seed for subset, out in zip(subsets, seed_outs, strict=True)]
    common = [target, arch, device, proxy_arch, crop_size]
    if packing > 1:
        _run_packed(jobs, common, str(data_dir), packing)
    else:
        _train_each(jobs, common, open_cache(data_dir))
    for _, out, _, _ in jobs:
        Path(f"{out}.checkpoint.pt").unlink(missing_ok=True)


def _train_each(jobs: list, common: list, data: tuple) -> None:
    """`jobs` (subset, output, seed, split) one after another; each seed's split is read once."""
    splits: dict[str, pa.Table] = {}
    for subset, out, seed, split_path in jobs:
        if split_path not in splits:
            splits[split_path] = _read_split(split_path)
        _train_one(subset, out, seed, common, data, splits[split_path])


def _run_packed(jobs: list, common: list, data_dir: str, packing: int) -> None:
    """Run `jobs` on up to `packing` fresh Python processes at once (plain subprocesses:
    multiprocessing would re-run the calling script, a Snakemake script without a main guard),
    round robin; each has 1/`packing` of this process's CPU threads and appends to its log files."""
    import json
    import subprocess
    import sys

    from .plugins import loaded_plugins

    workers = min(packing, len(jobs))
    threads = max(1, int(os.environ.get("OMP_NUM_THREADS", "1")) // packing)
    logs = []
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):  # from here on every process appends to the job's log
            handler.close()
            handler.mode = "a"
            logs.append(handler.baseFilename)
    env = {**os.environ, **{v: str(threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}}
    code = "from prunebench.pipeline import _packed_worker; _packed_worker()"
    running = []
    for worker in range(workers):
        spec = {"jobs": jobs[worker::workers], "common": common, "data_dir": data_dir, "logs": logs,
                "plugins": list(loaded_plugins)}
        process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, env=env, text=True)
        process.stdin.write(json.dumps(spec))
        process.stdin.close()
        running.append(process)
    failed = sum(process.wait() != 0 for process in running)
    if failed:  # each said why in the log; the job fails with one more line
        raise InputError(f"{failed} of {workers} packed training processes failed (their errors are above)")


def _packed_worker() -> None:
    """Entry point of one packed worker process: its share of trainings, one after another."""
    import json
    import sys

    from .plugins import load_plugins
    from .runtime import setup

    spec = json.load(sys.stdin)
    setup(None, int(os.environ["OMP_NUM_THREADS"]))
    root = logging.getLogger()
    for name in spec["logs"]:
        handler = logging.FileHandler(name, mode="a")
        handler.setFormatter(root.handlers[0].formatter)
        root.addHandler(handler)
    try:
        load_plugins(spec["plugins"])  # the job's plugins (an architecture may come from one)
        _train_each(spec["jobs"], spec["common"], open_cache(spec["data_dir"]))
    except InputError as err:  # as run_step: bad input in one line, a bug keeps its traceback
        log.error("train_targets: %s", err)
        sys.exit(1)


def _train_one(subset_path: str, out: str, seed: int, common: list, data: tuple, split: pa.Table) -> None:
    from .settings import train_settings
    from .target import train_target as run_target
    from .training import resolve_device

    target, arch, device, proxy_arch, crop_size = common
    images, meta = data
    images = dataclasses.replace(images, crop_size=crop_size)
    subset = read_table(subset_path, SUBSET_COLUMNS)
    info = table_metadata(subset, subset_path, ("method", "fraction", "k", "seed"))
    check_subset(subset, info, subset_path, split, seed)
    settings = train_settings(target, meta["augment"])
    result = run_target(images, meta["mean"], meta["std"], subset.column("index").to_numpy(),
                        subset.column("label").to_numpy(), subset.column("weight").to_numpy(), arch, settings,
                        seed, resolve_device(device), checkpoint=f"{out}.checkpoint.pt",
                        eval_every=target.get("eval_every"), data_mode=target.get("data", "auto"))
    record = {"dataset": meta["name"], "arch": arch, "method": info["method"], "fraction": info["fraction"],
              "seed": seed, "k": info["k"], "budget": settings.budget, "proxy_arch": proxy_arch, **result}
    write_json(record, out)
    log.info("%s %s f=%g seed %d: test accuracy %.4f (%.1f s)", arch, info["method"], info["fraction"], seed,
             result["test_accuracy"], result["wall_seconds"])


def aggregate(result_paths: list, parquet_out, csv_out) -> None:
    from .results import aggregate as aggregate_results
    from .results import write_results

    frame = aggregate_results(result_paths)
    write_results(frame, parquet_out, csv_out)
    log.info("aggregated %d runs", len(frame))


def report(results_path, out_dir, config: dict, benchmarks: list = (), subsets: list = (), splits: list = (),
           proxy_runs: str | None = None) -> None:
    """Tables, figures, index.html and summary.md from the results, the rules' benchmark files
    (train_proxy, score, select, train_target), the subset and split Parquets, and the proxy outputs' sizes.
    Costs and subsets are those of target.proxy's runs, whose folders `proxy_runs` names (a {seed} field)."""
    from .config import method_labels, method_params, method_spec, proxy_plan
    from .costs import benchmark_table, cost_table, signal_bytes
    from .report import report_fraction, write_report
    from .subset_stats import gather_subsets

    frame = read_table(results_path).to_pandas()
    costs = None
    if benchmarks:
        plan, labels = proxy_plan(config, config["target"]["proxy"]), method_labels(config)
        files = {m: method_spec(config, m).proxy_files(method_params(config, m), plan) for m in labels}
        signals = signal_bytes(proxy_runs, files, config["seeds"])
        per_job = {m: 1 if method_spec(config, m).full_only else len(config["fractions"]) for m in labels}
        costs = cost_table(benchmark_table(benchmarks, config["seeds"]), signals, per_job)
    stats = gather_subsets(subsets, splits, report_fraction(config)) if subsets else None
    log.info("report written: %s", write_report(frame, out_dir, config, costs, stats))


def step_code(step: str, method: str | None = None, params: dict | None = None, parts=(),
              arch: str | None = None) -> str:
    """A digest of the library code step `step` runs; with `method`, also of that method's modules and of
    the difficulty score it is computed from (CCS, D2-Pruning), so editing one method's module changes only its steps'.
    `parts`: more registry entries whose code the step runs (a dataset's loader); `arch`: the architecture
    whose builder it trains (a plugin's module counts like the library's)."""
    from .codehash import step_digest
    from .methods.registry import base_score

    if arch is not None:
        parts = [*parts, archs.code(arch)]
    parts, pending = list(parts), [(method, params)] if method else []
    while pending:
        name, values = pending.pop()
        spec = get_method(name)
        if spec not in parts:
            parts.append(spec)
            base = base_score(spec, spec.params(values))
            if base is not None:
                pending.append(base)
    return step_digest(globals()[step], *parts)

