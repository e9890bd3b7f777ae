"""A library change reruns what it affects: the plan of real Snakemake in a copy of the repository,
after editing one method's module (only that method's branch) or a shared module (everything)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, SNAKEMAKE

from prunebench import codehash

pytestmark = pytest.mark.pipeline

CONFIG = """
dataset: {name: synthetic, options: {num_classes: 3, train_per_class: 40, test_per_class: 5, image_size: 14}}
seeds: [0]
proxy: {epochs: 3, batch_size: 32, snapshot_epochs: [2], repeats: 1}
methods: [cld, herding]
fractions: [0.5]
target: {epochs: 1, batch_size: 32}
"""
TARGETS = [f"results/synthetic/targets/small_cnn/{m}/0.5/seed0.json" for m in ("cld", "herding")]


def copy_repo(dest: Path) -> Path:
    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout
    for name in tracked.split():
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    return dest


def plan(repo: Path, workdir: Path, *args: str) -> dict[str, int]:
    """Jobs per rule that Snakemake runs (or, with -n, would run) for the targets."""
    env = {**os.environ, "PYTHONPATH": str(repo), "PRUNEBENCH_CACHE": "none",
           "PATH": f"{SNAKEMAKE.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run([str(SNAKEMAKE), "-s", str(repo / "Snakefile"), "-d", str(workdir), "--configfile",
                           str(workdir / "config.yaml"), "--cores", "2", *args, *TARGETS],
                          capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = done.stdout + done.stderr
    if "Nothing to be done" in text:
        return {}
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", text, re.M) if m[1] != "total"}
    return {**counts, "methods": sorted(set(re.findall(r"method=(\w+)", text)))}


def touch_code(path: Path) -> None:
    path.write_text(path.read_text() + "\n# an edit\n")


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
        assert plan(repo, workdir, "-n") == {"score": 1, "select": 1, "train_target": 1, "methods": ["cld"]}
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
                                             "select": 2, "train_target": 2, "methods": ["cld", "herding"]}
    finally:
        module.write_text(before)


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
