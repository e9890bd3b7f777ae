"""Presets of published protocols: their exact hyperparameters, and a dry run that needs no data or GPU."""

import re

import pytest
from conftest import REPO, snakemake

from prunebench.config import load_config
from prunebench.methods import get_method

PRESETS = ["cifar10-deepcore.yaml", "cifar100-cld.yaml", "imagenet-cld.yaml", "imagenet-slice.yaml"]


@pytest.fixture(autouse=True)
def imagenet_folder(tmp_path, monkeypatch):
    """The ImageNet presets name their data folder relative to the working directory, as a user's run does."""
    (tmp_path / "data" / "imagenet").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)


def preset(name):
    return load_config(REPO / "config.yaml", REPO / "configs" / name)  # as Snakemake merges --configfile


def test_deepcore_preset_has_deepcores_hyperparameters():
    cfg = preset("cifar10-deepcore.yaml")
    proxy, target = cfg["proxy"], cfg["target"]
    assert cfg["dataset"]["name"] == "cifar10" and len(cfg["seeds"]) == 5
    assert (proxy["arch"], proxy["epochs"], proxy["lr"], proxy["schedule"], proxy["augment"]) == \
        ("resnet18", 10, 0.1, "constant", False)
    assert (target["archs"], target["epochs"], target["schedule"], target["batch_size"], target["augment"]) == \
        (["resnet18"], 200, "cosine", 128, True)
    for section in (proxy, target):
        assert (section["momentum"], section["weight_decay"], section["nesterov"]) == (0.9, 5e-4, True)
    assert cfg["fractions"] == [0.001, 0.005, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    assert all(get_method(m).params(cfg["method_params"].get(m))["balanced"] for m in cfg["methods"])
    assert cfg["proxy"]["repeats"] == 10 and cfg["method_params"]["grand"]["repeats"] == 10  # DeepCore's GraNd


def test_cld_preset_has_clds_hyperparameters():
    cfg = preset("cifar100-cld.yaml")
    assert cfg["dataset"]["name"] == "cifar100" and cfg["split"]["query_fraction"] == 0.1 and "cld" in cfg["methods"]
    for section in (cfg["proxy"], cfg["target"]):
        assert (section["epochs"], section["schedule"], section["milestones"], section["gamma"]) == \
            (164, "multistep", [81, 121], 0.1)
        assert (section["lr"], section["momentum"], section["weight_decay"], section["nesterov"],
                section["batch_size"], section["augment"]) == (0.1, 0.9, 5e-4, True, 128, True)
    assert cfg["proxy"]["arch"] == "resnet18" and cfg["target"]["archs"] == ["resnet18"]


def test_imagenet_cld_preset_has_clds_imagenet_protocol():
    cfg = preset("imagenet-cld.yaml")
    dataset, proxy, target = cfg["dataset"], cfg["proxy"], cfg["target"]
    assert (dataset["name"], dataset["store_size"], dataset["crop_size"]) == ("imagenet", 256, 224)
    assert cfg["split"]["query_fraction"] == 0.01 and len(cfg["seeds"]) == 5 and "cld" in cfg["methods"]
    assert (min(cfg["fractions"]), max(cfg["fractions"])) == (0.001, 0.95)
    for section in (proxy, target):
        assert (section["epochs"], section["schedule"], section["milestones"], section["gamma"]) == \
            (164, "multistep", [81, 121], 0.1)
        assert (section["lr"], section["momentum"], section["weight_decay"], section["nesterov"],
                section["batch_size"], section["augment"]) == (0.1, 0.9, 5e-4, True, 128, True)
    assert proxy["arch"] == "resnet18" and target["archs"] == ["resnet18"] and proxy["precision"] == "fp32"
    assert proxy["repeats"] == 1


def test_imagenet_slice_is_a_class_and_sample_stratified_slice():
    cfg = preset("imagenet-slice.yaml")
    assert (cfg["dataset"]["num_classes"], cfg["split"]["max_samples"], cfg["proxy"]["data"]) == (100, 26000, "stream")


@pytest.mark.parametrize("name", PRESETS)
def test_preset_dry_run_plans_every_job_without_data(tmp_path, name):
    cfg = preset(name)
    done = snakemake(tmp_path, "--configfile", str(REPO / "configs" / name), "-n")
    stats = done.stdout.split("Job stats:")[-1]
    jobs = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M)}
    full = sum(get_method(m).full_only for m in cfg["methods"])
    assert jobs["prepare_data"] == 1 and jobs["train_proxy"] == len(cfg["seeds"])
    assert jobs.get("train_proxy_repeat", 0) == len(cfg["seeds"]) * (cfg["proxy"]["repeats"] - 1)
    # one job per method, seed (and architecture) selects, and trains on, every fraction
    per_arch = len(cfg["seeds"]) * len(cfg["target"]["archs"])
    assert jobs["select"] == (len(cfg["methods"]) - full) * len(cfg["seeds"])
    assert jobs["select_full"] == full * len(cfg["seeds"])
    assert jobs["train_target"] == (len(cfg["methods"]) - full) * per_arch
    assert jobs["train_target_full"] == full * per_arch and jobs["report"] == 1
    assert not (tmp_path / "results").exists()  # a dry run writes nothing
