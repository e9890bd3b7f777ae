"""envs/prunebench.yaml installs this checkout when conda creates it where Snakemake puts it.

Snakemake copies the env file to <workdir>/.snakemake/conda/<hash>.yaml and runs `conda env create`
there; conda writes the pip section to a requirements file beside it and runs pip in that folder.
This test repeats that pip step for real (conda itself is not installed here), offline: the
package's metadata is built from this checkout, without downloading its dependencies.
"""

import os
import subprocess
import sys

import yaml
from conftest import REPO


def test_the_conda_envs_pip_section_installs_this_checkout_from_snakemakes_copy(tmp_path):
    env = yaml.safe_load((REPO / "envs" / "prunebench.yaml").read_text())
    pip_specs = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_dir = tmp_path / "workdir" / ".snakemake" / "conda"
    conda_dir.mkdir(parents=True)
    (conda_dir / "condaenv.test.requirements.txt").write_text("\n".join(pip_specs))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-index", "--no-build-isolation",
         "-r", "condaenv.test.requirements.txt"],
        cwd=conda_dir, capture_output=True, text=True,
        env={**os.environ, "PRUNEBENCH_ROOT": str(REPO)})  # what the Snakefile sets: its own folder
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"Obtaining file://{REPO}" in done.stdout and "Would install prunebench-" in done.stdout
