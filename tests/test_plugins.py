"""Plugins: a user's method and dataset in their own files, through the config checks and real Snakemake."""

import re
import shutil
import subprocess
import sys

import pandas as pd
import pyarrow as pa
import pytest
from conftest import REPO, SMOKE, snakemake

from prunebench import paths
from prunebench.config import ConfigError, method_params, method_spec, validate_config
from prunebench.io import write_table
from prunebench.plugins import VARIABLE, load_plugins

EXAMPLES = REPO / "examples"
PLUGIN_CONFIG = EXAMPLES / "plugin.yaml"


def planned_jobs(workdir, *args):
    done = snakemake(workdir, "--configfile", str(SMOKE), str(PLUGIN_CONFIG), "-n", *args)
    stats = done.stdout.split("Job stats:")[-1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M) if m[1] != "total"}, done.stdout


@pytest.fixture(scope="module")
def plugin_folder(tmp_path_factory):
    """A folder holding the example plugins, as a user's project would (they are imported from there)."""
    folder = tmp_path_factory.mktemp("plugins")
    for name in ("loss_trajectory.py", "shapes_dataset.py"):
        shutil.copy(EXAMPLES / name, folder / name)
    return folder


def config_with(params=None, **changes):
    return {"plugins": ["loss_trajectory", "shapes_dataset"], "dataset": {"name": "shapes"},
            "proxy": {"epochs": 4}, "methods": ["loss_slope"], "method_params": {"loss_slope": params or {}},
            **changes}


@pytest.mark.parametrize("params, changes, message", [
    ({"epochs": 9}, {}, "config: method_params.loss_slope: epochs=9 must be an integer in [0, 4]"),
    ({"epochs": 1}, {}, "config: method_params.loss_slope: epochs=1 fits no slope: use 0 (all epochs) or at least 2"),
    ({"scale": "log"}, {}, "config: method_params.loss_slope: scale='log' must be one of 'raw', 'relative'"),
    ({"window": 3}, {}, "config: method_params.loss_slope: unknown parameter(s) window; known: balanced, epochs"),
    ({}, {"proxy": {"epochs": 1}}, "config: method_params.loss_slope: needs 2 logged proxy epochs, proxy.epochs is 1"),
    ({}, {"plugins": ["no_such_lab.methods"]}, "config: plugins: cannot import plugin 'no_such_lab.methods'"),
    ({}, {"dataset": {"name": "shapez"}}, "config: dataset.name: 'shapez' is not one of the registered datasets: "),
    ({}, {"dataset": {"name": "shapes", "options": {"colour": 1}}},
     "config: dataset.options: unknown option(s) colour for shapes; known: train_per_class, test_per_class, size"),
])
def test_a_plugin_method_and_dataset_get_the_same_one_line_checks(plugin_folder, monkeypatch, params, changes,
                                                                  message):
    monkeypatch.chdir(plugin_folder)
    with pytest.raises(ConfigError) as caught:
        validate_config(config_with(params, **changes))
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_a_plugin_method_marked_difficulty_is_a_difficulty_score_for_ccs(plugin_folder, monkeypatch):
    monkeypatch.chdir(plugin_folder)
    config = config_with(methods=["ccs"], method_params={"ccs": {"score": "loss_slope"}})
    assert validate_config(config)["method_params"]["ccs"]["score"] == "loss_slope"
    with pytest.raises(ConfigError, match=r"^config: method_params.ccs: score='random' must be one of 'cld', "):
        validate_config(config_with(methods=["ccs"], method_params={"ccs": {"score": "random"}}))


def test_a_variant_of_a_plugin_method_gets_its_checks(plugin_folder, monkeypatch):
    monkeypatch.chdir(plugin_folder)
    variant = {"name": "slope_relative", "method": "loss_slope", "params": {"scale": "relative"}}
    cfg = validate_config(config_with(methods=["loss_slope", variant]))
    assert method_params(cfg, "slope_relative")["scale"] == "relative"
    assert method_spec(cfg, "slope_relative").name == "loss_slope"
    with pytest.raises(ConfigError, match=r"^config: methods.slope_bad: loss_slope: epochs=9 must be an integer in"):
        validate_config(config_with(methods=[{"name": "slope_bad", "method": "loss_slope", "params": {"epochs": 9}}]))


def test_a_plugin_whose_own_import_is_missing_shows_that_error_in_full(tmp_path, monkeypatch):
    """`lab_methods` importing a missing `lab` is a bug in the plugin, not a plugin missing from the path."""
    (tmp_path / "lab_methods.py").write_text("import lab\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModuleNotFoundError) as caught:
        load_plugins(["lab_methods"])
    assert caught.type is ModuleNotFoundError and caught.value.name == "lab"


def test_an_installed_package_registers_through_its_entry_point(plugin_folder, tmp_path):
    """A distribution declaring the `prunebench.plugins` entry point (as pip installs one) is loaded without any
    config key."""
    info = tmp_path / "shapes_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shapes-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[prunebench.plugins]\nshapes = shapes_dataset\n")
    code = ("from prunebench.config import validate_config; "
            "print(validate_config({'dataset': {'name': 'shapes'}})['dataset']['name'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": f"{REPO}:{tmp_path}:{plugin_folder}", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "shapes"


@pytest.mark.pipeline
def test_the_example_plugins_run_through_snakemake_and_editing_the_method_reruns_only_its_branch(plugin_folder):
    snakemake(plugin_folder, "--configfile", str(SMOKE), str(PLUGIN_CONFIG), "--cores", "2")
    out = plugin_folder / paths.results_dir({"dataset": {"name": "shapes"}})
    frame = pd.read_parquet(out / paths.TABLE)
    assert sorted(zip(frame["method"], frame["fraction"])) == [("loss_slope", 0.1), ("loss_slope", 0.5),
                                                               ("random", 0.1), ("random", 0.5)]
    assert frame["dataset"].eq("shapes").all() and frame["test_accuracy"].between(0, 1).all()
    assert "loss_slope" in (out / paths.REPORT / "index.html").read_text()
    subset = pd.read_parquet(out / paths.SUBSET.format(proxy="small_cnn", method="loss_slope", fraction="0.1", seed=0))
    assert len(subset) == round(0.1 * 810)  # 900 shapes, 10% held out as the query set
    assert planned_jobs(plugin_folder)[0] == {}

    method = plugin_folder / "loss_trajectory.py"
    method.write_text(method.read_text().replace("return -slope", "return -1.0 * slope"))  # a code edit
    jobs, log = planned_jobs(plugin_folder)
    assert jobs == {"score": 1, "select": 1, "train_target": 1, "aggregate": 1, "report": 1, "all": 1}
    assert "method=random" not in log

    dataset = plugin_folder / "shapes_dataset.py"  # the dataset's code: everything from prepare_data on
    dataset.write_text(dataset.read_text() + "\n_EDITED = True\n")
    jobs, _ = planned_jobs(plugin_folder)
    assert jobs["prepare_data"] == 1 and jobs["train_proxy"] == 1 and jobs["score"] == 2


def loss_slope_scores(folder):
    """A score table of the plugin method loss_slope: 10 samples, 2 classes, score = index."""
    scores = folder / "scores.parquet"
    write_table(pa.table({"index": range(10), "label": [0, 1] * 5, "score": [float(i) for i in range(10)]}), scores,
                {"method": "loss_slope", "keep": "highest", "balanced": True, "seed": 0,
                 "params": {"epochs": 0, "scale": "raw", "keep": "highest", "balanced": True}})
    return scores


def test_the_api_selects_a_plugin_methods_scores_in_a_fresh_process(plugin_folder, tmp_path):
    scores = loss_slope_scores(tmp_path)
    code = (f"import prunebench; s = prunebench.select({str(scores)!r}, 0.4, plugins=['loss_trajectory']); "
            "print(sorted(s['index']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=plugin_folder,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[6, 7, 8, 9]"


def test_a_workflow_step_imports_the_plugins_its_environment_names(plugin_folder, tmp_path):
    """The workflow names the config's plugins once, in PRUNEBENCH_PLUGINS; every job's run_step imports them."""
    scores, out = loss_slope_scores(tmp_path), tmp_path / "subset.parquet"
    code = ("from prunebench import pipeline; from prunebench.runtime import run_step; "
            f"run_step(pipeline.select, None, 1, scores_path={str(scores)!r}, fraction=0.4, out={str(out)!r})")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=plugin_folder,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", VARIABLE: "loss_trajectory"})
    assert done.returncode == 0, done.stderr
    assert sorted(pd.read_parquet(out)["index"]) == [6, 7, 8, 9]
