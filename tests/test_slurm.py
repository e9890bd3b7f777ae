"""The workflow on a real SLURM cluster: scripts/local_slurm.sh brings up munge, MariaDB,
slurmdbd, slurmctld and slurmd on 127.0.0.1 with one fake GPU, and every job goes through
sbatch and sacct (snakemake-executor-plugin-slurm, profiles/slurm-local). No mocks.

The README's three SLURM user stories are run as written, with the local cluster's profile.
Tests run in file order and share one copy of the repository (they build on each other's
results, as a user's session would). Where SLURM cannot be started (not root, not installed)
they skip with the reason, unless PRUNEBENCH_REQUIRE_SLURM=1 (CI), where that is a failure.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from conftest import REPO, SMOKE, SNAKEMAKE

from prunebench import paths
from prunebench.config import load_config

pytestmark = [pytest.mark.slurm, pytest.mark.pipeline]

SCRIPT = REPO / "scripts" / "local_slurm.sh"
METHODS = ["random", "full", "cld", "forgetting"]
RULES = ["prepare_data", "make_split", "train_proxy", "train_proxy_repeat", "score", "select", "select_full",
         "train_target", "train_target_full", "aggregate", "report"]
GPU_RULES = {"train_proxy", "train_proxy_repeat", "train_target", "train_target_full"}
TARGET_RULES = ("train_target", "train_target_full")
OUT = paths.results_dir({"dataset": {"name": "fashion_mnist"}})
RUN = {"proxy": "small_cnn", "seed": 0}  # the proxy run, and whose subsets the targets train on
SCOPE = "seed"  # job_scope as on a cluster: a job per method and seed (the smoke run it is compared with: method)
FALLBACK = "CUDA_VISIBLE_DEVICES=0 but CUDA is not usable here; running on the CPU"


def _sbin_path() -> str:
    return f"{SNAKEMAKE.parent}{os.pathsep}{os.environ.get('PATH', '')}{os.pathsep}/usr/sbin"


@pytest.fixture(scope="module")
def cluster():
    """The local cluster, started for this module when it is not up already (and stopped after)."""
    env = {**os.environ, "PATH": _sbin_path()}

    def unavailable(reason: str):
        if os.environ.get("PRUNEBENCH_REQUIRE_SLURM") == "1":
            pytest.fail(f"PRUNEBENCH_REQUIRE_SLURM=1 but {reason}")
        pytest.skip(reason)

    if subprocess.run([str(SCRIPT), "status"], env=env, capture_output=True).returncode == 0:
        yield
        return
    if os.geteuid() != 0:
        unavailable("a local SLURM needs root (scripts/local_slurm.sh writes /etc/slurm and starts daemons)")
    if not shutil.which("slurmctld", path=env["PATH"]):
        unavailable("SLURM is not installed: `make slurm` (root, apt) or scripts/local_slurm.sh install")
    started = subprocess.run([str(SCRIPT), "up"], env=env, capture_output=True, text=True, timeout=300)
    if started.returncode != 0:
        unavailable(f"scripts/local_slurm.sh up failed: {started.stderr.strip()[-2000:]}")
    yield
    subprocess.run([str(SCRIPT), "down"], env=env, capture_output=True, timeout=120)


def _merge(base: dict, extra: dict) -> dict:
    """Snakemake's config merge: nested dicts merge, everything else is replaced."""
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


@pytest.fixture(scope="module")
def clone(tmp_path_factory, cluster) -> Path:
    """A copy of the working tree whose config.yaml is the smoke slice with four methods."""
    root = tmp_path_factory.mktemp("slurm") / "prunebench"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    (root / ".venv").symlink_to(SNAKEMAKE.parent.parent)
    config = _merge(yaml.safe_load((REPO / "config.yaml").read_text()), yaml.safe_load(SMOKE.read_text()))
    config["methods"] = METHODS
    config["method_params"] = {k: v for k, v in (config.get("method_params") or {}).items() if k in METHODS}
    config["job_scope"] = SCOPE
    (root / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """The proxy store the cluster runs share (PRUNEBENCH_CACHE)."""
    return tmp_path_factory.mktemp("store")


def _env(store_dir) -> dict:
    return {**os.environ, "PATH": _sbin_path(), "PRUNEBENCH_CACHE": str(store_dir)}


@pytest.fixture(scope="module")
def local_results(smoke_results) -> pd.DataFrame:
    """The same config run locally (no SLURM), for comparison: the smoke run's results for METHODS.

    CPU kernels may add up in another order with another thread count, so the last digits of an
    accuracy depend on it; the cluster profile packs two trainings in a two-thread target job, so each
    trains on one thread as locally, and results are identical.
    """
    frame = pd.read_parquet(smoke_results / paths.TABLE)
    return frame[frame["method"].isin(METHODS)].reset_index(drop=True)


def readme_stories() -> dict[str, str]:
    section = (REPO / "README.md").read_text().split("## Running on a SLURM cluster")[1].split("\n## ")[0]
    return {story: command for story, command in re.findall(r"^\| (.+?) \| `(.+?)` \|$", section, re.M)}


def run_story(clone: Path, store_dir: Path, story: str, *extra: str, timeout: int = 1800):
    """Run a README story's command as written, with the local cluster's profile."""
    command = readme_stories()[story]
    assert "--profile profiles/slurm" in command
    command = command.replace("--profile profiles/slurm", "--profile profiles/slurm-local") + " " + " ".join(extra)
    tick = time.time()
    done = subprocess.run(["bash", "-c", command], cwd=clone, capture_output=True, text=True, timeout=timeout,
                          env=_env(store_dir))
    done.seconds = time.time() - tick
    done.output = done.stdout + done.stderr
    return done


def slurm_jobs(output: str) -> list[dict]:
    """sacct's record of every SLURM job Snakemake reported submitting, with the rule from its comment."""
    ids = re.findall(r"submitted with SLURM jobid (\d+)", output)
    assert ids, output[-3000:]
    fields = ["JobID", "JobName", "Comment", "AllocTRES", "State", "Account", "Partition"]
    for _ in range(50):  # accounting lags the controller by a moment
        listed = subprocess.run(["sacct", "-X", "-n", "-P", "-j", ",".join(ids), "-o", ",".join(fields)],
                                capture_output=True, text=True, check=True, env={**os.environ, "PATH": _sbin_path()})
        rows = [dict(zip(fields, line.split("|"))) for line in listed.stdout.splitlines() if line]
        if len(rows) == len(ids) and all(r["State"] not in ("PENDING", "RUNNING") for r in rows):
            break
        time.sleep(0.2)
    assert sorted(r["JobID"] for r in rows) == sorted(ids)
    for row in rows:
        comment = row["Comment"]
        if comment.startswith("rule_targets"):  # a group job: several target jobs
            row["rule"], row["group"] = "train_target", True
        else:
            row["rule"] = next(r for r in sorted(RULES, key=len, reverse=True)
                               if comment == f"rule_{r}" or comment.startswith(f"rule_{r}_wildcards_"))
            row["group"] = False
    return rows


def job_stats(output: str) -> dict[str, int]:
    stats = output.split("Job stats:")[1].split("\n\n")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M) if m[1] != "total"}


def results(clone: Path) -> pd.DataFrame:
    return pd.read_parquet(clone / OUT / paths.TABLE)


def assert_same_results(a: pd.DataFrame, b: pd.DataFrame):
    pd.testing.assert_frame_equal(a.drop(columns="wall_seconds").reset_index(drop=True),
                                  b.drop(columns="wall_seconds").reset_index(drop=True))


def test_readme_tells_users_to_fill_in_account_and_partition_only():
    profile = yaml.safe_load((REPO / "profiles/slurm/config.v8+.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert profile["default-resources"]["slurm_account"] == "FILL_IN_ACCOUNT"
    assert profile["default-resources"]["slurm_partition"] == "FILL_IN_PARTITION"
    assert [k for k, v in profile["default-resources"].items() if "FILL_IN" in str(v)] == \
        ["slurm_account", "slurm_partition"]
    local = yaml.safe_load((REPO / "profiles/slurm-local/config.v8+.yaml").read_text())
    assert set(local) == set(profile)  # the local cluster's profile exercises the same settings
    for rule in ("train_proxy", *TARGET_RULES):
        assert profile["set-resources"][rule]["gpu"] == local["set-resources"][rule]["gpu"] == 1
    assert profile["groups"] == local["groups"] == {rule: "targets" for rule in TARGET_RULES}
    for p in (profile, local):  # group width capped: one target job per layer, so one GPU per group
        for rule in TARGET_RULES:
            assert p["set-threads"][rule] == p["cores"] and p["set-resources"][rule]["packing"] >= 2
    rerun = "rerun one method's branch (CLD: its scores, subsets, target runs, then the report)"
    assert set(readme_stories()) == {"run everything on SLURM", "regenerate the final report", rerun}


def test_everything_runs_through_sbatch_and_matches_the_local_run(clone, store, request):
    done = run_story(clone, store, "run everything on SLURM")
    assert done.returncode == 0, done.output[-6000:]
    jobs = slurm_jobs(done.output)
    assert {j["State"] for j in jobs} == {"COMPLETED"}
    assert {(j["Account"], j["Partition"]) for j in jobs} == {("testacct", "debug")}
    assert re.findall(r"^localrule (\w+):", done.output, re.M) == ["all"]  # nothing else ran outside SLURM
    assert {"prepare_data", "make_split", "train_proxy", "score", "select", "train_target", "aggregate",
            "report"} <= {j["rule"] for j in jobs}
    for job in jobs:  # the GPU was asked for by the training rules, and only by them
        assert ("gres/gpu=1" in job["AllocTRES"]) == (job["rule"] in GPU_RULES), job
    stats = job_stats(done.output)
    groups = [j for j in jobs if j["group"]]
    targets = stats["train_target"] + stats["train_target_full"]  # jobs of every fraction of a method and seed
    assert len(jobs) == sum(stats.values()) - stats["all"] - targets + len(groups)
    assert len(groups) == math.ceil(targets / 4) < targets  # group-components: 4
    done.seconds and print(f"\nSLURM smoke run: {done.seconds:.0f} s, {sum(stats.values()) - 1} jobs in "
                           f"{len(jobs)} sbatch submissions ({len(groups)} target groups)")

    # the local run, asked for only now: under xdist another worker runs it meanwhile, not this one before the cluster
    assert_same_results(results(clone), request.getfixturevalue("local_results"))
    for log in [clone / OUT / paths.log("train_proxy").format(**RUN),
                *(clone / OUT / "logs" / "train_target").rglob("*.log")]:
        assert FALLBACK in log.read_text(), log  # the fake GPU: CUDA absent, one line, then the CPU
    assert not list((clone / OUT).rglob("*checkpoint*.pt"))


def _submitted(jobs, rule):
    return [j for j in jobs if j["rule"] == rule]


def test_rerunning_one_methods_branch(clone, store, local_results):
    done = run_story(clone, store, "rerun one method's branch (CLD: its scores, subsets, target runs, then the report)")
    assert done.returncode == 0, done.output[-6000:]
    # one job selects both fractions, one trains on both
    assert job_stats(done.output) == {"score": 1, "select": 1, "train_target": 1, "aggregate": 1, "report": 1,
                                      "all": 1}
    jobs = slurm_jobs(done.output)
    assert [j["Comment"] for j in _submitted(jobs, "score")] == ["rule_score_wildcards_small_cnn_cld_0"]
    assert [j["Comment"] for j in _submitted(jobs, "select")] == ["rule_select_wildcards_small_cnn_cld_0"]
    assert {j["State"] for j in jobs} == {"COMPLETED"}
    assert_same_results(results(clone), local_results)


def test_regenerating_the_report_reruns_only_aggregate_and_report(clone, store):
    report = clone / OUT / paths.REPORT / "index.html"
    before = report.stat().st_mtime
    done = run_story(clone, store, "regenerate the final report")
    assert done.returncode == 0, done.output[-6000:]
    assert job_stats(done.output) == {"aggregate": 1, "report": 1, "all": 1}
    assert sorted(j["rule"] for j in slurm_jobs(done.output)) == ["aggregate", "report"]
    assert report.stat().st_mtime > before


def test_a_failed_job_is_reported_the_rest_goes_on_and_a_rerun_resumes(clone, store, local_results):
    # CLD's scores are damaged (same times, so only the select job that is redone reads them),
    # and CLD's and Forgetting's 0.5 subsets and target runs are to be redone
    scores = clone / OUT / paths.SCORES.format(**RUN, method="cld")
    good, times = scores.read_bytes(), (scores.stat().st_atime, scores.stat().st_mtime)
    scores.write_bytes(b"PAR1 damaged")
    os.utime(scores, times)
    for method in ("cld", "forgetting"):
        (clone / OUT / paths.TARGET.format(**RUN, arch="small_cnn", method=method, fraction="0.5")).unlink()
        (clone / OUT / paths.SUBSET.format(**RUN, method=method, fraction="0.5")).unlink()
    # as after a first run that stopped: no final table or report yet (Snakemake does not redo missing
    # intermediate files while the final outputs exist and are up to date)
    for name in (paths.TABLE, paths.TABLE_CSV):
        (clone / OUT / name).unlink()
    shutil.rmtree(clone / OUT / paths.REPORT)
    done = run_story(clone, store, "run everything on SLURM", "--keep-going", "--retries", "0")
    assert done.returncode != 0
    error = done.output.split("Error in rule select:")[1][:3000]
    # the rule and its wildcards: one job selects both fractions
    subsets = (f"{OUT}/{paths.SUBSET.format(**RUN, method='cld', fraction=f)}" for f in ("0.1", "0.5"))
    assert f"output: {', '.join(subsets)}" in error
    assert f"log: {OUT}/{paths.log('select', SCOPE).format(**RUN, method='cld')}" in error
    assert "wildcards: proxy=small_cnn, method=cld, seed=0" in done.output
    assert ".snakemake/slurm_logs/rule_select/" in done.output  # the SLURM job's own log
    log = clone / OUT / paths.log("select", SCOPE).format(**RUN, method="cld")
    assert "seed0.parquet" in log.read_text()  # one line: what is wrong
    jobs = slurm_jobs(done.output)
    assert [j["State"] for j in jobs if j["Comment"] == "rule_select_wildcards_small_cnn_cld_0"] == ["FAILED"]
    # --keep-going: Forgetting's subsets were redone all the same (its target job shares a group job with
    # CLD's, and a group starts only when all its inputs are there, so it waits for the rerun)
    assert "rule_select_wildcards_small_cnn_forgetting_0" in {j["Comment"] for j in jobs if j["State"] == "COMPLETED"}
    assert (clone / OUT / paths.SUBSET.format(**RUN, method="forgetting", fraction="0.5")).exists()

    scores.write_bytes(good)  # fixed; the same command resumes with only what is missing
    os.utime(scores, times)
    again = run_story(clone, store, "run everything on SLURM")
    assert again.returncode == 0, again.output[-6000:]
    assert job_stats(again.output) == {"select": 1, "train_target": 2, "aggregate": 1, "report": 1, "all": 1}
    assert_same_results(results(clone), local_results)


def _saved_epoch(path: Path) -> int:
    try:
        return torch.load(path, weights_only=True)["epoch"]
    except (OSError, EOFError, RuntimeError, KeyError):
        return 0


def test_a_training_killed_by_slurm_resumes_on_resubmission(clone, store, tmp_path):
    """SIGTERM to every process of the job, as SLURM sends at a time limit, mid-way through a target training.

    (`scancel` without --signal would do the same, but plugin 2.8.0 then waits forever: sacct says
    'CANCELLED by <uid>', which it does not take for a failure.)
    """
    (clone / "longer.yaml").write_text("methods: [full]\nmethod_params: {}\ntarget: {epochs: 12}\n")
    result = OUT + "/" + paths.TARGET.format(**RUN, arch="small_cnn", method="full", fraction="1.0")
    checkpoint = clone / f"{result}.checkpoint.pt"
    command = readme_stories()["run everything on SLURM"].replace("profiles/slurm", "profiles/slurm-local")
    # the training's own job as target (before --configfile, which takes every word after it): aggregate and
    # report would add two rounds of SLURM polling, not a check
    run = subprocess.Popen(["bash", "-c", f"{command} {result} --configfile longer.yaml"], cwd=clone, env=_env(store),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 600
    while _saved_epoch(checkpoint) < 2 and time.time() < deadline and run.poll() is None:
        time.sleep(0.05)
    env = {**os.environ, "PATH": _sbin_path()}
    running = subprocess.run(["squeue", "-h", "-o", "%i %k"], capture_output=True, text=True,
                             env=env).stdout.split("\n")
    victim = [line.split()[0] for line in running if "train_target" in line]
    assert len(victim) == 1, running
    subprocess.run(["scancel", "--signal=TERM", "--full", victim[0]], check=True, env=env)
    killed_after = _saved_epoch(checkpoint)
    output, _ = run.communicate(timeout=900)
    assert run.returncode == 0, output[-6000:]
    assert 2 <= killed_after < 12
    jobs = slurm_jobs(output)
    states = [j["State"] for j in jobs if j["rule"] == "train_target"]
    assert states[0] == "FAILED" and states[-1] == "COMPLETED", states  # killed, resubmitted (retries: 2)
    log = (clone / OUT / paths.log("train_target", SCOPE).format(**RUN, arch="small_cnn", method="full")).read_text()
    resumed = re.search(r"resumed from checkpoint \S+ after epoch (\d+) of 12", log)
    assert resumed and int(resumed[1]) >= killed_after, log  # resumed, not restarted
    assert "epoch 1:" not in log and not checkpoint.exists()

    # the same training, uninterrupted, as the cluster ran it (packed: one of the job's two threads, CPU)
    straight = tmp_path / "straight.json"
    data = clone / paths.data_dir(load_config(clone / "config.yaml", clone / "longer.yaml"))
    subprocess.run([sys.executable, "-c", f"""
from prunebench import pipeline
from prunebench.config import load_config
from prunebench.runtime import run_step
run_step(pipeline.train_target, None, 1, data_dir={str(data)!r},
         subset_path={str(clone / OUT / paths.SUBSET.format(**RUN, method="full", fraction="1.0"))!r},
         target=load_config({str(clone / "config.yaml")!r}, {str(clone / "longer.yaml")!r})["target"],
         arch='small_cnn', seed=0, device='cpu', proxy_arch='small_cnn', out={str(straight)!r},
         split_path={str(clone / OUT / paths.SPLIT.format(seed=0))!r})
"""], check=True, cwd=clone, capture_output=True, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    cluster_run = json.loads((clone / result).read_text())
    uninterrupted = json.loads(straight.read_text())
    assert cluster_run.pop("resumed_from") == int(resumed[1]) and uninterrupted.pop("resumed_from") == 0
    cluster_run.pop("wall_seconds"), uninterrupted.pop("wall_seconds")
    assert cluster_run == uninterrupted


def test_a_second_config_reuses_the_stored_proxy_instead_of_training(clone, store, tmp_path):
    """Same dataset, split and proxy settings, other target settings, another working directory; the run
    stops at the proxy (`--until`): what comes after it does not read the store."""
    other = tmp_path / "other.yaml"
    other.write_text("fractions: [0.5]\ntarget: {epochs: 2}\n")
    command = [str(SNAKEMAKE), "-s", str(clone / "Snakefile"), "-d", str(tmp_path / "run"), "--profile",
               str(clone / "profiles/slurm-local"), "--configfile", str(other), "--until", "train_proxy"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, env=_env(store))
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert list(store.glob("proxy/*/manifest.json"))
    log = (tmp_path / "run" / OUT / paths.log("train_proxy").format(**RUN)).read_text()
    assert "reused the proxy outputs stored in" in log and "epoch 1/" not in log  # no training
    second = tmp_path / "run" / OUT / paths.PROXY.format(**RUN)
    stored = {p.name: p for entry in store.glob("proxy/*") for p in entry.iterdir() if p.name != "manifest.json"}
    names = sorted(p.name for p in second.iterdir() if p.is_file())
    assert names and set(names) <= set(stored)
    for name in names:  # the very files the first run stored (links, so the same inodes)
        assert (second / name).stat().st_ino == stored[name].stat().st_ino, name
    benchmark = tmp_path / "run" / OUT / paths.benchmark("train_proxy").format(**RUN)
    seconds = pd.read_csv(benchmark, sep="\t")["s"].iloc[0]
    print(f"\nproxy job that reused the store: {seconds:.1f} s")
    assert "rule_train_proxy_wildcards_small_cnn_0" in {j["Comment"] for j in slurm_jobs(output)}


# the dry runs come last, while the module's cluster is up: the executor plugin asks SLURM for its config
# whenever Snakemake starts, and with no controller to answer, scontrol gives up only after 9 s
def planned_resources(profile: str, workdir: Path, config: Path) -> list[tuple[str, dict, dict]]:
    """(rule, wildcards, resources) of every job a dry run with `profile` plans (nothing is submitted)."""
    done = subprocess.run([str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--profile",
                           str(REPO / "profiles" / profile), "--configfile", str(SMOKE), str(config), "-n"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]

    def fields(block, key):
        found = re.search(rf"^\s+{key}: (.*)$", block, re.M)
        return dict(item.split("=", 1) for item in found[1].split(", ")) if found else {}

    blocks = re.split(r"^\s*(?:local)?rule (\w+):$", done.stdout, flags=re.M)[1:]
    return [(rule, fields(block, "wildcards"), fields(block, "resources")) for rule, block in zip(blocks[::2],
                                                                                                  blocks[1::2])]


@pytest.mark.parametrize("profile", ["slurm", "slurm-local"])
def test_the_trainings_and_the_score_jobs_that_run_the_model_ask_for_a_gpu(tmp_path, profile):
    """Every proxy run (repeats too), every target training, and the score jobs of the methods that run the
    proxy model (DeepFool, GraNd's full form) get a GPU; label- and signal-only jobs do not."""
    config = tmp_path / "gpu.yaml"
    config.write_text("proxy: {epochs: 4, snapshot_epochs: [2], repeats: 2}\nmethods: [random, el2n, deepfool, grand]\n"
                      "method_params: {grand: {form: full}, deepfool: {max_iter: 10}}\n")
    jobs = planned_resources(profile, tmp_path, config)
    gpu = {(rule, wildcards.get("method")) for rule, wildcards, resources in jobs if resources.get("gpu") == "1"}
    expected = {("train_proxy", None), ("train_proxy_repeat", None), ("score", "deepfool"), ("score", "grand")}
    expected |= {(rule, wildcards.get("method")) for rule, wildcards, _ in jobs if rule.startswith("train_target")}
    assert {rule for rule, _, _ in jobs} >= {"train_proxy", "train_proxy_repeat", "score", "train_target"}
    assert gpu == expected

def test_a_gres_site_gives_only_the_score_jobs_that_run_the_model_a_gpu_in_its_gpu_partition(tmp_path):
    """The README's `set-resources: score:` override for sites that use --gres and a separate GPU partition."""
    site = tmp_path / "site"
    site.mkdir()
    profile = yaml.safe_load((REPO / "profiles/slurm-local/config.v8+.yaml").read_text())
    profile["set-resources"]["score"] = {"gpu": 0, "gres": "'gpu:1' if hasattr(input, 'data') else ''",
                                         "slurm_partition": "'gpu' if hasattr(input, 'data') else 'debug'"}
    (site / "config.v8+.yaml").write_text(yaml.safe_dump(profile))
    config = tmp_path / "gpu.yaml"
    config.write_text("methods: [random, el2n, deepfool]\nmethod_params: {deepfool: {max_iter: 10}}\n")
    scores = {w["method"]: r for rule, w, r in planned_resources(str(site), tmp_path, config) if rule == "score"}
    assert {m: (r["gres"], r["slurm_partition"], r["gpu"]) for m, r in scores.items()} == {
        "random": ("", "debug", "0"), "el2n": ("", "debug", "0"), "deepfool": ("gpu:1", "gpu", "0")}
