"""Every registered method through the real steps: a real proxy run on synthetic images, real Parquet files.

Budgets are exact per class (balanced) or in total (global) at every fraction, a seed
always gives the same subset file, and every method refuses bad parameters in one
line before anything trains.
"""

import numpy as np
import pytest
from conftest import synthetic_proxy_run

from prunebench import pipeline
from prunebench.budgets import class_budgets, total_budget
from prunebench.config import ConfigError, validate_config
from prunebench.io import read_table, table_metadata
from prunebench.methods import REGISTRY, ProxyPlan

PROXY = {"arch": "small_cnn", "epochs": 4, "batch_size": 32, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4,
         "nesterov": True, "schedule": "cosine", "milestones": [], "gamma": 0.1, "augment": None,
         "snapshot_epochs": [2], "log_in_training": True, "log_kl_shift": True, "repeats": 2}
PLAN = ProxyPlan(epochs=4, snapshot_epochs=(2,), log_kl_shift=True, repeats=2, arch="small_cnn")
# windows and trajectories that fit a 4-epoch log; everything else at its registry default
FITS = {"dyn_unc": {"window": 3}, "dual": {"epochs": 4, "window": 3}, "tdds": {"epochs": 4, "window": 3},
        "deepfool": {"max_iter": 5}, "slocurv": {"probes": 2}, "boundary_ccs": {"max_steps": 5}}
FRACTIONS = (0.02, 0.1, 0.25, 0.5, 1.0)


@pytest.fixture(scope="module")
def proxy_run(tmp_path_factory):
    return synthetic_proxy_run(tmp_path_factory.mktemp("methods"), PROXY, {"num_classes": 3, "train_per_class": 70,
                               "test_per_class": 5, "image_size": 14}, label_noise=0.1, repeats=2)


def score_and_select(folder, name, fraction, tag=""):
    method = REGISTRY[name]
    params = method.params(FITS.get(name))
    assert method.problems(params, PLAN) == []
    scores = folder / f"{name}{tag}.parquet"
    if not scores.exists():
        pipeline.score(name, params, PLAN, folder / "split.parquet", folder / "proxy", 0, scores,
                       data_dir=folder / "data", device="cpu")
    out = folder / f"{name}{tag}_{fraction}.parquet"
    pipeline.select(scores, fraction, out, folder / "split.parquet", folder / "proxy")
    return out, params


@pytest.mark.parametrize("name", sorted(set(REGISTRY) - {"full"}))
def test_every_method_meets_its_budget_exactly_and_repeats_itself(proxy_run, name):
    split = read_table(proxy_run / "split.parquet").to_pandas()
    pool = split[split["role"] == "pool"]
    counts = pool["label"].value_counts().sort_index().to_numpy()
    for fraction in FRACTIONS:
        out, params = score_and_select(proxy_run, name, fraction)
        subset = read_table(out).to_pandas()
        assert subset["index"].is_unique and set(subset["index"]) <= set(pool["index"])
        assert (subset["label"].to_numpy() == pool.set_index("index").loc[subset["index"], "label"].to_numpy()).all()
        got = subset["label"].value_counts().reindex(range(3), fill_value=0).to_numpy()
        if params["balanced"]:
            assert got.tolist() == class_budgets(counts, fraction).tolist(), fraction
        assert len(subset) == total_budget(len(pool), fraction) == table_metadata(read_table(out))["k"]
        again, _ = score_and_select(proxy_run, name, fraction, tag="_again")
        assert again.read_bytes() == out.read_bytes()  # same seed, same bytes (scoring included)


def test_a_sampler_draws_differently_for_another_fraction_but_not_for_the_same_one(proxy_run):
    small, _ = score_and_select(proxy_run, "ccs", 0.25)
    large, _ = score_and_select(proxy_run, "ccs", 0.5)
    assert not set(read_table(small).column("index").to_pylist()) <= set(read_table(large).column("index").to_pylist())


def test_the_kl_shift_signal_is_logged_from_the_second_epoch(proxy_run):
    kl = np.stack(read_table(proxy_run / "proxy" / "dynamics_train.parquet").column("kl_shift").to_numpy(
        zero_copy_only=False))
    assert np.isnan(kl[:, 0]).all() and np.isfinite(kl[:, 1:]).all() and (kl[:, 1:] >= 0).all()


def test_repeats_are_independent_runs_that_stop_at_the_snapshot(proxy_run):
    main = read_table(proxy_run / "proxy" / "snapshot_epoch2.parquet").column("logits").to_pylist()
    repeat = read_table(proxy_run / "proxy" / "repeat1" / "snapshot_epoch2.parquet").column("logits").to_pylist()
    assert main != repeat
    assert sorted(p.name for p in (proxy_run / "proxy" / "repeat1").iterdir()) == [
        "model_epoch2.pt", "snapshot_epoch2.parquet"]


def config_with(method, params, proxy=None):
    return {"dataset": {"name": "synthetic"}, "proxy": {"epochs": 8, "snapshot_epochs": [2], **(proxy or {})},
            "methods": [method], "method_params": {method: params}}


@pytest.mark.parametrize("method, params, proxy, message", [
    ("dyn_unc", {"window": 20}, None, "dyn_unc: window=20 must be an integer in [2, 8] (a window longer than"),
    ("dual", {}, None, "dual: epochs=30 must be an integer in [2, 8] (the early epochs DUAL scores"),
    ("dual", {"epochs": 6, "window": 7}, None, "dual: window=7 must be an integer in [2, 6]"),
    ("tdds", {"epochs": 8}, None, "tdds: needs the per-epoch KL term of the training pass; set proxy.log_kl_shift"),
    ("tdds", {"epochs": 8, "window": 9}, {"log_kl_shift": True}, "tdds: window=9 must be an integer in [3, 8]"),
    ("ccs", {"cutoff": 1.0}, None, "ccs: cutoff=1.0 must be a number in [0, 1)"),
    ("ccs", {"cutoff": -0.1}, None, "ccs: cutoff=-0.1 must be a number in [0, 1)"),
    ("ccs", {"score": "forgetting"}, {"log_in_training": False},
     "ccs: needs in-training signals, but proxy.log_in_training is false"),
    ("boundary_ccs", {"cutoff": 2}, None, "boundary_ccs: cutoff=2 must be a number in [0, 1)"),
    ("el2n", {"repeats": 3}, None, "el2n: repeats=3 must be an integer in [1, 1] (proxy.repeats"),
    ("grand", {"epoch": 8}, {"repeats": 2}, "grand: epoch=8 has no proxy snapshot in every repeat; allowed: [2]"),
    ("grand", {"form": "exact"}, None, "grand: form='exact' must be one of 'last_layer', 'full'"),
    ("deepfool", {"epoch": 3}, None, "deepfool: epoch=3 has no proxy snapshot; allowed: [2, 8]"),
    ("forgetting", {"compat": "cords"}, None, "forgetting: compat='cords' must be one of None, 'deepcore'"),
])
def test_bad_parameters_fail_in_one_line_before_anything_runs(method, params, proxy, message):
    with pytest.raises(ConfigError) as error:
        validate_config(config_with(method, params, proxy))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_grand_full_gradient_form_reads_every_repeat_model_and_agrees_with_the_last_layer_form(proxy_run):
    scores = {}
    for form in ("last_layer", "full"):
        params = REGISTRY["grand"].params({"form": form})
        assert REGISTRY["grand"].problems(params, PLAN) == []
        out = proxy_run / f"grand_{form}.parquet"
        pipeline.score("grand", params, PLAN, proxy_run / "split.parquet", proxy_run / "proxy", 0, out,
                       data_dir=proxy_run / "data", device="cpu")
        scores[form] = read_table(out).column("score").to_numpy()
    assert REGISTRY["grand"].proxy_files(REGISTRY["grand"].params({"form": "full"}), PLAN) == [
        "snapshot_epoch2.parquet", "repeat1/snapshot_epoch2.parquet", "model_epoch2.pt", "repeat1/model_epoch2.pt"]
    assert (scores["full"] >= 0).all()
    # the last layer's gradient is part of the full one, and drives its ranking
    assert np.corrcoef(scores["full"], scores["last_layer"])[0, 1] > 0.5
