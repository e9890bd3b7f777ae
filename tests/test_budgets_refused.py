"""Budgets that round to zero samples, and splits that empty a class, are refused before anything trains:
at config time where the dataset's class sizes are known, else by the split or select step."""


import pytest
import yaml
from conftest import REPO, SMOKE, run_step, snakemake

from prunebench import pipeline
from prunebench.budgets import total_budget
from prunebench.config import ConfigError, load_config
from prunebench.splits import make_split, smallest_fraction, split_sizes


@pytest.mark.parametrize("override, message", [
    ({"fractions": [0.1, 0.0001]}, "config: fractions: fraction 0.0001 keeps 0 of the 2,700 pool samples "
                                   "(smallest class 0: 270 samples, 0.027 kept); the smallest fraction that keeps a "
                                   "sample is 0.00019"),
    ({"split": {"max_samples": 3000, "query_fraction": 0.999}},
     "config: split.query_fraction 0.999 leaves class 0 with no pool samples (300 of its 300 held out as query)"),
    ({"split": {"max_samples": 3000, "query_fraction": 0.001}},
     "config: split.query_fraction 0.001 leaves class 3 with no query samples (0 of its 300 held out as query)"),
])
def test_snakemake_refuses_a_zero_budget_before_any_job(tmp_path, override, message):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(override))
    done = snakemake(tmp_path, "--configfile", str(SMOKE), str(config), "--cores", "1", check=False)
    assert done.returncode != 0
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("config:")]
    assert lines == [message]
    assert not (tmp_path / "results").exists()


def test_the_smallest_fraction_named_is_accepted(tmp_path):
    config = tmp_path / "ok.yaml"
    config.write_text(yaml.safe_dump({"fractions": [0.00019]}))
    assert load_config(REPO / "config.yaml", SMOKE, config)["fractions"] == [0.00019]
    config.write_text(yaml.safe_dump({"fractions": [0.00018]}))
    with pytest.raises(ConfigError):
        load_config(REPO / "config.yaml", SMOKE, config)


@pytest.mark.parametrize("n", [2700, 4032, 1_268_000, 7, 10**9 + 7])
def test_the_smallest_fraction_named_keeps_a_sample_and_the_next_smaller_one_does_not(n):
    hint = float(f"{smallest_fraction(n):.2g}")  # as the message writes it
    assert total_budget(n, hint) >= 1
    mantissa, exponent = f"{hint:.1e}".split("e")
    assert total_budget(n, float(f"{float(mantissa) - 0.1:.1f}e{exponent}")) == 0


def test_config_time_sizes_are_the_split_steps_own():
    labels = [c for c in range(10) for _ in range(6000)]
    split = make_split(labels, 10, 0.1, 0, 0.0, 3000).to_pandas()
    query, pool = split_sizes([6000] * 10, 0.1, 3000)
    assert split.groupby("role")["label"].value_counts().loc["pool"].sort_index().tolist() == pool.tolist()
    assert split.groupby("role")["label"].value_counts().loc["query"].sort_index().tolist() == query.tolist()


def test_steps_refuse_what_config_time_cannot_know(tmp_path):
    """A dataset whose class sizes are known only once prepared: make_split and select refuse in one line."""
    dataset = {"name": "synthetic", "root": None, "download_root": "data",
               "options": {"num_classes": 3, "train_per_class": 20, "test_per_class": 2, "image_size": 7}}
    pipeline.prepare_data(dataset, tmp_path / "data")
    log = tmp_path / "make_split.log"
    done = run_step("make_split", log, data_dir=str(tmp_path / "data"), seed=0, out=str(tmp_path / "bad.parquet"),
                    split={"query_fraction": 0.99, "label_noise": 0.0, "max_samples": None})
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1
    assert "split.query_fraction 0.99 leaves class 0 with no pool samples" in done.stderr
    assert not (tmp_path / "bad.parquet").exists()

    pipeline.make_split(tmp_path / "data", {"query_fraction": 0.1, "label_noise": 0.0, "max_samples": None}, 0,
                        tmp_path / "split.parquet")
    pipeline.score("random", {"keep": "highest", "balanced": True}, None, tmp_path / "split.parquet", None, 0,
                   tmp_path / "scores.parquet")
    log = tmp_path / "select.log"
    done = run_step("select", log, scores_path=str(tmp_path / "scores.parquet"), fraction=0.005,
                    out=str(tmp_path / "subset.parquet"))
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1
    assert "fraction 0.005 keeps 0 of the 54 pool samples (smallest class 0: 18 samples" in done.stderr
    assert not (tmp_path / "subset.parquet").exists()
