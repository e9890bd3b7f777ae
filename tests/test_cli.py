"""The `prunebench` command: methods, check, --version, plugins."""

import shutil
import subprocess
import sys
import tomllib

from conftest import REPO

import prunebench


def cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "prunebench", *args], capture_output=True, text=True, cwd=cwd)


def test_the_console_script_is_the_same_command():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"prunebench": "prunebench.__main__:main"}
    done = cli("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"prunebench {prunebench.__version__}"


def test_methods_lists_built_in_and_plugin_methods(tmp_path):
    assert "cld " in cli("methods").stdout and "loss_slope" not in cli("methods").stdout
    shutil.copy(REPO / "examples" / "loss_trajectory.py", tmp_path)
    listed = cli("--plugin", "loss_trajectory", "methods", cwd=tmp_path).stdout
    assert "loss_slope.scale = 'raw': 'raw' slope, or 'relative' to the first epoch's loss" in listed


def test_check_says_valid_or_one_line(tmp_path):
    assert cli("check", "config.yaml", "configs/smoke.yaml").stdout.strip() == "config.yaml + configs/smoke.yaml: valid"
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: {name: synthetic}\nmethods: [random, nope]\n")
    done = cli("check", str(bad))
    assert done.returncode == 1 and done.stderr.startswith("config: methods: unknown method 'nope'")
    assert len(done.stderr.strip().splitlines()) == 1
