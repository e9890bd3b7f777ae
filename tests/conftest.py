"""Shared fixtures: the repository, the real smoke pipeline run, synthetic signals."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
SMOKE = REPO / "configs" / "smoke.yaml"


def header_configfiles(path: Path) -> list[str]:
    """The config files, in --configfile order, of the command a preset's header comment gives to run it (a study
    is layered on the protocol it shares): the tests run what a user is told to run. Empty if it gives none."""
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        found = re.search(r"--configfile((?: configs/[\w.-]+\.yaml)+)", line)
        if found:
            return [Path(f).name for f in found[1].split()]
    return []


# every configs/*.yaml but the tests' smoke run is a preset, by its file's stem
PRESETS = {p.stem: header_configfiles(p) for p in sorted((REPO / "configs").glob("*.yaml")) if p != SMOKE}


def preset_files(name: str) -> list[str]:
    return [str(REPO / "configs" / f) for f in PRESETS[name]]


@pytest.fixture
def user_files(tmp_path, monkeypatch):
    """Files presets name relative to the working directory, as a user's run does: the ImageNet folder, the
    validation study's memorization scores (read at config time: one per CIFAR-100 training image)."""
    (tmp_path / "data" / "imagenet").mkdir(parents=True)
    scores = {"index": np.arange(50_000), "score": np.random.default_rng(0).random(50_000)}
    pq.write_table(pa.table(scores), tmp_path / "data" / "cifar100_memorization.parquet")
    monkeypatch.chdir(tmp_path)


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`make test`: whole modules per worker, in this order) the modules that wait
    longest start first: the SLURM tests (mostly polling the cluster), then the real workflow runs."""
    if "PYTEST_XDIST_WORKER" in os.environ:
        items.sort(key=lambda item: (not item.get_closest_marker("slurm"), not item.get_closest_marker("pipeline")))


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 900,
              env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real Snakemake CLI on this repository's Snakefile in `workdir` (with `env`'s variables set too)."""
    command = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(workdir), *args]
    env = {**os.environ, "PATH": f"{SNAKEMAKE.parent}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {})}
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if check and done.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done


def run_step(step: str, log, threads: int = 1, **kwargs) -> subprocess.CompletedProcess:
    """Pipeline step `step` in a fresh process, exactly as a workflow script runs it."""
    code = (f"from prunebench import pipeline; from prunebench.runtime import run_step; "
            f"run_step(pipeline.{step}, {str(log)!r}, {threads}, **{kwargs!r})")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def copy_repo(dest: Path) -> Path:
    """A copy of the repository's git-tracked (and not ignored) files in `dest`."""
    import shutil

    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout
    for name in tracked.splitlines():
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    return dest


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """The smoke config run once through real Snakemake; returns its working directory.

    Under pytest-xdist (`make test`) the workers share one run: the first that needs it runs it
    in their common temporary folder, under a file lock, and the others wait for it."""
    from filelock import FileLock

    if "PYTEST_XDIST_WORKER" not in os.environ:  # plain pytest
        workdir = tmp_path_factory.mktemp("smoke")
        snakemake(workdir, "--configfile", str(SMOKE), "--cores", "2")
        return workdir
    workdir = tmp_path_factory.getbasetemp().parent / "smoke"
    with FileLock(f"{workdir}.lock"):
        if not (workdir / "done").exists():
            workdir.mkdir(exist_ok=True)
            snakemake(workdir, "--configfile", str(SMOKE), "--cores", "2")
            (workdir / "done").touch()
    return workdir


@pytest.fixture(scope="session")
def smoke_results(smoke_run) -> Path:
    return smoke_run / "results" / "fashion_mnist"


def kill_after_checkpoint(module: str, call: str, checkpoint: Path, epoch: int = 2) -> int:
    """Run `module.call` (a test helper writing `checkpoint`) in a child, SIGKILL it once the
    checkpoint holds `epoch`, and return the epoch the checkpoint was left at."""
    import textwrap
    import time

    import torch

    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})
        from {module} import {call.split('(')[0]}
        {call}
        """)])

    def saved_epoch() -> int:
        try:
            return torch.load(checkpoint, weights_only=True)["epoch"] if checkpoint.exists() else 0
        except (EOFError, RuntimeError, FileNotFoundError):  # replaced while reading
            return 0

    deadline = time.time() + 120
    while saved_epoch() < epoch and time.time() < deadline and child.poll() is None:
        time.sleep(0.01)
    child.kill()  # SIGKILL: no chance to clean up
    child.wait()
    return saved_epoch()


def synthetic_proxy_run(folder: Path, proxy: dict, options: dict, query_fraction: float = 0.1,
                        label_noise: float = 0.0, repeats: int = 1) -> Path:
    """A real proxy run (main run and `repeats - 1` repeats) on synthetic images, in `folder`."""
    from prunebench import pipeline

    dataset = {"name": "synthetic", "root": None, "download_root": "data", "options": options}
    pipeline.prepare_data(dataset, folder / "data")
    pipeline.make_split(folder / "data", {"query_fraction": query_fraction, "label_noise": label_noise,
                                          "max_samples": None}, 0, folder / "split.parquet")
    for repeat in range(repeats):
        pipeline.train_proxy(folder / "data", folder / "split.parquet", proxy, 0, "cpu", folder / "proxy", repeat)
    return folder


# one-epoch target settings for tests that run train_target directly
TARGET = {"arch": "small_cnn", "epochs": 1, "batch_size": 32, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4,
          "nesterov": True, "schedule": "cosine", "milestones": [], "gamma": 0.1, "augment": None,
          "archs": ["small_cnn"], "budget": "epochs"}


def synthetic_subset_run(folder: Path, train_per_class: int, query_fraction: float, fraction: float) -> Path:
    """Synthetic data, a split, random scores and the subset at `fraction`: everything a target job reads."""
    from prunebench import pipeline

    dataset = {"name": "synthetic", "root": None, "download_root": "data",
               "options": {"num_classes": 3, "train_per_class": train_per_class, "test_per_class": 5,
                           "image_size": 14}}
    pipeline.prepare_data(dataset, folder / "data")
    pipeline.make_split(folder / "data", {"query_fraction": query_fraction, "label_noise": 0.0, "max_samples": None},
                        0, folder / "split.parquet")
    pipeline.score("random", {"keep": "highest", "balanced": True}, None, folder / "split.parquet", None, 0,
                   folder / "scores.parquet")
    pipeline.select(folder / "scores.parquet", fraction, folder / "subset.parquet")
    return folder
