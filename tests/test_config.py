"""Bad configuration fails before anything runs, with one line naming the problem."""

import copy

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import PRESETS, REPO, preset_files, snakemake

from prunebench import paths
from prunebench.config import ConfigError, load_config, validate_config
from prunebench.paths import results_dir

DEFAULT = yaml.safe_load((REPO / "config.yaml").read_text())


def with_changes(**changes):
    config = copy.deepcopy(DEFAULT)
    for dotted, value in changes.items():
        node, *path = dotted.split("__")
        target = config
        for key in [node, *path][:-1]:
            target = target[key]
        target[[node, *path][-1]] = value
    return config


@pytest.mark.usefixtures("user_files")
def test_the_shipped_configs_are_valid():
    cfg = validate_config(DEFAULT)
    assert cfg["proxy"]["momentum"] == 0.9  # defaults are filled in from the schema
    assert cfg["split"]["max_samples"] is None
    for name in PRESETS:
        preset = load_config(REPO / "config.yaml", *preset_files(name))
        assert preset["proxy"]["lr"] == DEFAULT["proxy"]["lr"]  # merged key by key, as Snakemake does
    # every preset's header gives the command that runs it, ending with its own file (the tests run that command)
    assert {name: files[-1:] for name, files in PRESETS.items()} == {name: [f"{name}.yaml"] for name in PRESETS}
    load_config(REPO / "config.yaml", REPO / "configs" / "smoke.yaml")


@pytest.mark.parametrize("changes, message", [
    ({"methods": ["random", "cld", "nope"]}, "config: methods: unknown method 'nope'; known: random, full, cld"),
    ({"fractions": [0.1, 1.5]}, "config: fractions[1]: 1.5 is greater than the maximum of 1"),
    ({"fractions": [0.0]}, "config: fractions[0]: 0.0 is less than or equal to the minimum of 0"),
    ({"colour": "blue"}, "config: unknown key colour"),
    ({"proxy__epocs": 3}, "config: unknown key proxy.epocs"),
    ({"dataset__name": "mnist"}, "config: dataset.name: 'mnist' is not one of"),
    ({"dataset__root": "/no/such/folder"}, "config: dataset.root: /no/such/folder is not a folder"),
    ({"method_params": {"el2n": {"epoch": 5}}}, "config: method_params.el2n: epoch=5 has no proxy snapshot"),
    ({"method_params": {"aum": {"window": 3}}}, "config: method_params.aum: unknown parameter(s) window"),
    ({"method_params": {"dul": {}}}, "config: method_params.dul: unknown method 'dul'; known: random"),
    ({"target__budget": "steps"}, "config: target.steps: budget 'steps' needs target.steps"),
    ({"proxy__snapshot_epochs": [20]}, "config: proxy.snapshot_epochs: [20] after the last epoch (8)"),
    ({"proxy__log_in_training": False},
     "config: method_params.forgetting: needs in-training signals, but proxy.log_in_training is false"),
    ({"proxy__archs": ["small_cnn", "resnet7"]},
     "config: proxy.archs: unknown architecture 'resnet7'; known: small_cnn, resnet18"),
    ({"proxy__arch": "resnet18"}, "config: unknown key proxy.arch"),  # proxy.archs lists them
    ({"proxy__archs": ["small_cnn", "small_cnn"]}, "config: proxy.archs: ['small_cnn', 'small_cnn'] has non-unique"),
    ({"target__proxy": "resnet18"}, "config: target.proxy: 'resnet18' is not one of proxy.archs (small_cnn)"),
    ({"target__archs": ["small_cnn", "resnet18"], "target__oracle": True},
     "config: target.oracle: target architecture(s) resnet18 have no proxy run of their own; add them to "
     "proxy.archs"),
    ({"proxy__archs": ["small_cnn", "resnet18"]},
     "config: proxy.archs: no target trains on the subsets of resnet18; name it in target.proxy, or list it in "
     "target.archs with target.oracle on"),
    ({"target__archs": ["resnet50", "vit"]}, "config: target.archs: unknown architecture 'vit'; known: small_cnn"),
    ({"dataset__options": {"num_classes": 3}},
     "config: dataset.options: unknown option(s) num_classes for fashion_mnist; known: none"),
    ({"split__query_selection": "lowest"},
     "config: split.query_scores: query_selection lowest needs a Parquet file of index, score"),
    ({"split__query_selection": "proportional", "split__query_scores": "/no/such/scores.parquet"},
     "config: split.query_scores: /no/such/scores.parquet is not a file"),
    ({"split__query_selection": "typical"}, "config: split.query_selection: 'typical' is not one of ['random'"),
    ({"run_name": "noise{split[noise]}"}, "config: run_name: 'noise{split[noise]}' names no config value ('noise')"),
    ({"run_name": "../elsewhere"}, "config: run_name: '../elsewhere' is not a folder name"),
    ({"run_name": "store"}, "config: run_name: 'store' is not a folder name"),
    ({"run_name": "s{seeds:.3}"}, "config: run_name: 's{seeds:.3}' is not a format string of config values "
     "(unsupported format string passed to list.__format__)"),
    ({"run_name": "s{seeds"}, "config: run_name: 's{seeds' is not a format string of config values"),
])
def test_each_problem_is_one_line_naming_it(changes, message):
    with pytest.raises(ConfigError) as caught:
        validate_config(with_changes(**changes))
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_run_name_is_checked_with_the_target_proxy_it_defaults_to():
    # checked before the default was filled, the format spec met None and raised a traceback
    cfg = validate_config(with_changes(run_name="from-{target[proxy]:.6}", proxy__archs=["resnet18", "small_cnn"],
                                       target__archs=["small_cnn"], target__oracle=True))
    assert cfg["target"]["proxy"] == "resnet18"  # its default: the first of proxy.archs
    assert results_dir(cfg) == f"{paths.RESULTS}/from-resnet"


@pytest.mark.parametrize("index, message", [
    (np.arange(1, 60_001), "index 60000 is not a training sample (there are 60,000)"),
    (np.arange(59_999), "no score for 1 of the 60,000 training samples (index 59999)"),
])
def test_a_query_score_file_with_a_foreign_or_missing_index_is_refused_before_any_job(tmp_path, index, message):
    path = tmp_path / "scores.parquet"
    pq.write_table(pa.table({"index": index, "score": np.zeros(len(index))}), path)
    with pytest.raises(ConfigError) as caught:  # Fashion-MNIST's training set is known: 60,000 images
        validate_config(with_changes(split__query_selection="lowest", split__query_scores=str(path)))
    assert str(caught.value) == f"config: split.query_scores: {path}: {message}"


def test_missing_dataset_is_named():
    config = copy.deepcopy(DEFAULT)
    del config["dataset"]
    with pytest.raises(ConfigError, match="^config: missing key dataset$"):
        validate_config(config)


def test_unreadable_config_file_is_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("methods: [random\n")
    with pytest.raises(ConfigError, match="config: cannot read .*bad.yaml"):
        load_config(bad)


def test_snakemake_stops_on_a_bad_config_with_one_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("fractions: [0.1, 2]\nmethods: [random, nope]\n")
    done = snakemake(tmp_path, "--configfile", str(bad), "--cores", "1", check=False)
    assert done.returncode != 0
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("config:")]
    assert lines == ["config: fractions[1]: 2 is greater than the maximum of 1"]
    assert not (tmp_path / "results").exists()


def test_the_workflow_is_lint_clean():
    done = snakemake(REPO, "--lint")
    assert "Congratulations, your workflow is in a good condition!" in done.stdout + done.stderr
