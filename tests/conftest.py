"""Shared fixtures: the repository, the real smoke pipeline run, synthetic signals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
SMOKE = REPO / "configs" / "smoke.yaml"


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run the real Snakemake CLI on this repository's Snakefile in `workdir`."""
    command = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(workdir), *args]
    env = {**os.environ, "PATH": f"{SNAKEMAKE.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if check and done.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """The smoke config run once through real Snakemake; returns its working directory."""
    workdir = tmp_path_factory.mktemp("smoke")
    snakemake(workdir, "--configfile", str(SMOKE), "--cores", "2")
    return workdir


@pytest.fixture(scope="session")
def smoke_results(smoke_run) -> Path:
    return smoke_run / "results" / "fashion_mnist"
