"""Presets of published protocols: their exact hyperparameters, and a dry run that needs no data or GPU."""

import re

import pytest
from conftest import PRESETS, REPO, preset_files, snakemake

from prunebench import paths
from prunebench.config import load_config, method_labels, method_params, method_spec, reads_proxy, target_runs
from prunebench.methods import REGISTRY, get_method
from prunebench.paths import data_dir, job_wildcards, results_dir

pytestmark = pytest.mark.usefixtures("user_files")


def preset(name):
    return load_config(REPO / "config.yaml", *preset_files(name))  # as Snakemake merges --configfile


def test_deepcore_preset_has_deepcores_hyperparameters():
    cfg = preset("cifar10-deepcore")
    proxy, target = cfg["proxy"], cfg["target"]
    assert cfg["dataset"]["name"] == "cifar10" and len(cfg["seeds"]) == 5
    assert (proxy["archs"], proxy["epochs"], proxy["lr"], proxy["schedule"], proxy["augment"]) == \
        (["resnet18"], 10, 0.1, "constant", False)
    assert (target["archs"], target["epochs"], target["schedule"], target["batch_size"], target["augment"]) == \
        (["resnet18"], 200, "cosine", 128, True)
    for section in (proxy, target):
        assert (section["momentum"], section["weight_decay"], section["nesterov"]) == (0.9, 5e-4, True)
    assert cfg["fractions"] == [0.001, 0.005, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    assert all(get_method(m).params(cfg["method_params"].get(m))["balanced"] for m in cfg["methods"])
    assert cfg["proxy"]["repeats"] == 10 and cfg["method_params"]["grand"]["repeats"] == 10  # DeepCore's GraNd


def test_cld_preset_has_clds_hyperparameters():
    cfg = preset("cifar100-cld")
    assert cfg["dataset"]["name"] == "cifar100" and cfg["split"]["query_fraction"] == 0.1 and "cld" in cfg["methods"]
    for section in (cfg["proxy"], cfg["target"]):
        assert (section["epochs"], section["schedule"], section["milestones"], section["gamma"]) == \
            (164, "multistep", [81, 121], 0.1)
        assert (section["lr"], section["momentum"], section["weight_decay"], section["nesterov"],
                section["batch_size"], section["augment"]) == (0.1, 0.9, 5e-4, True, 128, True)
    assert cfg["proxy"]["archs"] == ["resnet18"] and cfg["target"]["archs"] == ["resnet18"]


def test_cld_preset_compares_clds_methods_on_its_grid_with_five_seeds():
    cfg = preset("cifar100-cld")
    assert set(cfg["methods"]) == {"random", "full", "cld", "forgetting", "el2n", "ccs", "glister", "d2_pruning",
                                   "tdds", "slocurv", "dual"}
    assert cfg["method_params"]["ccs"]["score"] == "aum" and cfg["seeds"] == [0, 1, 2, 3, 4]
    # 1 to 375 images per class of the 450-image pool: 0.2% to 75% of the 50,000 training images
    per_class = [round(f * 450, 6) for f in cfg["fractions"]]
    assert per_class == [1, 5, 10, 25, 50, 100, 150, 250, 375]
    assert (450 * 100 * min(cfg["fractions"]) / 50_000, 450 * 100 * max(cfg["fractions"]) / 50_000) == \
        pytest.approx((0.002, 0.75))


def test_noise_preset_runs_every_method_at_two_noise_levels_in_two_folders(tmp_path):
    cfg = preset("cifar10-noise")
    assert cfg["dataset"]["name"] == "cifar10" and cfg["split"]["label_noise"] == 0.1
    assert set(cfg["methods"]) == {n for n, m in REGISTRY.items() if m.score.__module__.startswith("prunebench.")}
    assert cfg["proxy"]["epochs"] == 164 and cfg["target"]["archs"] == ["resnet18"]  # CLD's CIFAR protocol
    planned = {level: snakemake(tmp_path, "--configfile", *preset_files("cifar10-noise"), "-n",
                                "--config", f"split={{label_noise: {level}}}").stdout for level in (0.1, 0.3)}
    assert "results/cifar10-noise0.1/report/mislabeled_share.png" in planned[0.1]
    assert "results/cifar10-noise0.3/report/mislabeled_share.png" in planned[0.3]
    assert "results/cifar10-noise0.1/" not in planned[0.3]


def test_validation_preset_runs_each_query_composition_in_its_own_folder(tmp_path):
    cfg = preset("cifar100-validation")
    assert cfg["split"]["query_selection"] == "lowest" and cfg["methods"] == ["random", "full", "cld"]
    assert cfg["proxy"] == preset("cifar100-cld")["proxy"]  # CLD's protocol, from its one home
    for how in ("lowest", "highest", "proportional", "random"):
        done = snakemake(tmp_path, "--configfile", *preset_files("cifar100-validation"), "-n",
                         "--config", f"split={{query_selection: {how}}}")
        assert f"results/cifar100-query-{how}/split/seed4.parquet" in done.stdout


def test_imagenet_cld_preset_has_clds_imagenet_protocol():
    cfg = preset("imagenet-cld")
    dataset, proxy, target = cfg["dataset"], cfg["proxy"], cfg["target"]
    assert (dataset["name"], dataset["store_size"], dataset["crop_size"]) == ("imagenet", 256, 224)
    assert cfg["split"]["query_fraction"] == 0.01 and len(cfg["seeds"]) == 5 and "cld" in cfg["methods"]
    # CLD's ablations beside CLD: early checkpoints, subsampled trajectories (Fig. 5a), CCS on CLD (Fig. 5b)
    ablations = {m: method_params(cfg, m) for m in method_labels(cfg) if m != "cld" and "cld" in m}
    assert {m: (p.get("epochs"), p.get("stride"), p.get("score")) for m, p in ablations.items()} == {
        "cld_first55": ([1, 55], 1, None), "cld_first82": ([1, 82], 1, None), "cld_stride2": (None, 2, None),
        "cld_stride3": (None, 3, None), "ccs_cld": (None, None, "cld")}
    # Fig. 5b: CCS's cutoff drops CLD's least aligned end (its hardest), not CLD's kept end
    assert ablations["ccs_cld"]["score_params"]["keep"] == "lowest"
    # the paper's first 30 and 45 of its 90 epochs: the same shares of this preset's proxy schedule
    last = {m: ablations[m]["epochs"][1] for m in ("cld_first55", "cld_first82")}
    assert {m: round(e / proxy["epochs"] * 90) for m, e in last.items()} == {"cld_first55": 30, "cld_first82": 45}
    assert (min(cfg["fractions"]), max(cfg["fractions"])) == (0.001, 0.95)
    for section in (proxy, target):
        assert (section["epochs"], section["schedule"], section["milestones"], section["gamma"]) == \
            (164, "multistep", [81, 121], 0.1)
        assert (section["lr"], section["momentum"], section["weight_decay"], section["nesterov"],
                section["batch_size"], section["augment"]) == (0.1, 0.9, 5e-4, True, 128, True)
    assert proxy["archs"] == ["resnet18"] and target["archs"] == ["resnet18"] and proxy["precision"] == "fp32"
    assert proxy["repeats"] == 1


def test_transfer_preset_trains_four_targets_on_resnet18s_coresets_and_on_their_own(tmp_path):
    cfg, base = preset("imagenet-transfer"), preset("imagenet-cld")
    targets = ["resnet34", "resnet50", "vgg19_bn", "densenet121"]
    assert cfg["target"]["archs"] == targets and cfg["target"]["proxy"] == "resnet18" and cfg["target"]["oracle"]
    assert cfg["proxy"]["archs"] == ["resnet18", *targets]
    assert {k: v for k, v in cfg["proxy"].items() if k != "archs"} == {k: v for k, v in base["proxy"].items()
                                                                      if k != "archs"}  # CLD's ImageNet protocol
    # its own table and report, over imagenet-cld's prepared store (its ResNet-18 proxies come from the proxy store)
    assert results_dir(cfg) == "results/imagenet-transfer" != results_dir(base) and data_dir(cfg) == data_dir(base)
    planned = snakemake(tmp_path, "--configfile", *preset_files("imagenet-transfer"), "-n").stdout
    for arch in targets:
        for proxy in ("resnet18", arch):  # transfer, and the oracle: its own proxy's coresets
            assert paths.TARGET.format(proxy=proxy, arch=arch, method="cld", fraction="0.1", seed=4) in planned
        assert paths.TARGET.format(proxy=arch, arch=arch, method="random", fraction="0.1", seed=4) not in planned


def test_imagenet_slice_is_a_class_and_sample_stratified_slice():
    cfg = preset("imagenet-slice")
    assert (cfg["dataset"]["num_classes"], cfg["split"]["max_samples"], cfg["proxy"]["data"]) == (100, 26000, "stream")
    assert results_dir(cfg) != results_dir(preset("imagenet-cld"))  # its 72-px store is not the full preset's


@pytest.mark.parametrize("name", PRESETS)
def test_preset_dry_run_plans_every_job_without_data(tmp_path, name):
    cfg = preset(name)
    done = snakemake(tmp_path, "--configfile", *preset_files(name), "-n")
    stats = done.stdout.split("Job stats:")[-1]
    jobs = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M)}
    seeds, runs = len(cfg["seeds"]), target_runs(cfg)  # (proxy arch, target arch, method) per target job and seed
    full = {m for m in method_labels(cfg) if method_spec(cfg, m).full_only}
    proxies = {p for p, _, m in runs if reads_proxy(cfg, m)}  # the proxy runs some method's subsets read
    averaged = {"el2n", "grand"} & {method_spec(cfg, m).name for m in method_labels(cfg)}  # they read the repeats
    assert jobs["prepare_data"] == 1 and jobs["train_proxy"] == seeds * len(proxies)
    assert jobs.get("train_proxy_repeat", 0) == seeds * len(proxies) * (cfg["proxy"]["repeats"] - 1) * bool(averaged)
    # a select job per (proxy,) method, a target job per (proxy, target,) method, times the seeds and fractions
    # its job_scope keeps (a full-only method has one fraction)
    kept = job_wildcards("train_target", cfg["job_scope"])
    per_seed, per_fraction = (seeds if "seed" in kept else 1), (len(cfg["fractions"]) if "fraction" in kept else 1)
    selected = {(p, m) for p, _, m in runs}
    full_selected = len({(p, m) for p, m in selected if m in full})
    assert jobs["select_full"] == per_seed * full_selected
    assert jobs["select"] == per_seed * per_fraction * (len(selected) - full_selected)
    full_runs = sum(m in full for _, _, m in runs)
    assert jobs["train_target_full"] == per_seed * full_runs and jobs["report"] == 1
    assert jobs["train_target"] == per_seed * per_fraction * (len(runs) - full_runs)
    assert f"{results_dir(cfg)}/report/index.html" in done.stdout
    assert not (tmp_path / "results").exists()  # a dry run writes nothing
