"""Pipeline steps called as the workflow scripts call them: bad input fails in one line, leaves nothing."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import run_step

from prunebench import pipeline
from prunebench.io import DataError, read_table, table_metadata
from prunebench.methods import ProxyPlan, get_method


def test_a_damaged_parquet_fails_with_one_line_naming_the_file(tmp_path):
    scores = tmp_path / "scores.parquet"
    scores.write_bytes(b"PAR1 not really parquet")
    out = tmp_path / "subset.parquet"
    log = tmp_path / "select.log"
    done = run_step("select", log, scores_path=str(scores), fraction=0.5, out=str(out))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"ERROR select: {scores}: damaged or not a Parquet file" in lines[0]
    assert log.read_text() == done.stderr  # the rule's log holds the same line
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["scores.parquet", "select.log"]



def test_bad_input_is_one_line_but_a_bug_keeps_its_traceback(tmp_path):
    """run_step turns the library's named input errors into one line; a KeyError from a bug is not one of them."""
    log = tmp_path / "step.log"
    unknown = run_step("prepare_data", log, dataset={"name": "mnist"}, out_dir=str(tmp_path / "data"))
    assert unknown.returncode == 1
    assert unknown.stderr.strip().splitlines()[-1].endswith("prepare_data: unknown dataset 'mnist'; known: "
                                                            "fashion_mnist, cifar10, cifar100, synthetic, imagenet, "
                                                            "image_folder")
    assert len(unknown.stderr.strip().splitlines()) == 1
    # a step called without the keys it needs: a programming error
    bug = run_step("prepare_data", log, dataset={}, out_dir=str(tmp_path / "data"))
    assert bug.returncode == 1 and "Traceback" in bug.stderr and "KeyError: 'name'" in bug.stderr

def test_a_steps_threads_hold_when_torch_was_imported_before_it():
    """A training's result depends on its thread count: a caller that imported torch first (a config
    check loads the model registry) must still get the threads it asked for, not one per core."""
    code = ("import torch; from prunebench.runtime import run_step; "
            "run_step(lambda: print(torch.get_num_threads()), None, 3)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "3"


def test_synthetic_steps_from_data_to_subset(tmp_path):
    """prepare -> split -> score -> select on the synthetic dataset, no training needed for random."""
    dataset = {"name": "synthetic", "root": None, "download_root": "data",
               "options": {"num_classes": 3, "train_per_class": 50, "test_per_class": 5}}
    pipeline.prepare_data(dataset, tmp_path / "data")
    pipeline.make_split(tmp_path / "data", {"query_fraction": 0.2, "label_noise": 0.0, "max_samples": None}, 0,
                        tmp_path / "split.parquet")
    params = {"keep": "highest", "balanced": True}
    pipeline.score("random", params, None, tmp_path / "split.parquet", None, 0, tmp_path / "scores.parquet")
    pipeline.select(tmp_path / "scores.parquet", 0.25, tmp_path / "subset.parquet")
    subset = read_table(tmp_path / "subset.parquet")
    assert np.bincount(subset.column("label").to_numpy()).tolist() == [10, 10, 10]
    assert table_metadata(subset)["k"] == 30
    with pytest.raises(DataError, match="file not found"):
        pipeline.select(tmp_path / "nope.parquet", 0.25, tmp_path / "other.parquet")


def test_noisy_labels_flow_from_the_split_through_proxy_scores_and_a_step_budgeted_target(tmp_path):
    """Synthetic data end to end: the proxy trains on the split's noisy labels, CLD scores them,
    and a fixed-steps target spends exactly its budget."""
    dataset = {"name": "synthetic", "root": None, "download_root": "data",
               "options": {"num_classes": 4, "train_per_class": 100, "test_per_class": 10}}
    pipeline.prepare_data(dataset, tmp_path / "data")
    pipeline.make_split(tmp_path / "data", {"query_fraction": 0.1, "label_noise": 0.2, "max_samples": None}, 0,
                        tmp_path / "split.parquet")
    proxy = {"arch": "small_cnn", "epochs": 3, "batch_size": 64, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4,
             "nesterov": True, "schedule": "cosine", "milestones": [], "gamma": 0.1, "augment": None,
             "snapshot_epochs": [], "log_in_training": True, "log_kl_shift": False, "repeats": 1}
    pipeline.train_proxy(tmp_path / "data", tmp_path / "split.parquet", proxy, 0, "cpu", tmp_path / "proxy")
    split = read_table(tmp_path / "split.parquet").to_pandas()
    pool = split[split["role"] == "pool"]
    dynamics = read_table(tmp_path / "proxy" / "dynamics_train.parquet").to_pandas()
    assert dynamics["index"].tolist() == pool["index"].tolist()
    assert dynamics["label"].tolist() == pool["label"].tolist()  # noisy labels, not the clean ones
    assert pool["noisy"].sum() == 72
    assert not (tmp_path / "proxy" / "checkpoint.pt").exists()  # removed once the outputs are written

    params = get_method("cld").params({"keep": "highest", "balanced": True})  # every other parameter's default
    plan = ProxyPlan(epochs=3, snapshot_epochs=())
    pipeline.score("cld", params, plan, tmp_path / "split.parquet", tmp_path / "proxy", 0, tmp_path / "cld.parquet")
    pipeline.select(tmp_path / "cld.parquet", 0.5, tmp_path / "subset.parquet")
    target = {**proxy, "archs": ["small_cnn"], "budget": "steps", "steps": 13}
    pipeline.train_target(tmp_path / "data", tmp_path / "subset.parquet", target, "small_cnn", 0, "cpu",
                          "small_cnn", tmp_path / "result.json", tmp_path / "split.parquet")
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["steps"] == 13 and result["budget"] == "steps" and result["k"] == 180
    assert result["method"] == "cld" and result["fraction"] == 0.5


def test_a_step_caps_the_blas_numpy_already_loaded_to_its_threads():
    """Workflow scripts import prunebench (and numpy's BLAS) before run_step sets the threads up."""
    code = ("from prunebench import pipeline; from prunebench.runtime import run_step; "
            "from threadpoolctl import threadpool_info; "
            "run_step(lambda: print(sorted({p['num_threads'] for p in threadpool_info()})), None, 1)")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[1]"
