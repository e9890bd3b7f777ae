"""`--config` overrides of numbers and booleans inside lists and mappings, and YAML 1.2 numbers
(1e-9) in config files, are read as numbers: each form the README shows, through real Snakemake."""

import re

import pytest
import yaml
from conftest import REPO, SMOKE, snakemake
from snakemake.cli import parse_config

from prunebench import paths
from prunebench.config import load_config, validate_config

# the README's forms (section "Overriding keys on the command line")
FORMS = ["fractions=[0.1,0.5]", "proxy={epochs: 6, log_kl_shift: false}", "method_params={dyn_unc: {window: 3}}",
         "methods=[random,dyn_unc]", "seeds=[0,1]"]


def with_overrides(*entries):
    """The config as Snakemake merges it: config.yaml, the smoke preset, then --config entries."""
    base = yaml.safe_load((REPO / "config.yaml").read_text())
    smoke = yaml.safe_load(SMOKE.read_text())
    merged = {**base, **{k: ({**base[k], **v} if isinstance(v, dict) and isinstance(base.get(k), dict) else v)
                         for k, v in smoke.items()}}
    for key, value in parse_config(entries).items():
        merged[key] = {**merged[key], **value} if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


def test_each_readme_form_reads_numbers_and_booleans():
    cfg = validate_config(with_overrides(*FORMS))
    assert cfg["fractions"] == [0.1, 0.5]
    assert cfg["proxy"]["epochs"] == 6 and cfg["proxy"]["log_kl_shift"] is False
    assert cfg["method_params"]["dyn_unc"] == {"window": 3}
    assert cfg["seeds"] == [0, 1] and cfg["methods"] == ["random", "dyn_unc"]


def test_a_yaml_number_with_an_exponent_is_a_number(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text("fractions: [5e-1, 1e-9]\n")
    assert yaml.safe_load(config.read_text())["fractions"] == ["5e-1", "1e-9"]  # PyYAML: strings (YAML 1.1)
    with pytest.raises(ValueError, match=r"^config: fractions: fraction 1e-09 keeps 0 of the 2,700 pool samples"):
        load_config(REPO / "config.yaml", SMOKE, config)  # a number, refused as a budget, not as a type


def test_a_string_the_schema_wants_stays_a_string(tmp_path):
    (tmp_path / "2024").mkdir()
    cfg = validate_config({**yaml.safe_load((REPO / "config.yaml").read_text()),
                           "dataset": {"name": "fashion_mnist", "root": str(tmp_path / "2024")}})
    assert cfg["dataset"]["root"] == str(tmp_path / "2024")


def test_snakemake_plans_with_every_form(tmp_path):
    done = snakemake(tmp_path, "--configfile", str(SMOKE), "-n", "--config", *FORMS)
    text = done.stdout + done.stderr
    assert f"{paths.PROXY.format(proxy='small_cnn', seed=1)}/snapshot_epoch6.parquet" in text  # epochs 6, seeds 0, 1
    for method, fraction, seed in (("dyn_unc", "0.5", 1), ("random", "0.1", 0)):
        assert paths.SUBSET.format(proxy="small_cnn", method=method, fraction=fraction, seed=seed) in text
    assert not (tmp_path / "results").exists()


def test_a_bad_number_inside_a_mapping_is_named_as_a_number(tmp_path):
    done = snakemake(tmp_path, "--configfile", str(SMOKE), "-n", "--config", "methods=[dyn_unc]",
                     "method_params={dyn_unc: {window: 9}}", check=False)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("config:")]
    assert done.returncode != 0 and len(lines) == 1
    assert re.match(r"config: method_params\.dyn_unc: window=9 must be an integer in \[2, 4\]", lines[0]), lines


def test_strings_a_config_file_quotes_stay_strings_where_no_number_is_expected(tmp_path):
    """A loader option or method parameter typed as a string keeps "007" and "null"; one with a number or
    boolean default reads its --config string as one."""
    from prunebench.datasets import DATASETS, register_dataset

    @register_dataset("quoted_options_test", mean=(0.5,), std=(0.5,))
    def load(root=None, download_root="data", split: str = "train", tag: str = "", count: int = 3,
             scale=1.0, flip: bool = False):
        raise AssertionError("not loaded at config time")

    try:
        config = tmp_path / "quoted.yaml"
        config.write_text('dataset: {name: quoted_options_test, options: {split: "007", tag: "null", count: "5", '
                          'scale: "0.5", flip: "true"}}\nmethods: [random, grand]\n'
                          'method_params: {grand: {form: "full", repeats: "1", balanced: "false"}}\n')
        cfg = load_config(REPO / "config.yaml", SMOKE, config)
        assert cfg["dataset"]["options"] == {"split": "007", "tag": "null", "count": 5, "scale": 0.5, "flip": True}
        assert cfg["method_params"]["grand"] == {"form": "full", "repeats": 1, "balanced": False}
    finally:
        DATASETS.pop("quoted_options_test")
