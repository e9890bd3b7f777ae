"""The report: measured costs, subset statistics, tables with missing cells, figures, speed on 1,500 runs."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from report_speed import BENCH_HEADER, fake_workflow  # noqa: E402

from prunebench import paths, pipeline  # noqa: E402
from prunebench.config import ConfigError, validate_config  # noqa: E402
from prunebench.costs import (  # noqa: E402
    TABLE_COLUMNS,
    benchmark_table,
    cost_table,
    parse_benchmark_path,
    read_benchmark,
)
from prunebench.io import write_table  # noqa: E402
from prunebench.report import (  # noqa: E402
    comparison_table,
    comparisons,
    figure_files,
    method_groups,
    pareto_front,
    rank_matrix,
    report_fraction,
    summary_table,
    transfer_pairs,
    transfer_table,
    within_table,
    write_report,
)
from prunebench.subset_stats import gather_subsets, jaccard  # noqa: E402


def results(rows):
    """A results frame from (arch, method, fraction, seed, accuracy) tuples."""
    return pd.DataFrame([{"dataset": "d", "arch": a, "method": m, "fraction": f, "seed": s, "test_accuracy": acc,
                          "device": "cpu"} for a, m, f, s, acc in rows])


GAPPY = results([
    ("cnn", "random", 0.1, 0, 0.50), ("cnn", "random", 0.1, 1, 0.52),
    ("cnn", "cld", 0.1, 0, 0.60), ("cnn", "cld", 0.1, 1, 0.58), ("cnn", "cld", 0.5, 0, 0.80),
    ("cnn", "el2n", 0.5, 0, 0.70), ("cnn", "el2n", 0.5, 1, 0.72),  # random never ran at 0.5
    ("cnn", "full", 1.0, 0, 0.805), ("cnn", "full", 1.0, 1, 0.815),
])


def test_missing_cells_are_shown_missing_never_zero():
    table = summary_table(GAPPY, ["random", "full", "cld", "el2n"])
    cells = table.cells
    assert cells.loc["random", "50%"] == "–" and cells.loc["el2n", "10%"] == "–"
    assert cells.loc["cld", "10%"] == "59.00 ± 1.41" and cells.loc["cld", "50%"] == "80.00 (n=1)"
    assert cells.loc["full", "100%"] == "81.00 ± 0.71" and cells.loc["full", "10%"] == "–"
    assert table.best.loc["cld", "10%"] and table.best.loc["cld", "50%"] and not table.best["100%"].any()
    assert "**59.00 ± 1.41**" in table.markdown() and "<strong>59.00 ± 1.41</strong>" in table.html()

    relative = comparison_table(GAPPY, ["random", "cld", "el2n"], {}).cells
    assert relative.loc["cld − random", "10%"].startswith("+8.00 [")
    assert relative.loc["cld − random", "50%"] == "–"  # no random there: missing
    assert "el2n − random" not in relative.index  # never paired with random

    ranks = rank_matrix(GAPPY, ["random", "cld", "el2n"])
    assert ranks.loc["cld", "10%"] == 1 and ranks.loc["random", "10%"] == 2 and math.isnan(ranks.loc["el2n", "10%"])

    within = within_table(GAPPY, ["random", "cld", "el2n"], 1.0).cells
    assert within.loc["cld", "cnn"] == "50%" and within.loc["el2n", "cnn"] == "> 50%"
    assert within.loc["random", "cnn"] == "> 10%"
    no_full = within_table(GAPPY[GAPPY["method"] != "full"], ["random", "cld"], 1.0).cells
    assert (no_full["cnn"] == "–").all()


def planted_seeds(gaps: dict[str, list[float]], seeds=5, base=0.60, fraction=0.1):
    """Results over `seeds` seeds where random scores `base` plus a per-seed wobble shared by every method
    (the seed's luck), and each method random's accuracy plus its own per-seed gaps (in accuracy units)."""
    luck = np.random.default_rng(0).normal(0, 0.02, seeds)
    rows = [("cnn", "random", fraction, s, base + luck[s]) for s in range(seeds)]
    rows += [("cnn", m, fraction, s, base + luck[s] + gap[s]) for m, gap in gaps.items() for s in range(seeds)]
    return results(rows)


def test_paired_gaps_mark_a_real_gap_significant_and_a_seed_noise_gap_within_noise(tmp_path):
    # a real gain: +3 points at every seed, ±0.3; noise: gaps of ±1 point that average ~0
    frame = planted_seeds({"cld": [0.031, 0.028, 0.033, 0.027, 0.030],
                           "cld_first45": [0.032, 0.027, 0.029, 0.031, 0.028],
                           "el2n": [0.010, -0.012, 0.008, -0.009, 0.004]})
    config = {"methods": ["random", {"name": "cld_first45", "method": "cld", "params": {"epochs": [1, 45]}}, "el2n",
                          "cld"]}
    methods, bases = method_groups(config)
    assert methods == ["random", "cld", "cld_first45", "el2n"] and bases == {"cld_first45": ["cld"]}
    table = comparison_table(frame, methods, bases)
    assert list(table.cells.index) == ["cld − random", "cld_first45 − random", "cld_first45 − cld", "el2n − random"]
    real, noise = table.cells.loc["cld − random", "10%"], table.cells.loc["el2n − random", "10%"]
    assert real.startswith("+2.98 [") and "(noise)" not in real and table.best.loc["cld − random", "10%"]
    assert noise.startswith("+0.02 [-") and noise.endswith("(noise)") and not table.best.loc["el2n − random", "10%"]
    # the variant against its method: no real difference
    assert table.cells.loc["cld_first45 − cld", "10%"].endswith("(noise)")
    # the interval is the paired t interval over the 5 seeds
    low, high = (float(v) for v in real.split("[")[1].split("]")[0].split(","))
    gaps = 100 * np.array([0.031, 0.028, 0.033, 0.027, 0.030])
    half = 2.7764451051977987 * gaps.std(ddof=1) / np.sqrt(5)  # t(0.975, 4)
    assert abs(low - (gaps.mean() - half)) < 0.006 and abs(high - (gaps.mean() + half)) < 0.006


def test_one_seed_gives_gaps_without_an_interval_and_the_page_says_so(tmp_path):
    frame = planted_seeds({"cld": [0.03]}, seeds=1)
    table = comparison_table(frame, ["random", "cld"], {})
    assert table.cells.loc["cld − random", "10%"] == "+3.00 (1 seed)" and not table.best.any().any()
    config = {"dataset": {"name": "d"}, "methods": ["random", "cld"], "fractions": [0.1], "split": {"label_noise": 0},
              "target": {"archs": ["cnn"], "proxy": "cnn", "oracle": False}}
    page = write_report(frame.assign(test_accuracy_best=np.nan, proxy_arch="cnn"), tmp_path, config).read_text()
    assert "With one seed there is no interval" in page and "95% paired t confidence interval" in page


def test_benchmark_files_parse_like_snakemakes(tmp_path):
    path = tmp_path / "results" / "d" / paths.benchmark("select", "seed").format(proxy="cnn", method="cld", seed=3)
    path.parent.mkdir(parents=True)
    path.write_text(BENCH_HEADER + "2.0\t0:00:02\t100.5\t400\t80\t90\t1\t2\t50\t1.5\n"
                                   "4.0\t0:00:04\t-\t400\t80\t90\t1\t2\t50\t2.5\n")  # repeat(); '-' is unmeasured
    values = read_benchmark(path)
    assert values["s"] == 3.0 and values["cpu_time"] == 2.0 and values["max_rss"] == 100.5
    parsed = parse_benchmark_path(path)
    assert math.isnan(parsed.pop("fraction"))  # job_scope seed: one job selects every fraction of a method and seed
    assert parsed == {"rule": "select", "proxy": "cnn", "arch": None, "method": "cld", "seed": 3, "repeat": 0}
    target = parse_benchmark_path("x/benchmarks/train_target/cnn/mlp/cld/seed1.tsv")
    assert (target["proxy"], target["arch"]) == ("cnn", "mlp")  # mlp trained on cnn's subsets
    # job_scope method: every seed in one job; training: one subset per job
    every_seed = parse_benchmark_path(f"x/{paths.benchmark('train_target', 'method')}".format(
        proxy="cnn", arch="mlp", method="cld"))
    assert (every_seed["method"], every_seed["seed"]) == ("cld", None) and math.isnan(every_seed["fraction"])
    one = parse_benchmark_path(f"x/{paths.benchmark('select', 'training')}".format(
        proxy="cnn", method="cld", fraction="0.05", seed=2))
    assert (one["method"], one["fraction"], one["seed"]) == ("cld", 0.05, 2)
    assert parse_benchmark_path("x/benchmarks/train_proxy/cnn/seed2.tsv")["seed"] == 2
    assert parse_benchmark_path("x/benchmarks/train_proxy_repeat/cnn/seed2/repeat3.tsv")["repeat"] == 3
    with pytest.raises(ValueError, match="not a benchmark path"):
        parse_benchmark_path("x/benchmarks/aggregate.tsv")
    with pytest.raises(ValueError, match="job_scope"):
        paths.log("score")


def test_costs_are_the_same_per_subset_whatever_the_job_scope(tmp_path):
    """One job over both seeds and both fractions, one per seed, or one per subset: the same 10 s per training."""
    def bench(scope: str, jobs: list[dict], seconds: float) -> pd.DataFrame:
        files = []
        for wildcards in jobs:
            file = tmp_path / scope / paths.benchmark("train_target", scope).format(
                proxy="cnn", arch="cnn", method="cld", **wildcards)
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(BENCH_HEADER + f"{seconds}\t0:00:01\t100\t400\t80\t90\t1\t2\t50\t{seconds}\n")
            files.append(file)
        return benchmark_table(files, seeds=[0, 1])

    every = bench("method", [{}], 40.0)
    assert list(every["seed"]) == [0, 1] and list(every["wall_s"]) == [20.0, 20.0]  # each seed's share
    scopes = [every, bench("seed", [{"seed": 0}, {"seed": 1}], 20.0),
              bench("training", [{"seed": s, "fraction": f} for s in (0, 1) for f in ("0.1", "0.2")], 10.0)]
    signals = pd.DataFrame(columns=["method", "seed", "signal_bytes", "files"])
    costs = [cost_table(b, signals, {"cld": 2}).loc["cld", "target_wall_s"] for b in scopes]
    assert costs == [10.0, 10.0, 10.0]
    with pytest.raises(ValueError, match="every seed"):  # its share per seed needs the seeds
        benchmark_table([tmp_path / "method" / paths.benchmark("train_target", "method").format(
            proxy="cnn", arch="cnn", method="cld")])


def test_cost_table_counts_the_proxy_only_for_methods_that_read_it():
    bench = pd.DataFrame([
        {"rule": "train_proxy", "seed": 0, "repeat": 0, "wall_s": 100.0, "cpu_s": 150.0, "max_rss_mb": 900.0},
        {"rule": "train_proxy_repeat", "seed": 0, "repeat": 1, "wall_s": 50.0, "cpu_s": 60.0, "max_rss_mb": 950.0},
        {"rule": "score", "method": "grand", "seed": 0, "wall_s": 4.0, "cpu_s": 3.0, "max_rss_mb": 300.0},
        {"rule": "select", "method": "grand", "seed": 0, "wall_s": 2.0, "cpu_s": 2.0, "max_rss_mb": 200.0},
        {"rule": "score", "method": "cld", "seed": 0, "wall_s": 2.0, "cpu_s": 1.0, "max_rss_mb": 300.0},
        {"rule": "score", "method": "random", "seed": 0, "wall_s": 1.0, "cpu_s": 0.5, "max_rss_mb": 100.0},
        # one select job per method and seed for both fractions, one target job training both
        {"rule": "select", "method": "cld", "seed": 0, "wall_s": 4.0, "cpu_s": 2.0, "max_rss_mb": 250.0},
        {"rule": "select", "method": "random", "seed": 0, "wall_s": 1.0, "cpu_s": 1.0, "max_rss_mb": 90.0},
        {"rule": "train_target", "arch": "cnn", "method": "cld", "seed": 0, "wall_s": 60.0, "cpu_s": 80.0,
         "max_rss_mb": 1000.0},
    ], columns=TABLE_COLUMNS)
    signals = pd.DataFrame([{"method": "cld", "seed": 0, "signal_bytes": 5e6, "files": "dynamics_eval.parquet"},
                            {"method": "random", "seed": 0, "signal_bytes": 0, "files": ""},
                            {"method": "el2n", "seed": 0, "signal_bytes": math.nan, "files": "snapshot.parquet"},
                            {"method": "grand", "seed": 0, "signal_bytes": 1e6,
                             "files": "snapshot_epoch2.parquet repeat1/snapshot_epoch2.parquet"}])
    costs = cost_table(bench, signals, {"random": 2, "cld": 2, "el2n": 2, "grand": 2})  # subsets per job
    assert costs.loc["grand", "proxy_wall_s"] == 150 and costs.loc["grand", "selection_wall_s"] == 155
    assert costs.loc["grand", "selection_peak_mb"] == 950  # the repeat it reads counts
    assert costs.loc["cld", "selection_wall_s"] == 100 + 2 + 2  # proxy + score + one fraction's share of select
    assert costs.loc["cld", "selection_cpu_s"] == 150 + 1 + 1
    assert costs.loc["cld", "selection_peak_mb"] == 900
    assert costs.loc["random", "selection_wall_s"] == 1.5 and costs.loc["random", "proxy_wall_s"] == 0
    assert costs.loc["cld", "target_wall_s"] == 30 and math.isnan(costs.loc["random", "target_wall_s"])
    assert costs.loc["el2n"].isna().all()  # nothing measured: missing, not zero


def test_subset_statistics_count_mislabeled_classes_and_overlap(tmp_path):
    split = pa.table({"index": np.arange(10), "label": [0, 1] * 5, "role": ["pool"] * 8 + ["query"] * 2,
                      "clean_label": [0, 1] * 5, "noisy": [True, True, False, False, False, False, False, False,
                                                           False, False]})
    write_table(split, tmp_path / "split.parquet", {"seed": 0, "num_classes": 2})
    paths = []
    for method, index in (("a", [0, 1, 2, 3]), ("b", [2, 3, 4, 5]), ("c", [6, 7])):
        index = np.array(index)
        paths.append(tmp_path / f"{method}.parquet")
        write_table(pa.table({"index": index, "label": index % 2, "weight": np.ones(len(index)),
                              "rank": np.arange(len(index))}), paths[-1],
                    {"method": method, "fraction": 0.5 if method != "c" else 0.25, "seed": 0, "k": len(index)})
    stats = gather_subsets(paths, [tmp_path / "split.parquet"], 0.5)
    assert stats.per_subset["mislabeled_share"].tolist() == [0.5, 0.0, 0.0]
    assert stats.class_counts.tolist() == [[2, 2], [2, 2], [1, 1]] and stats.noise_rate == {0: 0.25}
    overlap = stats.overlap.set_index(["method_a", "method_b"])["jaccard"]
    assert overlap[("a", "b")] == pytest.approx(2 / 6) and overlap[("a", "a")] == 1
    assert "c" not in set(stats.overlap["method_a"])  # not at the report's fraction
    assert jaccard({}).empty


def test_pareto_front_keeps_the_undominated():
    points = pd.DataFrame({"method": list("abcd"), "accuracy": [50, 60, 55, 70], "cost_s": [1, 10, 20, 100],
                           "signal_mb": 0})
    assert pareto_front(points)["method"].tolist() == ["a", "b", "d"]


def test_report_fraction_defaults_to_the_one_nearest_ten_percent_and_must_be_configured():
    cfg = validate_config({"dataset": {"name": "synthetic"}, "fractions": [0.01, 0.05, 0.2, 0.5]})
    assert report_fraction(cfg) == 0.05
    assert report_fraction({**cfg, "report": {"fraction": 0.5}}) == 0.5
    with pytest.raises(ConfigError, match="report.fraction: 0.3 is not one of fractions"):
        validate_config({"dataset": {"name": "synthetic"}, "fractions": [0.1], "report": {"fraction": 0.3}})


@pytest.mark.parametrize("methods", [["random", "full", "cld", "el2n"], ["cld", "el2n"], ["full", "random"]])
def test_report_reads_with_any_subset_of_methods_fractions_and_seeds(tmp_path, methods):
    kwargs = fake_workflow(tmp_path, methods=methods, fractions=[0.01, 0.1, 0.5], seeds=[0, 1, 2],
                           archs=("small_cnn",), pool=2000, drop=0.4, seed=len(methods))
    pipeline.report(**kwargs)
    folder = Path(kwargs["out_dir"])
    for name in figure_files(kwargs["config"]):
        for suffix in (".png", ".svg"):
            assert (folder / f"{name}{suffix}").stat().st_size > 5_000, name + suffix
    summary = (folder / "summary.md").read_text()
    page = (folder / "index.html").read_text()
    for method in methods:
        assert f"| {method} |" in summary
    assert "python 3" in summary.lower() and "seeds 0, 1, 2" in page and "label_noise: 0.1" in page
    assert page.count("data:image/png;base64,") == len(figure_files(kwargs["config"]))
    assert "http://" not in page and "https://" not in page  # nothing to fetch: self-contained
    accuracy = pd.read_csv(folder / "accuracy.csv")
    assert set(accuracy["method"]) <= set(methods) and (accuracy["seeds"] >= 1).all()
    costs = pd.read_csv(folder / "costs.csv", index_col="method")
    assert set(costs.index) == set(methods)


def test_no_label_noise_means_no_mislabeled_figure_and_a_note(tmp_path):
    kwargs = fake_workflow(tmp_path, methods=["random", "cld"], fractions=[0.1], seeds=[0], archs=("small_cnn",),
                           pool=1000, label_noise=0.0)
    pipeline.report(**kwargs)
    assert "mislabeled_share" not in figure_files(kwargs["config"])
    assert not (Path(kwargs["out_dir"]) / "mislabeled_share.png").exists()
    summary = (Path(kwargs["out_dir"]) / "summary.md").read_text()
    assert "split.label_noise is 0" in summary and "Weighted subsets" not in summary


def test_report_on_1500_runs_writes_every_table_figure_and_cost(tmp_path):
    """The report on a 1,500-run benchmark's worth of results (its time is benchmarks/report_speed.py's)."""
    seeds = list(range(10))
    methods = ["random", "full", "cld", "forgetting", "el2n", "aum", "entropy"]
    kwargs = fake_workflow(tmp_path, methods=methods, seeds=seeds, pool=5000)  # 13 fractions, 2 archs
    frame = pd.read_parquet(kwargs["results_path"])
    assert len(frame) >= 1500
    pipeline.report(**kwargs)
    folder = Path(kwargs["out_dir"])
    for name in figure_files(kwargs["config"]):
        assert (folder / f"{name}.png").stat().st_size > 5_000, name
    accuracy = pd.read_csv(folder / "accuracy.csv")
    assert accuracy["seeds"].sum() == len(frame)  # every run counted once
    costs = pd.read_csv(folder / "costs.csv", index_col="method")
    assert list(costs.index) == methods and costs["target_wall_s"].notna().all()


def test_best_epoch_accuracy_appears_only_when_kept_and_says_it_was_chosen_on_the_test_set(tmp_path):
    from prunebench.results import write_results

    kwargs = fake_workflow(tmp_path, methods=["random", "cld"], fractions=[0.1], seeds=[0], archs=("small_cnn",),
                           pool=1000)
    title = "Best-epoch test accuracy (%), epoch chosen on the test set"
    pipeline.report(**kwargs)  # the fake runs kept a best epoch (target.eval_every)
    assert title in (Path(kwargs["out_dir"]) / "summary.md").read_text()
    frame = pd.read_parquet(kwargs["results_path"]).assign(test_accuracy_best=None, best_epoch=None)
    write_results(frame, kwargs["results_path"], Path(kwargs["results_path"]).with_suffix(".csv"))
    pipeline.report(**kwargs)  # the default: one evaluation, after the last epoch
    summary = (Path(kwargs["out_dir"]) / "summary.md").read_text()
    assert title not in summary and "Final-epoch test accuracy (%)" in summary


def test_a_variant_of_random_is_paired_with_random_once_per_seed():
    # random_global is random's own variant: its pair with its base and its pair with random are one pair
    frame = planted_seeds({"random_global": [0.010, -0.004, 0.021]}, seeds=3)
    config = {"methods": ["random", {"name": "random_global", "method": "random", "params": {"balanced": False}}]}
    methods, bases = method_groups(config)
    assert comparisons(frame, methods, bases)[["method", "reference", "seeds"]].values.tolist() == [
        ["random_global", "random", 3]]
    found = comparison_table(frame, methods, bases).cells
    gaps = 100 * np.array([0.010, -0.004, 0.021])
    half = 4.302652729911275 * gaps.std(ddof=1) / np.sqrt(3)  # t(0.975, 2): three seeds, not six
    cell = found.loc["random_global − random", "10%"]
    low, high = (float(v) for v in cell.split("[")[1].split("]")[0].split(","))
    assert abs(low - (gaps.mean() - half)) < 0.006 and abs(high - (gaps.mean() + half)) < 0.006
    assert cell.endswith("(noise)")


def test_ccs_on_cld_is_compared_with_cld_the_method_its_score_names():
    # CLD's Fig. 5b: CCS's sampling on CLD's scores against CLD itself; ccs (its base) is not configured
    frame = planted_seeds({"cld": [0.030, 0.028, 0.033], "ccs_cld": [0.010, 0.012, 0.006]}, seeds=3)
    config = {"methods": ["random", "cld", {"name": "ccs_cld", "method": "ccs", "params": {"score": "cld"}}]}
    methods, references = method_groups(config)
    assert references == {"ccs_cld": ["ccs", "cld"]}
    found = comparisons(frame, methods, references)
    assert found[["method", "reference", "seeds"]].values.tolist() == [
        ["cld", "random", 3], ["ccs_cld", "random", 3], ["ccs_cld", "cld", 3]]
    gaps = 100 * (np.array([0.010, 0.012, 0.006]) - np.array([0.030, 0.028, 0.033]))
    assert abs(found.iloc[2]["gap"] - gaps.mean()) < 1e-9
    cell = comparison_table(frame, methods, references).cells.loc["ccs_cld − cld", "10%"]
    assert cell.startswith(f"{gaps.mean():+.2f} [")


# per seed 0, 1, 2: (proxy arch, target arch, method) -> test accuracy; cld reads the proxy, random does not
TRANSFER_RUNS = {
    ("small_cnn", "small_cnn", "random"): [0.65, 0.66, 0.64], ("small_cnn", "small_cnn", "cld"): [0.75, 0.77, 0.73],
    ("small_cnn", "resnet18", "random"): [0.60, 0.62, 0.61], ("small_cnn", "resnet18", "cld"): [0.70, 0.74, 0.66],
    ("resnet18", "resnet18", "cld"): [0.72, 0.73, 0.70],  # the oracle; random trains once, on small_cnn's subsets
}


def test_transfer_oracle_and_gap_are_paired_by_seed_and_random_is_its_own_oracle():
    config = validate_config({"dataset": {"name": "synthetic"}, "methods": ["random", "cld"],
                              "proxy": {"archs": ["small_cnn", "resnet18"]},
                              "target": {"archs": ["small_cnn", "resnet18"], "proxy": "small_cnn", "oracle": True}})
    rows = [{"proxy_arch": p, "arch": a, "method": m, "fraction": f, "seed": s, "test_accuracy": acc + (f == 0.5) / 10}
            for (p, a, m), accs in TRANSFER_RUNS.items() for f in (0.1, 0.5) for s, acc in enumerate(accs)]
    rows += [{"proxy_arch": "small_cnn", "arch": a, "method": "full", "fraction": 1.0, "seed": 0, "test_accuracy": 0.9}
             for a in ("small_cnn", "resnet18")]
    frame = pd.DataFrame(rows).sample(frac=1, random_state=0)  # shuffled: pairing must go by seed, not position
    pairs = transfer_pairs(frame, config).set_index(["arch", "method", "fraction", "seed"]).sort_index()
    assert "full" not in pairs.index.get_level_values("method")

    def at(arch, method):
        return pairs.xs((arch, method, 0.1), level=["arch", "method", "fraction"]).sort_index()

    runs = {k: 100 * np.array(v) for k, v in TRANSFER_RUNS.items()}
    cld = at("resnet18", "cld")
    assert np.allclose(cld["transfer"], runs["small_cnn", "resnet18", "cld"])
    assert np.allclose(cld["oracle"], runs["resnet18", "resnet18", "cld"])
    gaps = runs["small_cnn", "resnet18", "cld"] - runs["resnet18", "resnet18", "cld"]  # -2, +1, -4 points
    assert np.allclose(cld["gap"], gaps)
    random = at("resnet18", "random")  # its single run is its oracle: no gap
    assert np.allclose(random["oracle"], runs["small_cnn", "resnet18", "random"]) and (random["gap"] == 0).all()
    own = at("small_cnn", "cld")
    assert np.allclose(own["oracle"], own["transfer"])

    table = transfer_table(pairs.reset_index(), 0.1, "small_cnn", ["small_cnn", "resnet18"], ["random", "cld"])
    cells = table.cells
    assert list(cells.index) == ["small_cnn → small_cnn (own proxy)", "small_cnn → resnet18",
                                 "resnet18 → resnet18 (oracle)", "gap to oracle, resnet18"]
    assert list(cells.columns) == ["random", "cld"]

    def shown(values, sign=""):
        return f"{np.mean(values):{sign}.2f} ± {np.std(values, ddof=1):.2f}"

    assert cells.loc["small_cnn → small_cnn (own proxy)", "cld"] == shown(runs["small_cnn", "small_cnn", "cld"])
    assert cells.loc["small_cnn → resnet18", "cld"] == shown(runs["small_cnn", "resnet18", "cld"]) == "70.00 ± 4.00"
    assert cells.loc["resnet18 → resnet18 (oracle)", "cld"] == shown(runs["resnet18", "resnet18", "cld"])
    # the mean of the per-seed differences, and their spread (not the spread of either side)
    assert cells.loc["gap to oracle, resnet18", "cld"] == shown(gaps, "+") == "-1.67 ± 2.52"
    assert cells.loc["resnet18 → resnet18 (oracle)", "random"] == cells.loc["small_cnn → resnet18", "random"]
    assert cells.loc["gap to oracle, resnet18", "random"] == "+0.00 ± 0.00"
