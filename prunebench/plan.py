"""What a configuration will run, before it runs: jobs per rule, trainings, epochs, images, and
(after a short calibration on this machine's device) the time and GPU-hours they will take.

The job counts follow rules/*.smk (score, select and train_target jobs per method, and architecture for
targets, times the seeds and fractions each job keeps under job_scope; full-only methods in select_full /
train_target_full); the tests hold them equal to a Snakemake dry run of the same configs.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .budgets import total_budget
from .config import method_labels, method_params, method_spec, proxy_plan, target_runs, target_settings
from .datasets import get_dataset
from .paths import data_dir, job_wildcards
from .settings import train_settings


@dataclass
class Training:
    """Trainings that share an architecture and a size: how many, and what each processes."""

    kind: str  # "proxy", "proxy repeat" or "target"
    arch: str
    count: int
    epochs: int
    images: int  # training images (forward + backward) of one training
    eval_images: int  # images of its evaluation passes (forward only)
    batch_size: int


@dataclass
class Plan:
    dataset: str
    pool: int
    jobs: dict[str, int]
    scope: str  # the config's job_scope: what one score, select and train_target job covers
    trainings: list[Training] = field(default_factory=list)

    def totals(self, kind: str | None = None, arch: str | None = None) -> tuple[int, int, int, int]:
        """(trainings, epochs, training images, evaluation images), of one kind (and architecture) or all."""
        rows = [t for t in self.trainings if kind in (None, t.kind) and arch in (None, t.arch)]
        return (sum(t.count for t in rows), sum(t.count * t.epochs for t in rows),
                sum(t.count * t.images for t in rows), sum(t.count * t.eval_images for t in rows))


def dataset_sizes(cfg: dict) -> tuple[int, int]:
    """(train, test) images: from a prepared cache if there is one, the registry, else by loading it."""
    import json

    dataset = cfg["dataset"]
    meta = Path(data_dir(cfg)) / "meta.json"
    if meta.exists():
        values = json.loads(meta.read_text())
        return values["train_size"], values["test_size"]
    spec = get_dataset(dataset["name"])
    if spec.class_counts is not None and spec.test_size is not None:
        return sum(spec.class_counts(dataset.get("options", {}))), spec.test_size
    if spec.prepare is not None:  # an image folder: its files are listed, not decoded
        from .datasets import FOLDER_DATASETS
        from .imagefolder import spread_classes

        listing = spread_classes(FOLDER_DATASETS[dataset["name"]](dataset["root"]), dataset["num_classes"])
        return len(listing.train), len(listing.test)
    data = spec.load(dataset["root"], dataset["download_root"], **dataset.get("options", {}))
    return len(data.train_labels), len(data.test_labels)


def _images(settings, k: int) -> tuple[int, int]:
    """(epochs, training images) of one training on k samples: a step budget may end mid-epoch."""
    per_epoch = math.ceil(k / settings.batch_size)
    steps = settings.total_steps(k)
    full, rest = divmod(steps, per_epoch)
    return settings.num_epochs(k), full * k + min(rest * settings.batch_size, k)


def make_plan(cfg: dict) -> Plan:
    """The plan of a validated config (prunebench.config.load_config)."""
    train, test = dataset_sizes(cfg)
    used = min(train, cfg["split"]["max_samples"] or train)
    query = total_budget(used, cfg["split"]["query_fraction"])
    pool = used - query
    seeds = len(cfg["seeds"])
    runs = target_runs(cfg)  # (proxy, target, method): train_target jobs
    selections = sorted({(proxy, m) for proxy, _, m in runs})  # score and select jobs
    full_only = {m for m in method_labels(cfg) if method_spec(cfg, m).full_only}
    # per proxy architecture whose runs some method reads: the proxy files and the repeat runs they need
    files = {}
    for proxy, m in selections:
        plan = proxy_plan(cfg, proxy)
        files.setdefault(proxy, set()).update(method_spec(cfg, m).proxy_files(method_params(cfg, m), plan))
    proxies = [proxy for proxy in cfg["proxy"]["archs"] if files.get(proxy)]
    repeats = {p: sorted({int(r) for f in files[p] for r in re.findall(r"(?:^|/)repeat(\d+)/", f)}) for p in proxies}
    scope = cfg["job_scope"]

    def per_job(rule: str, methods: list[str]) -> int:
        """Jobs of `rule` for these methods: one per method, times each seed and fraction its jobs keep."""
        kept = job_wildcards(rule, scope)
        return sum((seeds if "seed" in kept else 1)
                   * (1 if m in full_only or "fraction" not in kept else len(cfg["fractions"])) for m in methods)

    subset_methods = [m for _, m in selections if m not in full_only]
    full_methods = [m for _, m in selections if m in full_only]
    jobs = {"prepare_data": 1, "make_split": seeds, "train_proxy": len(proxies) * seeds,
            "train_proxy_repeat": sum(map(len, repeats.values())) * seeds,
            "score": per_job("score", [m for _, m in selections]),
            "select": per_job("select", subset_methods), "select_full": per_job("select", full_methods),
            "train_target": per_job("train_target", [m for *_, m in runs if m not in full_only]),
            "train_target_full": per_job("train_target", [m for *_, m in runs if m in full_only]),
            "aggregate": 1, "report": 1}
    out = Plan(cfg["dataset"]["name"], pool, jobs, scope)

    augment = get_dataset(cfg["dataset"]["name"]).augment
    settings = train_settings(cfg["proxy"], augment)
    snapshots = cfg["proxy"]["snapshot_epochs"]
    for proxy in proxies:  # the main run: an eval pass over pool and query after every epoch
        epochs, images = _images(settings, pool)
        out.trainings.append(Training("proxy", proxy, seeds, epochs, images, epochs * used, settings.batch_size))
        if repeats[proxy]:  # repeats stop after the last snapshot epoch and evaluate only at snapshots
            last = max(snapshots)
            out.trainings.append(Training("proxy repeat", proxy, seeds * len(repeats[proxy]), last, last * pool,
                                          len(snapshots) * used, settings.batch_size))
    target = train_settings(target_settings(cfg), augment)
    every = cfg["target"].get("eval_every")
    sizes: dict[tuple[str, int], int] = {}  # (target arch, subset size): trainings
    for _, arch, method in runs:
        for fraction in [1.0] if method in full_only else cfg["fractions"]:
            key = (arch, total_budget(pool, fraction))
            sizes[key] = sizes.get(key, 0) + seeds
    for (arch, k), count in sorted(sizes.items(), key=lambda item: (cfg["target"]["archs"].index(item[0][0]),
                                                                    item[0][1])):
        epochs, images = _images(target, k)
        evals = len(set(range(every, epochs + 1, every)) | {epochs}) if every else 1
        out.trainings.append(Training("target", arch, count, epochs, images, evals * test, target.batch_size))
    return out


# ---- calibration: a few training steps and an evaluation pass on this machine's device


def calibrate(cfg: dict, archs: set[str], device: str = "auto", seconds: float = 3.0) -> dict:
    """Measured training and evaluation images per second per architecture on one thread per
    training (as the workflow's target jobs run on a CPU) or the GPU, and a job's start-up seconds."""
    import numpy as np
    import torch

    from .models import build_model
    from .settings import TrainSettings
    from .training import DeviceData, Trainer, predict, resolve_device

    resolved = resolve_device(device)
    if resolved.type == "cpu":
        torch.set_num_threads(1)
    spec = get_dataset(cfg["dataset"]["name"])
    shape = _image_shape(cfg)
    rates = {}
    for arch in sorted(archs):
        batch = cfg["target"]["batch_size"]
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (4 * batch, *shape), dtype=np.uint8)
        labels = rng.integers(0, 10, len(images))
        data = DeviceData(images, labels, spec.mean, spec.std, resolved)
        model = build_model(arch, shape[2], 10, shape[0], 0).to(resolved)
        trainer = Trainer(model, TrainSettings(epochs=10**6, batch_size=batch, augment=spec.augment), len(data), 0)
        trainer.train_epoch(data, 0)  # warm-up: allocations, kernels
        done, tick, epoch = 0, time.perf_counter(), 1
        while time.perf_counter() - tick < seconds:
            trainer.train_epoch(data, epoch)
            done, epoch = done + len(data), epoch + 1
        _sync(resolved)
        train_rate = done / (time.perf_counter() - tick)
        predict(model, data)
        done, tick = 0, time.perf_counter()
        while time.perf_counter() - tick < seconds / 3:
            predict(model, data)
            done += len(data)
        _sync(resolved)
        rates[arch] = (train_rate, done / (time.perf_counter() - tick))
    tick = time.perf_counter()  # what every training job pays before it trains: Python, torch, prunebench
    subprocess.run([sys.executable, "-c", "import torch, prunebench.pipeline, prunebench.target"], check=True)
    return {"device": str(resolved), "rates": rates, "startup_s": time.perf_counter() - tick}


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def _image_shape(cfg: dict) -> tuple[int, int, int]:
    import json

    meta = Path(data_dir(cfg)) / "meta.json"
    if meta.exists():
        return tuple(json.loads(meta.read_text())["shape"])
    return {"fashion_mnist": (28, 28, 1), "cifar10": (32, 32, 3), "cifar100": (32, 32, 3)}.get(
        cfg["dataset"]["name"], (28, 28, 1))


def estimate(plan: Plan, calibration: dict, cores: int) -> dict:
    """Seconds of device time per kind of training, and the wall time on `cores` CPUs (or one GPU).

    CPU: trainings and job start-ups spread over `cores` one-thread processes. GPU: trainings one
    after another on one device, so device seconds are GPU-seconds (before any packing)."""
    seconds = {}
    for t in plan.trainings:
        train_rate, eval_rate = calibration["rates"][t.arch]
        seconds[t.kind] = seconds.get(t.kind, 0.0) + t.count * (t.images / train_rate + t.eval_images / eval_rate)
    startup = calibration["startup_s"] * sum(plan.jobs.values())
    gpu = calibration["device"].startswith("cuda")
    wall = (sum(seconds.values()) + startup / cores) if gpu else (sum(seconds.values()) + startup) / cores
    return {"seconds": seconds, "startup_s": startup, "wall_s": wall,
            "gpu_hours": sum(seconds.values()) / 3600 if gpu else None}


def format_plan(plan: Plan, names: list[str], estimates: dict | None = None, calibration: dict | None = None,
                cores: int | None = None) -> str:
    lines = [f"plan of {' + '.join(names)}: {plan.dataset}, a pool of {plan.pool:,} images", "",
             f"jobs per rule (job_scope: {plan.scope}):"]
    width = max(len(r) for r in plan.jobs)
    lines += [f"  {rule.ljust(width)}  {count:>7,}" for rule, count in plan.jobs.items() if count]
    lines.append(f"  {'total'.ljust(width)}  {sum(plan.jobs.values()):>7,}")
    lines += ["", "trainings:  count  epochs (all)  training images  evaluation images"]
    for kind in ("proxy", "proxy repeat", "target"):
        count, epochs, images, evals = plan.totals(kind)
        if count:
            lines.append(f"  {kind:<13}{count:>6,}  {epochs:>12,}  {images:>15,}  {evals:>17,}")
        archs = list(dict.fromkeys(t.arch for t in plan.trainings if t.kind == kind))
        for arch in archs if len(archs) > 1 else ():  # per architecture, where there are several
            count, epochs, images, evals = plan.totals(kind, arch)
            lines.append(f"    {arch:<11}{count:>6,}  {epochs:>12,}  {images:>15,}  {evals:>17,}")
    if estimates is None:
        lines += ["", "time: run `plan --calibrate` to measure this device and estimate it"]
        return "\n".join(lines)
    lines += ["", f"calibration on {calibration['device']}: "
              + ", ".join(f"{arch} {train:,.0f} training / {ev:,.0f} evaluation images/s"
                          for arch, (train, ev) in calibration["rates"].items())
              + f"; a job starts in {calibration['startup_s']:.1f} s"]
    for kind, seconds in estimates["seconds"].items():
        lines.append(f"  {kind:<13}{seconds / 60:>9.1f} device-minutes")
    lines.append(f"  job start-ups {estimates['startup_s'] / 60:>8.1f} process-minutes")
    where = "one GPU, one training at a time" if estimates["gpu_hours"] is not None else f"{cores} CPU cores"
    lines.append(f"estimated wall time here ({where}): {_duration(estimates['wall_s'])}")
    if estimates["gpu_hours"] is not None:
        lines.append(f"estimated GPU-hours (unpacked): {estimates['gpu_hours']:.2f}")
    else:
        lines.append("GPU-hours: not estimated, no GPU here (run `plan --calibrate` on a GPU node)")
    lines.append("(scoring and selection are not timed: seconds per job for the cheap methods)")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    minutes = seconds / 60
    return f"{seconds:.0f} s" if minutes < 2 else f"{minutes:.1f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def cpu_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
