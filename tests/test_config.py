"""Bad configuration fails before anything runs, with one line naming the problem."""

import copy

import pytest
import yaml
from conftest import REPO, snakemake

from prunebench.config import ConfigError, load_config, validate_config

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


def test_the_shipped_configs_are_valid(tmp_path, monkeypatch):
    (tmp_path / "data" / "imagenet").mkdir(parents=True)  # the ImageNet presets' dataset.root, relative to the run
    monkeypatch.chdir(tmp_path)
    cfg = validate_config(DEFAULT)
    assert cfg["proxy"]["momentum"] == 0.9  # defaults are filled in from the schema
    assert cfg["split"]["max_samples"] is None
    for path in (REPO / "configs").glob("*.yaml"):
        preset = load_config(REPO / "config.yaml", path)
        assert preset["proxy"]["lr"] == DEFAULT["proxy"]["lr"]  # merged key by key, as Snakemake does


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
    ({"proxy__arch": "resnet7"}, "config: proxy.arch: unknown architecture 'resnet7'; known: small_cnn, resnet18"),
    ({"target__archs": ["resnet50", "vit"]}, "config: target.archs: unknown architecture 'vit'; known: small_cnn"),
    ({"dataset__options": {"num_classes": 3}},
     "config: dataset.options: unknown option(s) num_classes for fashion_mnist; known: none"),
])
def test_each_problem_is_one_line_naming_it(changes, message):
    with pytest.raises(ConfigError) as caught:
        validate_config(with_changes(**changes))
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


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
