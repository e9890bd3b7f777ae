"""A repository and working directory whose paths contain spaces work; a Python at such a path (which
Snakemake's script runner cannot start) is refused before any job, in one line saying what to do."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import copy_repo

from prunebench import paths

pytestmark = pytest.mark.pipeline

TINY = ("dataset: {name: synthetic, options: {num_classes: 3, train_per_class: 20, test_per_class: 2, "
        "image_size: 7}}\nseeds: [0]\nmethods: [random]\nfractions: [0.5]\n")
SUBSET = paths.SUBSET.format(proxy="small_cnn", method="random", fraction="0.5", seed=0)
TARGET = f"{paths.results_dir({'dataset': {'name': 'synthetic'}})}/{SUBSET}"


@pytest.fixture(scope="module")
def spaced(tmp_path_factory):
    root = tmp_path_factory.mktemp("paths") / "my clone"
    copy_repo(root)
    (root / "tiny.yaml").write_text(TINY)
    return root


def run(python: str, repo: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(repo), "PRUNEBENCH_CACHE": "none"}
    return subprocess.run([python, "-m", "snakemake", TARGET, "--cores", "1", "--configfile", "tiny.yaml"],
                          cwd=repo, capture_output=True, text=True, env=env, timeout=900)


def test_a_repository_and_working_directory_with_spaces_run(spaced):
    done = run(sys.executable, spaced)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (spaced / TARGET).exists()


def test_a_python_at_a_path_with_a_space_is_refused_before_any_job(spaced, tmp_path):
    venv = Path(sys.prefix)
    (tmp_path / "my venv").symlink_to(venv, target_is_directory=True)
    python = tmp_path / "my venv" / Path(sys.executable).relative_to(venv)
    workdir = spaced.parent / "second clone"
    shutil.copytree(spaced, workdir, ignore=shutil.ignore_patterns("results", ".snakemake"))
    done = run(str(python), workdir)
    assert done.returncode != 0
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("prunebench:")]
    assert lines == [f"prunebench: Snakemake cannot start jobs with a Python at a path with a space ({python}); "
                     "put the virtual environment at a path without one (make VENV=$HOME/prunebench-venv setup, "
                     "then run that one's snakemake); the repository and the working directory may contain spaces"]
    assert not (workdir / "results").exists()
