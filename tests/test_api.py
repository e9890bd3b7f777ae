"""The Python API: scores and subsets from a finished proxy run, the same as the workflow's steps."""

import pytest
from conftest import synthetic_proxy_run

import prunebench
from prunebench import pipeline
from prunebench.errors import InputError
from prunebench.io import read_table
from prunebench.methods import ProxyPlan

PROXY = {"arch": "small_cnn", "epochs": 3, "batch_size": 32, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4,
         "nesterov": True, "schedule": "cosine", "milestones": [], "gamma": 0.1, "augment": None,
         "snapshot_epochs": [2], "log_in_training": True, "log_kl_shift": False, "repeats": 1}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return synthetic_proxy_run(tmp_path_factory.mktemp("api"), PROXY, {"num_classes": 3, "train_per_class": 40,
                               "test_per_class": 5, "image_size": 12}, query_fraction=0.2)


def test_the_proxy_plan_is_read_from_the_run(run):
    assert prunebench.proxy_plan(run / "proxy") == ProxyPlan(3, (2, 3), log_in_training=True, log_kl_shift=False,
                                                             repeats=1, arch="small_cnn")


@pytest.mark.parametrize("method, params", [("cld", None), ("el2n", {"epoch": 3}), ("craig", None)])
def test_score_and_select_give_what_the_workflow_steps_write(run, method, params):
    scores = prunebench.score(method, run / "proxy", run / "split.parquet", params)
    assert scores.attrs["method"] == method and scores.attrs["seed"] == 0
    assert list(scores.columns[:3]) == ["index", "label", "score"] and len(scores) == 96
    full = scores.attrs["params"]
    pipeline.score(method, full, prunebench.proxy_plan(run / "proxy"), run / "split.parquet", run / "proxy", 0,
                   run / f"{method}.parquet")
    assert scores.equals(read_table(run / f"{method}.parquet").to_pandas())
    subset = prunebench.select(scores, 0.25, run / "proxy", run / "split.parquet")
    pipeline.select(run / f"{method}.parquet", 0.25, run / f"{method}_subset.parquet", run / "split.parquet",
                    run / "proxy")
    assert subset.equals(read_table(run / f"{method}_subset.parquet").to_pandas()) and len(subset) == 24
    assert subset.attrs["weighted"] == (method == "craig")


def test_bad_input_is_one_line(run):
    with pytest.raises(InputError, match=r"^el2n: epoch=9 has no proxy snapshot; allowed: \[2, 3\]"):
        prunebench.score("el2n", run / "proxy", run / "split.parquet", {"epoch": 9})
    with pytest.raises(InputError, match="^unknown method 'nope'; known: random"):
        prunebench.score("nope", run / "proxy", run / "split.parquet")
    scores = prunebench.score("craig", run / "proxy", run / "split.parquet")
    with pytest.raises(InputError, match="reads the proxy's signals: give run_folder and split_file"):
        prunebench.select(scores, 0.25)
