"""A library change reruns what it affects: the plan of real Snakemake in a copy of the repository,
after editing one method's module (only that method's branch), a shared module (everything) or the
report step (only the report)."""

import inspect
import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import SNAKEMAKE, copy_repo

from prunebench import codehash, pipeline

pytestmark = pytest.mark.pipeline

CONFIG = """
dataset: {name: synthetic, options: {num_classes: 3, train_per_class: 40, test_per_class: 5, image_size: 14}}
seeds: [0]
proxy: {epochs: 3, batch_size: 32, snapshot_epochs: [2], repeats: 1}
methods: [cld, herding]
fractions: [0.5]
target: {epochs: 1, batch_size: 32}
"""


def plan(repo: Path, workdir: Path, *args: str) -> dict[str, int]:
    """Jobs per rule that Snakemake runs (or, with -n, would run) for the targets."""
    env = {**os.environ, "PYTHONPATH": str(repo), "PRUNEBENCH_CACHE": "none",
           "PATH": f"{SNAKEMAKE.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run([str(SNAKEMAKE), "-s", str(repo / "Snakefile"), "-d", str(workdir), "--configfile",
                           str(workdir / "config.yaml"), "--cores", "2", *args],
                          capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = done.stdout + done.stderr
    if "Nothing to be done" in text:
        return {}
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", text, re.M) if m[1] not in ("total", "all")}
    return {**counts, "methods": sorted(set(re.findall(r"method=(\w+)", text)))}


def touch_code(path: Path) -> None:
    """A real code edit (a comment or a docstring is not one)."""
    path.write_text(path.read_text() + "\n_EDITED = True\n")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    repo = copy_repo(tmp_path_factory.mktemp("repo"))
    workdir = tmp_path_factory.mktemp("run")
    (workdir / "config.yaml").write_text(CONFIG)
    plan(repo, workdir)
    assert plan(repo, workdir, "-n") == {}
    return repo, workdir


def test_editing_one_methods_module_reruns_only_that_methods_branch(finished):
    repo, workdir = finished
    module = repo / "prunebench" / "methods" / "cld.py"
    before = module.read_text()
    touch_code(module)
    try:
        assert plan(repo, workdir, "-n") == {"score": 1, "select": 1, "train_target": 1, "aggregate": 1,
                                             "report": 1, "methods": ["cld"]}
    finally:
        module.write_text(before)
    assert plan(repo, workdir, "-n") == {}  # the same code again: nothing to do


def test_editing_a_shared_module_reruns_everything_downstream(finished):
    repo, workdir = finished
    module = repo / "prunebench" / "io.py"
    before = module.read_text()
    touch_code(module)
    try:
        assert plan(repo, workdir, "-n") == {"prepare_data": 1, "make_split": 1, "train_proxy": 1, "score": 2,
                                             "select": 2, "train_target": 2, "aggregate": 1, "report": 1,
                                             "methods": ["cld", "herding"]}
    finally:
        module.write_text(before)


def test_editing_the_report_step_reruns_only_the_report(finished):
    repo, workdir = finished
    module = repo / "prunebench" / "pipeline.py"
    before = module.read_text()
    head = "def report(results_path, out_dir, config: dict"
    assert head in before
    at = before.index(":\n", before.index(head)) + 2  # the first line of its body
    module.write_text(before[:at] + "    log.debug('an edit')\n" + before[at:])
    try:
        assert plan(repo, workdir, "-n") == {"report": 1, "methods": []}
    finally:
        module.write_text(before)


def test_comments_docstrings_and_formatting_are_not_code_changes(tmp_path):
    from prunebench import pipeline

    copy = tmp_path / "pipeline.py"
    source = Path(pipeline.__file__).read_text()
    copy.write_text(source)
    digests = {s: codehash.code_digest([(copy, s)]) for s in ("prepare_data", "report")}
    reformatted = source.replace('"""Load, verify and cache', '"""Load, check and cache').replace(
        "    spec = get_dataset(dataset[\"name\"])", "    # a comment\n    spec = get_dataset( dataset[ 'name' ] )")
    assert reformatted.count("a comment") == 1 and "check and cache" in reformatted
    copy.write_text(reformatted)
    assert {s: codehash.code_digest([(copy, s)]) for s in digests} == digests
    copy.write_text(reformatted.replace("spec.prepare(dataset, out_dir, workers)", "spec.prepare(dataset, out_dir, 1)"))
    after = {s: codehash.code_digest([(copy, s)]) for s in digests}
    assert after["prepare_data"] != digests["prepare_data"] and after["report"] == digests["report"]


def test_a_plugin_module_outside_the_package_hashes_with_its_relative_and_prunebench_imports(tmp_path):
    package = tmp_path / "myplugin"
    package.mkdir()
    (package / "__init__.py").write_text("from . import helpers\n")
    (package / "helpers.py").write_text("from prunebench.methods import kernels\nimport numpy\n")
    (package / "method.py").write_text("from .helpers import *\n\ndef score():\n    from prunebench import io\n")
    files = {p.name for p in codehash.module_files([package / "method.py"])}
    assert {"method.py", "helpers.py", "kernels.py", "probabilities.py", "io.py"} <= files
    # prunebench.methods' __init__ is hashed, but the families it registers are not what kernels runs
    assert not files & {"cld.py", "geometry.py", "dynamics.py"}
    first = codehash.code_digest([package / "method.py"])
    touch_code(package / "helpers.py")
    second = codehash.code_digest([package / "method.py"])
    assert second != first
    touch_code(package / "__init__.py")  # the plugin package's __init__ is not imported by method.py
    assert codehash.code_digest([package / "method.py"]) == second


def test_a_steps_code_is_its_own_body_and_the_module_functions_it_calls():
    from prunebench import pipeline

    score = {p.name for p in codehash.module_files([(Path(pipeline.__file__), "score")])}
    target = {p.name for p in codehash.module_files([(Path(pipeline.__file__), "train_target")])}
    assert "target.py" in target and "training.py" in target
    assert "target.py" not in score and "report.py" not in score and "report.py" not in target
    prepare = {p.name for p in codehash.module_files([(Path(pipeline.__file__), "prepare_data")])}
    assert not prepare & {"selection.py", "splits.py", "store.py", "signals.py", "report.py"}  # pipeline imports


def test_a_method_digest_follows_only_its_declared_difficulty_score(monkeypatch):
    """GraNd's `form: full` names no method; CCS's `score` does (with that score's own parameters)."""
    from prunebench import pipeline

    monkeypatch.setattr(codehash, "step_digest", lambda step, *parts: [p.name for p in parts])
    assert pipeline.step_code("score", "grand", {"form": "full"}) == ["grand"]
    assert pipeline.step_code("score", "ccs", {"score": "el2n"}) == ["ccs", "el2n"]


def test_the_trainings_code_leaves_out_config_validation():
    """Editing how a config is checked (prunebench/config.py) must not retrain every proxy and target: the
    training steps read their settings through prunebench.settings, not the config module."""
    for step in (pipeline.train_proxy, pipeline.train_targets):
        files = {p.name for p in codehash.module_files([(inspect.getsourcefile(step), step.__name__)])}
        assert {"training.py", "settings.py"} <= files and "config.py" not in files
