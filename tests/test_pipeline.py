"""The smoke config through real Snakemake on a real Fashion-MNIST slice."""

import re

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import REPO, SMOKE, snakemake

from prunebench import paths
from prunebench.budgets import class_budgets, total_budget
from prunebench.config import load_config
from prunebench.io import table_metadata
from prunebench.methods import get_method
from prunebench.report import figure_files

pytestmark = pytest.mark.pipeline


def smoke_config():
    return load_config(REPO / "config.yaml", SMOKE)


def planned_jobs(workdir, *args):
    """Job counts per rule from a dry run."""
    done = snakemake(workdir, "--configfile", str(SMOKE), "-n", *args)
    stats = done.stdout.split("Job stats:")[-1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M) if m[1] != "total"}


def test_results_table_has_one_row_per_target_run(smoke_results):
    cfg = smoke_config()
    frame = pd.read_parquet(smoke_results / paths.TABLE)
    expected = sum(1 if get_method(m).full_only else len(cfg["fractions"]) for m in cfg["methods"])
    assert len(frame) == expected * len(cfg["seeds"])
    assert set(frame["method"]) == set(cfg["methods"])
    assert frame["test_accuracy"].between(0, 1).all()
    assert frame["epochs"].eq(3).all()
    assert frame["best_epoch"].isna().all()  # the test set is evaluated once: no epoch is chosen on it
    assert frame["per_class_accuracy"].map(len).eq(10).all()
    full = frame.loc[frame["method"] == "full"].iloc[0]
    assert full["fraction"] == 1 and full["k"] == 2700  # 3,000-sample slice less the 10% query set
    assert full["test_accuracy"] > frame.loc[frame["fraction"] == 0.1, "test_accuracy"].max()
    csv = pd.read_csv(smoke_results / paths.TABLE_CSV)
    assert len(csv) == len(frame)


def test_subsets_are_unique_pool_samples_with_exact_budgets(smoke_results):
    cfg = smoke_config()
    split = pq.read_table(smoke_results / paths.SPLIT.format(seed=0)).to_pandas()
    pool = split[split["role"] == "pool"]
    pool_counts = np.bincount(pool["label"], minlength=10)
    for method in cfg["methods"]:
        spec = get_method(method)
        for fraction in ([1.0] if spec.full_only else cfg["fractions"]):
            table = pq.read_table(smoke_results / paths.SUBSET.format(proxy="small_cnn", method=method,
                                                                      fraction=repr(float(fraction)), seed=0))
            meta = table_metadata(table)
            subset = table.to_pandas()
            assert list(subset.columns) == ["index", "label", "weight", "rank"]
            assert subset["index"].is_unique and subset["index"].isin(pool["index"]).all()
            assert (subset["label"].values == pool.set_index("index").loc[subset["index"], "label"].values).all()
            assert meta["method"] == method and meta["fraction"] == fraction and meta["k"] == len(subset)
            if spec.balanced:
                budgets = class_budgets(pool_counts, fraction).tolist()
                assert np.bincount(subset["label"], minlength=10).tolist() == budgets
            else:
                assert len(subset) == total_budget(len(pool), fraction)


def test_every_rule_logged_and_benchmarked(smoke_run, smoke_results):
    for rule in ("make_split", "train_proxy", "score", "select", "train_target", "aggregate", "report"):
        for kind, suffix in (("benchmarks", "tsv"), ("logs", "log")):
            folder = smoke_results / kind
            assert (folder / f"{rule}.{suffix}").exists() or list((folder / rule).rglob(f"*.{suffix}")), (kind, rule)
    for name in (paths.log("prepare_data"), paths.benchmark("prepare_data")):  # beside the shared dataset
        assert (smoke_run / paths.data_file(smoke_config(), name)).is_file(), name
    log = (smoke_results / paths.log("train_proxy").format(proxy="small_cnn", seed=0)).read_text()
    assert "epoch 4/4" in log


def test_report_page_table_and_figure(smoke_results):
    page = (smoke_results / paths.REPORT / "index.html").read_text()
    assert "data:image/png;base64," in page and "<table" in page
    summary = (smoke_results / paths.REPORT / "summary.md").read_text()
    for method in smoke_config()["methods"]:
        assert f"| {method} |" in summary
    png = (smoke_results / paths.REPORT / "accuracy_vs_fraction_small_cnn.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_a_second_run_gives_byte_identical_subsets_and_the_same_results(smoke_run, smoke_results, tmp_path):
    snakemake(tmp_path, "--configfile", str(SMOKE), "--cores", "2")
    again = tmp_path / "results" / "fashion_mnist"
    subsets = sorted(p.relative_to(smoke_results) for p in (smoke_results / "subsets").rglob("*.parquet"))
    assert subsets
    for path in subsets:
        assert (again / path).read_bytes() == (smoke_results / path).read_bytes(), path
    run = dict(proxy="small_cnn", seed=0)
    for name in (paths.SPLIT.format(seed=0), f"{paths.PROXY.format(**run)}/dynamics_eval.parquet",
                 paths.SCORES.format(**run, method="cld")):
        assert (again / name).read_bytes() == (smoke_results / name).read_bytes(), name
    first = pd.read_parquet(smoke_results / paths.TABLE).drop(columns="wall_seconds")
    second = pd.read_parquet(again / paths.TABLE).drop(columns="wall_seconds")
    pd.testing.assert_frame_equal(first, second)


def test_forcing_one_methods_scores_reruns_only_its_branch(smoke_run):
    scores = paths.SCORES.format(proxy="small_cnn", method="cld", seed=0)
    jobs = planned_jobs(smoke_run, "--forcerun", f"{paths.results_dir(smoke_config())}/{scores}")
    # one job selects both fractions, one trains on both
    assert jobs == {"score": 1, "select": 1, "train_target": 1, "aggregate": 1, "report": 1, "all": 1}


def test_regenerating_the_report_reruns_nothing_upstream(smoke_run):
    assert planned_jobs(smoke_run) == {}  # everything is up to date
    assert planned_jobs(smoke_run, "--forcerun", "aggregate") == {"aggregate": 1, "report": 1, "all": 1}
    assert planned_jobs(smoke_run, "--forcerun", "report") == {"report": 1, "all": 1}


def test_fraction_labels_in_paths_are_exact(tmp_path):
    odd = tmp_path / "odd.yaml"
    odd.write_text("fractions: [0.00001, 0.3333333333333333]\nmethods: [random]\n")
    done = snakemake(tmp_path, "--configfile", str(odd), "-n")  # the full pool: 1e-05 of 54,000 keeps 1
    for label in ("1e-05", "0.3333333333333333"):
        assert paths.SUBSET.format(proxy="small_cnn", method="random", fraction=label, seed=0) in done.stdout


def test_snakemake_report_is_built(smoke_run):
    snakemake(smoke_run, "--configfile", str(SMOKE), "--report", "report.html")
    page = (smoke_run / "report.html").read_text()
    assert "summary.md" in page and "costs.csv" in page and "accuracy.csv" in page
    for name in figure_files(smoke_config()):
        if name != "mislabeled_share":  # the smoke config has no label noise
            assert f"{name}.png" in page, name
    assert "Pareto" in page and "Jaccard" in page  # captions of the cost and overlap figures


def test_report_figures_declared_in_the_rule_match_the_library(tmp_path):
    noisy = tmp_path / "noisy.yaml"
    noisy.write_text("split: {label_noise: 0.2}\ntarget: {archs: [small_cnn, resnet18]}\n")
    done = snakemake(tmp_path, "--configfile", str(SMOKE), str(noisy), "-n", "--forcerun", "report", "-p")
    cfg = load_config(REPO / "config.yaml", SMOKE, noisy)
    report_job = done.stdout.split("rule report:")[1].split("rule ")[0]
    declared = set(re.findall(r"report/(\w+)\.svg", report_job))
    assert declared == set(figure_files(cfg)) and "mislabeled_share" in declared
    run, scope = dict(proxy="small_cnn", seed=0), cfg["job_scope"]
    for kind in (paths.benchmark("train_proxy").format(**run),
                 paths.benchmark("score", scope).format(**run, method="cld"),
                 *(paths.benchmark("select", scope).format(**run, method=m) for m in ("cld", "full")),
                 *(paths.benchmark("train_target", scope).format(**run, arch="resnet18", method=m)
                   for m in ("cld", "full")),
                 paths.SUBSET.format(**run, method="cld", fraction="0.5"), paths.SPLIT.format(seed=0)):
        assert kind in report_job, kind
