"""`prunebench plan`: what a config will run, checked against Snakemake's dry run and a real run."""

import re
import subprocess
import sys

import pandas as pd
import pytest
from conftest import REPO, SMOKE, snakemake

from prunebench import paths
from prunebench.config import load_config
from prunebench.plan import make_plan


@pytest.mark.parametrize("configs", [[SMOKE], [REPO / "configs" / "cifar10-deepcore.yaml"],
                                     [REPO / "configs" / "cifar100-cld.yaml"], [SMOKE, "job_scope: training"],
                                     [REPO / "configs" / "cifar100-cld.yaml", "job_scope: method"]])
def test_planned_jobs_are_the_jobs_snakemake_plans(tmp_path, configs):
    files = []
    for config in configs:  # a string is a config's text (a job_scope other than the file's)
        if isinstance(config, str):
            text, config = config, tmp_path / f"extra{len(files)}.yaml"
            config.write_text(text)
        files.append(config)
    done = snakemake(tmp_path, "--configfile", *map(str, files), "-n")
    stats = done.stdout.split("Job stats:")[-1]
    planned = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M) if m[1] not in ("all", "total")}
    plan = make_plan(load_config(REPO / "config.yaml", *files))
    assert {rule: n for rule, n in plan.jobs.items() if n} == planned


def test_planned_target_images_are_what_the_smoke_run_trained(smoke_results):
    plan = make_plan(load_config(REPO / "config.yaml", SMOKE))
    runs = pd.read_parquet(smoke_results / paths.TABLE)
    count, epochs, images, evals = plan.totals("target")
    assert count == len(runs) and epochs == runs["epochs"].sum() and plan.pool == 2700
    assert images == (runs["k"] * runs["epochs"]).sum()
    assert evals == 10_000 * len(runs)  # the test set once per run


def test_plan_command_prints_counts_and_with_calibrate_an_estimate():
    command = [sys.executable, "-m", "prunebench", "plan", str(REPO / "config.yaml"), str(SMOKE)]
    plain = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO).stdout
    assert re.search(r"^  train_target\s+8$", plain, re.M) and re.search(r"^  target\s+17\s", plain, re.M)
    assert "jobs per rule (job_scope: method):" in plain
    assert "--calibrate" in plain
    timed = subprocess.run([*command, "--calibrate", "--cores", "2"], capture_output=True, text=True, check=True,
                           cwd=REPO).stdout
    assert "calibration on cpu: small_cnn" in timed and "estimated wall time here (2 CPU cores)" in timed
    assert "GPU-hours: not estimated, no GPU here" in timed
    bad = subprocess.run([sys.executable, "-m", "prunebench", "plan", str(SMOKE), "nope.yaml"], capture_output=True,
                         text=True, cwd=REPO)
    assert bad.returncode == 1 and bad.stderr.strip().startswith("config: cannot read nope.yaml")


def test_an_image_folder_is_planned_from_its_file_list(tmp_path):
    from image_folders import make_image_folder

    make_image_folder(tmp_path / "images", classes=4, per_class={"train": 10, "test": 2})
    (tmp_path / "folder.yaml").write_text(f"dataset: {{name: image_folder, root: {tmp_path / 'images'}, "
                                          "num_classes: 2}\nsplit: {query_fraction: 0.1}\nfractions: [0.5]\n")
    plan = make_plan(load_config(REPO / "config.yaml", tmp_path / "folder.yaml"))
    assert plan.pool == 18  # 2 of the 4 classes, 10 images each, 1 held out per class
    assert plan.totals("target")[3] == 4 * plan.totals("target")[0]  # each run tests the 2 classes' 4 images
