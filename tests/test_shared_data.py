"""Runs over one dataset (any run_name) share its prepared cache, and through the store their proxy runs."""

import pytest
from conftest import REPO, snakemake

from prunebench import paths
from prunebench.config import load_config

BODY = """dataset: {name: synthetic, options: {num_classes: 3, train_per_class: 60, test_per_class: 5, image_size: 14}}
seeds: [0]
methods: [random, cld]
fractions: [0.5]
proxy: {epochs: 3, snapshot_epochs: [], repeats: 1, log_kl_shift: false}
target: {epochs: 1}
"""


def config(tmp_path, run_name, extra=""):
    path = tmp_path / f"{run_name}.yaml"
    path.write_text(f"run_name: {run_name}\n{BODY}{extra}")
    return path


def test_the_prepared_dataset_is_keyed_by_its_settings_not_by_the_run():
    def folder(run_name, **dataset):
        return paths.data_dir({"run_name": run_name, "dataset": {"name": "imagenet", "store_size": 256, **dataset}})

    assert folder("imagenet") == folder("imagenet-transfer") == folder("x", crop_size=224)  # crops: training's
    assert folder("imagenet").startswith(f"{paths.RESULTS}/{paths.DATA}/imagenet-")
    assert folder("imagenet") != folder("imagenet", store_size=72)  # another store: another folder


@pytest.mark.pipeline
def test_two_run_names_over_one_dataset_prepare_it_once_and_reuse_the_proxy(tmp_path):
    first, second = config(tmp_path, "first"), config(tmp_path, "second")
    snakemake(tmp_path, "--configfile", str(first), "--cores", "2")
    cfg = load_config(REPO / "config.yaml", second)
    assert paths.data_dir(cfg) == paths.data_dir(load_config(REPO / "config.yaml", first))
    plan = snakemake(tmp_path, "--configfile", str(second), "-n").stdout
    assert "rule prepare_data" not in plan and "rule make_split" in plan  # the data once, the split per run
    snakemake(tmp_path, "--configfile", str(second), "--cores", "2")
    for run in ("first", "second"):  # each run keeps its own table and report, none under its own data/
        out = tmp_path / paths.RESULTS / run
        assert (out / paths.TABLE).is_file() and (out / paths.REPORT / "index.html").is_file()
        assert not (out / paths.DATA).exists()
    assert (tmp_path / paths.data_file(cfg, paths.log("prepare_data"))).is_file()  # its log beside the cache
    # the same data and split: the second run's proxy is the first's, restored by content from the store
    log = tmp_path / paths.results_dir(cfg) / paths.log("train_proxy").format(proxy="small_cnn", seed=0)
    assert "reused the proxy outputs stored" in log.read_text()
