"""The Python API: scores and subsets from a finished proxy run, checked for what a user relies on."""

import pytest
from conftest import synthetic_proxy_run

import prunebench
from prunebench.errors import InputError
from prunebench.io import read_table
from prunebench.methods import ProxyPlan, get_method

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
def test_score_and_select_rank_the_pool_of_the_split_within_its_budget(run, method, params):
    """What a user relies on: one score per pool sample, and a subset of exactly round(f * n) per class (or
    overall) that is the top of the ranking in its keep direction (or, for CRAIG, weighted medoids)."""
    split = read_table(run / "split.parquet").to_pandas()
    pool = split[split["role"] == "pool"].set_index("index")["label"]
    spec = get_method(method)
    scores = prunebench.score(method, run / "proxy", run / "split.parquet", params)
    assert scores.attrs["method"] == method and scores.attrs["seed"] == 0
    assert scores.attrs["params"] == spec.params(params)
    assert list(scores.columns[:3]) == ["index", "label", "score"] and scores["score"].notna().all()
    assert sorted(scores["index"]) == sorted(pool.index)
    assert scores.set_index("index")["label"].sort_index().equals(pool.sort_index().astype(scores["label"].dtype))

    subset = prunebench.select(scores, 0.25, run / "proxy", run / "split.parquet")
    assert subset.attrs["method"] == method and subset.attrs["fraction"] == 0.25 and subset.attrs["k"] == 24
    assert subset.attrs["weighted"] == (method == "craig") and subset.attrs["params"] == scores.attrs["params"]
    assert len(subset) == 24 and subset["index"].is_unique and set(subset["index"]) <= set(pool.index)
    assert subset["rank"].tolist() == list(range(24))
    balanced = scores.attrs["params"]["balanced"]
    if balanced:
        assert subset["label"].value_counts().to_dict() == {0: 8, 1: 8, 2: 8}  # round(0.25 * 32) in each class
    if method == "craig":
        assert (subset["weight"] > 0).all()
        return
    sign = 1 if scores.attrs["params"]["keep"] == "highest" else -1
    ranked = sign * scores.set_index("index")["score"]
    for label in (range(3) if balanced else [None]):
        rows = subset if label is None else subset[subset["label"] == label]
        others = ranked.drop(subset["index"])
        if label is not None:
            others = others[scores.set_index("index")["label"].drop(subset["index"]) == label]
        kept = ranked[rows["index"]].to_numpy()
        assert kept.min() >= others.max() and (kept[:-1] >= kept[1:]).all()  # the top, in rank order


def test_bad_input_is_one_line(run):
    with pytest.raises(InputError, match=r"^el2n: epoch=9 has no proxy snapshot; allowed: \[2, 3\]"):
        prunebench.score("el2n", run / "proxy", run / "split.parquet", {"epoch": 9})
    with pytest.raises(InputError, match="^unknown method 'nope'; known: random"):
        prunebench.score("nope", run / "proxy", run / "split.parquet")
    scores = prunebench.score("craig", run / "proxy", run / "split.parquet")
    with pytest.raises(InputError, match="reads the proxy's signals: give run_folder and split_file"):
        prunebench.select(scores, 0.25)
