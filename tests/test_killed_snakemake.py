"""Snakemake killed with SIGKILL: its running training ends with it (no orphan), the same command is
refused until `--unlock` (as the README says), and then resumes and finishes."""

import os
import signal
import subprocess
import time

import pytest
from conftest import REPO, SNAKEMAKE

from prunebench import paths
from prunebench.runtime import _parent

pytestmark = pytest.mark.pipeline

CONFIG = """
dataset: {name: synthetic, options: {num_classes: 3, train_per_class: 60, test_per_class: 5, image_size: 14}}
seeds: [0]
methods: [random]
fractions: [0.5]
target: {epochs: 400, batch_size: 30}
job_scope: training
"""
RUN = dict(proxy="small_cnn", arch="small_cnn", method="random", seed=0)
OUT = paths.results_dir({"dataset": {"name": "synthetic"}})
RESULT = f"{OUT}/{paths.TARGET.format(**RUN, fraction='0.5')}"


def command(workdir, *args):
    return [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--configfile",
            str(workdir / "config.yaml"), "--cores", "1", *args, RESULT]


def children(pid: int) -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and (_parent(int(e)) or (None,))[0] == pid]


def alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"


def test_a_killed_snakemake_takes_its_training_with_it_and_resumes_after_unlock(tmp_path):
    (tmp_path / "config.yaml").write_text(CONFIG)
    env = {**os.environ, "PRUNEBENCH_CACHE": "none"}
    master = subprocess.Popen(command(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                              start_new_session=True)
    checkpoint = tmp_path / f"{RESULT}.checkpoint.pt"
    deadline = time.time() + 600
    while not checkpoint.exists() and time.time() < deadline and master.poll() is None:
        time.sleep(0.2)
    assert checkpoint.exists(), "the target training never checkpointed"
    jobs = children(master.pid)
    assert jobs
    master.kill()  # SIGKILL: Snakemake cannot clean up or stop its jobs itself
    master.wait()
    deadline = time.time() + 60  # the job polls its launcher every 2 s; a loaded machine may take longer
    while any(alive(pid) for pid in jobs) and time.time() < deadline:
        time.sleep(0.5)
    left = [pid for pid in jobs if alive(pid)]
    for pid in left:  # do not leave them behind even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not left, "the training outlived its Snakemake"
    assert not (tmp_path / RESULT).exists()
    log = tmp_path / OUT / paths.log("train_target", "training").format(**RUN, fraction="0.5")
    assert "the workflow that started this job is gone: stopping" in log.read_text()

    again = subprocess.run(command(tmp_path), capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode != 0 and "--unlock" in again.stdout + again.stderr  # the README's advice
    subprocess.run(command(tmp_path, "--unlock"), capture_output=True, text=True, env=env, timeout=600, check=True)
    done = subprocess.run(command(tmp_path), capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / RESULT).exists() and not checkpoint.exists()
    assert "resumed from checkpoint" in log.read_text()
