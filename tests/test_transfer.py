"""Several proxy architectures: targets trained on another architecture's subsets (transfer) and on their own
proxy's (the oracle), through real Snakemake on Fashion-MNIST; adding an architecture trains only that one."""

import re
import sys

import pandas as pd
import pytest
import yaml
from conftest import REPO, SMOKE, snakemake

from prunebench import paths
from prunebench.archs import ARCHS
from prunebench.config import load_config, target_runs
from prunebench.plan import make_plan
from prunebench.signals import EVAL_FILE

# a second architecture, cheaper still than small_cnn: one hidden layer on the flattened image
PLUGIN = '''
from torch import nn

from prunebench.archs import register_arch
from prunebench.models import Classifier


@register_arch("tiny_mlp")
def tiny_mlp(in_channels, num_classes, image_size):
    features = nn.Sequential(nn.Flatten(), nn.Linear(in_channels * image_size * image_size, 32), nn.ReLU())
    return Classifier(features, nn.Linear(32, num_classes))
'''
# on top of the smoke config: a smaller slice, shorter trainings (what is checked is which runs there are)
ONE_PROXY = {"plugins": ["tiny_mlp_arch"], "methods": ["random", "cld"], "split": {"max_samples": 1000},
             "proxy": {"epochs": 3}, "target": {"epochs": 1}}
TRANSFER = {**ONE_PROXY, "proxy": {"archs": ["small_cnn", "tiny_mlp"], "epochs": 3},
            "target": {"epochs": 1, "archs": ["small_cnn", "tiny_mlp"], "proxy": "small_cnn", "oracle": True}}
OUT = paths.results_dir({"dataset": {"name": "fashion_mnist"}})


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("transfer")
    (folder / "tiny_mlp_arch.py").write_text(PLUGIN)
    for name, config in (("one_proxy", ONE_PROXY), ("transfer", TRANSFER)):
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(config))
    return folder


def configs(workdir, name):
    return "--configfile", str(SMOKE), str(workdir / f"{name}.yaml")


def job_stats(output: str) -> dict[str, int]:
    stats = output.split("Job stats:")[-1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M) if m[1] not in ("all", "total")}


def test_the_oracle_trains_only_what_transfer_does_not_and_plan_counts_it(workdir, tmp_path, monkeypatch):
    (tmp_path / "tiny_mlp_arch.py").write_text(PLUGIN)
    monkeypatch.chdir(tmp_path)  # a fresh folder holding the plugin
    try:
        cfg = load_config(REPO / "config.yaml", SMOKE, workdir / "transfer.yaml")
        # random's subsets do not depend on the proxy, and small_cnn is its own proxy: neither trains twice
        assert sorted(target_runs(cfg)) == [
            ("small_cnn", "small_cnn", "cld"), ("small_cnn", "small_cnn", "random"),
            ("small_cnn", "tiny_mlp", "cld"), ("small_cnn", "tiny_mlp", "random"), ("tiny_mlp", "tiny_mlp", "cld")]
        planned = make_plan(cfg)
    finally:
        ARCHS.pop("tiny_mlp", None)
        sys.modules.pop("tiny_mlp_arch", None)
    done = snakemake(tmp_path, *configs(workdir, "transfer"), "-n")
    assert {rule: n for rule, n in planned.jobs.items() if n} == job_stats(done.stdout)
    assert [(t.kind, t.arch, t.count) for t in planned.trainings if t.kind == "proxy"] == [
        ("proxy", "small_cnn", 1), ("proxy", "tiny_mlp", 1)]


@pytest.mark.pipeline
def test_adding_a_proxy_architecture_trains_only_it_and_the_report_compares_transfer_with_the_oracle(workdir):
    out = workdir / OUT
    existing = out / paths.PROXY.format(proxy="small_cnn", seed=0)
    snakemake(workdir, *configs(workdir, "one_proxy"), "--cores", "2", str((existing / EVAL_FILE).relative_to(workdir)))
    stamps = {p: p.stat().st_mtime_ns for p in existing.rglob("*") if p.is_file()}

    planned = snakemake(workdir, *configs(workdir, "transfer"), "-n")
    assert job_stats(planned.stdout)["train_proxy"] == 1  # the new architecture's run, not small_cnn's again
    assert "wildcards: proxy=tiny_mlp, seed=0" in planned.stdout

    snakemake(workdir, *configs(workdir, "transfer"), "--cores", "2")
    runs = pd.read_parquet(out / paths.TABLE)
    pairs = set(zip(runs["proxy_arch"], runs["arch"], runs["method"]))
    assert pairs == {("small_cnn", "small_cnn", "random"), ("small_cnn", "small_cnn", "cld"),
                     ("small_cnn", "tiny_mlp", "random"), ("small_cnn", "tiny_mlp", "cld"),
                     ("tiny_mlp", "tiny_mlp", "cld")}
    assert len(runs) == len(pairs) * 2  # fractions 0.1 and 0.5 (no full-data method), one seed
    assert {p: p.stat().st_mtime_ns for p in existing.rglob("*") if p.is_file()} == stamps  # not retrained

    summary = (out / paths.REPORT / "summary.md").read_text()
    section = summary.split("## Transfer across architectures")[1].split("\n## ")[0]
    tables = re.findall(r"^\| proxy → target \|.*?(?=\n\n)", section, re.M | re.S)
    assert len(tables) == 2  # one per fraction
    for table in tables:
        rows = {line.split(" | ")[0].strip("| "): line.split(" | ")[1:] for line in table.splitlines()[2:]}
        assert list(rows) == ["small_cnn → small_cnn (own proxy)", "small_cnn → tiny_mlp",
                              "tiny_mlp → tiny_mlp (oracle)", "gap to oracle, tiny_mlp"]
        assert table.splitlines()[0].split(" | ")[1:] == ["random", "cld |"]
        for name, cells in rows.items():
            assert all(re.fullmatch(r"[+-]?\d+\.\d\d", c.strip(" |")) for c in cells), (name, cells)
        # random's one run is its oracle too: no gap
        assert rows["gap to oracle, tiny_mlp"][0].strip(" |") in ("+0.00", "-0.00")
    assert (out / paths.REPORT / f"{paths.TRANSFER_FIGURE}.png").stat().st_size > 10_000
    assert planned_after(workdir) == {}  # up to date


def planned_after(workdir):
    return job_stats(snakemake(workdir, *configs(workdir, "transfer"), "-n").stdout)
