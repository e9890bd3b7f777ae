"""job_scope changes which job writes a file, never the file: one config run through real Snakemake with a job per
method (every seed and fraction in one process) and with a job per training gives the same scores, subsets and
target results, and the report costs each training alike."""

import json

import pandas as pd
import pytest
from conftest import snakemake

from prunebench import paths

pytestmark = pytest.mark.pipeline

CONFIG = """
dataset: {name: synthetic, options: {num_classes: 4, train_per_class: 100, test_per_class: 20, image_size: 14}}
seeds: [0, 1]
proxy: {epochs: 4, batch_size: 64}
methods: [random, full, cld]
fractions: [0.25, 0.5]
target: {epochs: 2, batch_size: 64}
"""
OUT = paths.results_dir({"dataset": {"name": "synthetic"}})


def _run(tmp_path, scope: str):
    workdir = tmp_path / scope
    workdir.mkdir()
    (workdir / "config.yaml").write_text(CONFIG + f"job_scope: {scope}\n")
    snakemake(workdir, "--configfile", str(workdir / "config.yaml"), "--cores", "2")
    return workdir / OUT


def test_every_job_scope_writes_the_same_files_and_costs(tmp_path, monkeypatch):
    monkeypatch.setenv("PRUNEBENCH_CACHE", str(tmp_path / "store"))  # the second run restores the proxies
    method, training = _run(tmp_path, "method"), _run(tmp_path, "training")
    # a target job per method, against one per seed and subset: 2 seeds x (2 methods x 2 fractions + full)
    assert len(list((method / "benchmarks" / "train_target").rglob("*.tsv"))) == 3
    assert len(list((training / "benchmarks" / "train_target").rglob("*.tsv"))) == 2 * (2 * 2 + 1)
    for folder in ("scores", "subsets"):
        files = sorted(p.relative_to(method) for p in (method / folder).rglob("*.parquet"))
        assert len(files) == {"scores": 3 * 2, "subsets": (2 * 2 + 1) * 2}[folder]
        assert files == sorted(p.relative_to(training) for p in (training / folder).rglob("*.parquet"))
        for name in files:
            assert (method / name).read_bytes() == (training / name).read_bytes(), name
    results = sorted(p.relative_to(method) for p in (method / "targets").rglob("*.json"))
    assert len(results) == (2 * 2 + 1) * 2
    for name in results:
        one, other = (json.loads((root / name).read_text()) for root in (method, training))
        assert one.pop("wall_seconds") > 0 and other.pop("wall_seconds") > 0
        assert one == other, name
    # the report shares a job over every seed and fraction among its trainings: both give every method a cost
    for root in (method, training):
        costs = pd.read_csv(root / paths.REPORT / "costs.csv", index_col="method")
        assert costs["target_wall_s"].notna().all() and costs["select_wall_s"].notna().all()
    log = (method / paths.log("train_target", "method").format(proxy="small_cnn", arch="small_cnn",
                                                                method="cld")).read_text()
    assert all(f"cld f={f} seed {s}:" in log for f in (0.25, 0.5) for s in (0, 1))  # one process trained all four
