"""Each study's Fashion-MNIST slice (configs/slices/) through real Snakemake: what the study must show, structurally."""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import REPO, preset_files, snakemake

from prunebench import paths
from prunebench.__main__ import main
from prunebench.config import load_config, method_labels, variants
from prunebench.paths import results_dir

pytestmark = pytest.mark.pipeline
SLICES = REPO / "configs" / "slices"


def slice_config(name):
    return load_config(REPO / "config.yaml", SLICES / f"{name}.yaml")


def run_slice(workdir, name, *extra):
    snakemake(workdir, "--configfile", str(SLICES / f"{name}.yaml"), "--cores", "2", *extra)
    return workdir / results_dir(slice_config(name))


def assert_every_cell_filled(results, cfg):
    """Every (method, fraction) of every target has a mean over all seeds, and full data has its row."""
    table = pd.read_csv(results / paths.REPORT / "accuracy.csv")
    table = table[table["proxy_arch"] == cfg["target"]["proxy"]]
    seeds = len(cfg["seeds"])
    for arch in cfg["target"]["archs"]:
        rows = table[table["arch"] == arch].set_index(["method", "fraction"])
        for method in method_labels(cfg):
            for fraction in [1.0] if method == "full" else cfg["fractions"]:
                cell = rows.loc[(method, fraction)]
                assert cell["seeds"] == seeds and np.isfinite(cell["mean"]), (arch, method, fraction)
    summary = (results / paths.REPORT / "summary.md").read_text()
    assert all(f"| {method} |" in summary for method in method_labels(cfg))


def test_cld_slice_fills_every_cell_of_clds_comparison(tmp_path):
    cfg = slice_config("cifar100-cld")
    study = load_config(REPO / "config.yaml", *preset_files("cifar100-cld"))
    assert cfg["methods"] == study["methods"]  # the slice runs every method the study compares
    results = run_slice(tmp_path, "cifar100-cld")
    assert results == tmp_path / "results" / "slice-cifar100-cld"
    assert_every_cell_filled(results, cfg)


@pytest.fixture
def fashion_scores(tmp_path):
    """A seeded score per Fashion-MNIST training image, where the validation slice looks for it."""
    path = tmp_path / "data" / "fashion_mnist_scores.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    index = np.random.default_rng(0).permutation(60_000)  # any order: rows are matched by index
    pq.write_table(pa.table({"index": index, "score": np.random.default_rng(1).random(60_000)}), path)
    return pd.Series(pq.read_table(path)["score"].to_numpy(), index=index).sort_index()


@pytest.mark.usefixtures("user_files")
def test_validation_slice_holds_out_the_lowest_scores_of_each_class(tmp_path, fashion_scores):
    cfg = slice_config("cifar100-validation")
    study = load_config(REPO / "config.yaml", *preset_files("cifar100-validation"))
    assert set(cfg["methods"]) <= set(study["methods"]) and "cld" in cfg["methods"]
    assert cfg["split"]["query_selection"] == study["split"]["query_selection"] == "lowest"
    results = run_slice(tmp_path, "cifar100-validation")
    assert results.name == "slice-cifar100-validation-lowest"
    split = pd.read_parquet(results / paths.SPLIT.format(seed=0))
    split["score"] = fashion_scores.loc[split["index"]].to_numpy()
    by_class = split.groupby(["clean_label", "role"])["score"]
    assert (by_class.max().xs("query", level="role") < by_class.min().xs("pool", level="role")).all()
    assert (split[split["role"] == "query"].groupby("label").size() == 10).all()  # 10% of 100 per class
    assert_every_cell_filled(results, cfg)
    # another composition is another split, run in its own folder; the lowest one stays as it is
    planned = snakemake(tmp_path, "--configfile", str(SLICES / "cifar100-validation.yaml"), "-n",
                        "--config", "split={query_selection: highest}").stdout
    assert f"slice-cifar100-validation-highest/{paths.SPLIT.format(seed=0)}" in planned
    assert "validation-lowest" not in planned
    run_slice(tmp_path, "cifar100-validation", "--config", "split={query_selection: highest}")
    highest = results.with_name("slice-cifar100-validation-highest")
    # the study's claim spans runs: both compositions side by side, each cell its run's own result
    assert main(["compare", str(results), str(highest), "--out", str(tmp_path / "side")]) == 0
    table = pd.read_csv(tmp_path / "side" / "comparison.csv").set_index(["run", "method", "fraction"])
    for run in (results, highest):
        for method in cfg["methods"]:
            result = json.loads((run / paths.TARGET.format(proxy="small_cnn", arch="small_cnn", method=method,
                                                           fraction="0.1", seed=0)).read_text())
            assert table.loc[(run.name, method, 0.1), "mean"] == pytest.approx(100 * result["test_accuracy"])
    assert "| arch | method | fraction | slice-cifar100-validation-lowest | slice-cifar100-validation-highest |" \
        in (tmp_path / "side" / "comparison.md").read_text()


def test_noise_slice_shows_which_methods_keep_mislabeled_samples(tmp_path):
    cfg = slice_config("cifar10-noise")
    study = load_config(REPO / "config.yaml", *preset_files("cifar10-noise"))
    assert set(cfg["methods"]) <= set(study["methods"]) and cfg["split"]["label_noise"] > 0
    results = run_slice(tmp_path, "cifar10-noise")
    assert results.name == "slice-cifar10-noise-0.3"
    assert_every_cell_filled(results, cfg)
    figure = results / paths.REPORT / f"{paths.NOISE_FIGURE}.png"
    assert figure.read_bytes().startswith(b"\x89PNG")
    assert f"{paths.NOISE_FIGURE}.png" in (results / paths.REPORT / "summary.md").read_text()
    # what the figure shows: EL2N keeps the samples the proxy gets most wrong, so far more flipped labels
    noisy = pd.read_parquet(results / paths.SPLIT.format(seed=0)).set_index("index")["noisy"]
    subsets = {m: results / paths.SUBSET.format(proxy=cfg["target"]["proxy"], method=m, fraction="0.1", seed=0)
               for m in cfg["methods"]}
    share = {m: noisy.loc[pd.read_parquet(path)["index"]].mean() for m, path in subsets.items()}
    assert share["el2n"] > share["random"] + 0.1, share


@pytest.mark.usefixtures("user_files")  # the study's ImageNet folder
def test_ablation_slice_runs_clds_variants_side_by_side(tmp_path):
    cfg = slice_config("imagenet-cld")
    study = load_config(REPO / "config.yaml", *preset_files("imagenet-cld"))

    def ablations(c):  # which method each variant runs, and which of its parameters it changes
        return {(entry["method"], tuple(sorted(entry.get("params", {})))) for entry in variants(c).values()}

    assert ablations(cfg) == ablations(study) == {("cld", ("epochs",)), ("cld", ("stride",)),
                                                  ("ccs", ("score", "score_params"))}
    results = run_slice(tmp_path, "imagenet-cld")
    assert_every_cell_filled(results, cfg)
    summary = (results / paths.REPORT / "summary.md").read_text()
    rows = [line.split("|")[1].strip() for line in summary.splitlines() if line.startswith("| cld")]
    assert rows[:3] == ["cld", "cld_first3", "cld_stride2"]  # each variant right after its method
    assert "| cld_first3 − cld |" in summary and "| cld_stride2 − cld |" in summary  # and compared with it
    assert "| ccs_cld − cld |" in summary  # Fig. 5b: CCS on CLD against CLD, the method its score names
    run = {"proxy": cfg["target"]["proxy"], "seed": 0}
    scores = {m: pd.read_parquet(results / paths.SCORES.format(**run, method=m))["score"].to_numpy()
              for m in ("cld", "cld_first3", "cld_stride2")}
    assert not np.allclose(scores["cld"], scores["cld_first3"])
    assert not np.allclose(scores["cld"], scores["cld_stride2"])
    # CCS's 10% hard cutoff drops the lowest CLD scores (the study's direction), so no subset holds one; its 50
    # equal-width strata over the rest each get part of a budget of 90 or 270, the top one too
    cld = pd.read_parquet(results / paths.SCORES.format(**run, method="cld")).set_index("index")["score"]
    ordered = np.sort(cld.to_numpy())
    cutoff, rest = ordered[int(0.1 * len(cld)) - 1], ordered[int(0.1 * len(cld)):]
    top_stratum = rest.max() - (rest.max() - rest.min()) / 50
    for fraction in ("0.1", "0.3"):
        kept = pd.read_parquet(results / paths.SUBSET.format(**run, method="ccs_cld", fraction=fraction))["index"]
        assert cld.loc[kept].min() > cutoff and cld.loc[kept].max() >= top_stratum


@pytest.mark.usefixtures("user_files")  # the study's ImageNet folder
def test_transfer_slice_reports_transfer_beside_the_oracle(tmp_path):
    cfg = slice_config("imagenet-transfer")
    study = load_config(REPO / "config.yaml", *preset_files("imagenet-transfer"))
    for c in (cfg, study):  # a cheap proxy's coresets on other targets, and each target's own proxy
        assert c["target"]["oracle"] and c["target"]["proxy"] not in c["target"]["archs"]
        assert set(c["proxy"]["archs"]) == {c["target"]["proxy"], *c["target"]["archs"]}
    results = run_slice(tmp_path, "imagenet-transfer")
    assert_every_cell_filled(results, cfg)
    table = pd.read_csv(results / paths.REPORT / "accuracy.csv").set_index(["proxy_arch", "arch", "method", "fraction"])
    for fraction in cfg["fractions"]:  # CLD's transfer cell and its oracle cell, both filled
        for proxy in ("resnet18", "small_cnn"):
            assert np.isfinite(table.loc[(proxy, "small_cnn", "cld", fraction), "mean"])
    summary = (results / paths.REPORT / "summary.md").read_text()
    for row in ("resnet18 → small_cnn", "small_cnn → small_cnn (oracle)", "gap to oracle, small_cnn"):
        assert f"| {row} |" in summary, row
    assert (results / paths.REPORT / f"{paths.TRANSFER_FIGURE}.png").read_bytes().startswith(b"\x89PNG")
