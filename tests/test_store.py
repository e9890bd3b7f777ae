"""The content-keyed store of finished proxy runs: stored once, restored by link with fresh times, and keyed
on the same code digest as the proxy rule's, so an edit of the architecture's code trains anew."""

import importlib
import json
import logging
import os
import sys
import time

import pytest
from conftest import synthetic_proxy_run

from prunebench import pipeline, store
from prunebench.archs import ARCHS


@pytest.fixture
def data_and_split(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "meta.json").write_text(json.dumps({"name": "x"}))
    (data / "train_labels.npy").write_bytes(b"labels")
    split = tmp_path / "split.parquet"
    split.write_bytes(b"split")
    return data, split


def test_a_stored_run_is_restored_into_another_folder(tmp_path, monkeypatch, data_and_split):
    monkeypatch.setenv(store.ENV, str(tmp_path / "store"))
    data, split = data_and_split
    parts = store.proxy_key(data, split, {"epochs": 4}, seed=0, repeat=0, device_type="cpu", code="c")
    first = tmp_path / "a" / "proxy"
    first.mkdir(parents=True)
    assert store.restore(parts, first) is None  # nothing stored yet
    (first / "dynamics.parquet").write_bytes(b"dyn")
    (first / "model.pt").write_bytes(b"weights")
    (first / "checkpoint.pt").write_bytes(b"not stored")
    (first / "repeat1").mkdir()
    (first / "repeat1" / "snapshot.parquet").write_bytes(b"repeat")
    entry = store.save(parts, first, ["dynamics.parquet", "model.pt", "repeat1/snapshot.parquet"])
    assert sorted(p.name for p in entry.iterdir()) == ["dynamics.parquet", "manifest.json", "model.pt", "repeat1"]

    second = tmp_path / "b" / "proxy"
    before = time.time() - 1
    assert store.restore(parts, second) == entry
    assert (second / "dynamics.parquet").read_bytes() == b"dyn" and (second / "model.pt").read_bytes() == b"weights"
    assert not (second / "checkpoint.pt").exists()
    assert (second / "repeat1" / "snapshot.parquet").read_bytes() == b"repeat"  # a repeat run's subfolder
    assert os.stat(second / "model.pt").st_mtime >= before  # newer than the run's inputs
    assert os.stat(second / "model.pt").st_ino == os.stat(first / "model.pt").st_ino  # a link, no copy


def test_the_key_covers_settings_seed_data_and_device(data_and_split):
    data, split = data_and_split
    base = store.key_of(store.proxy_key(data, split, {"epochs": 4}, 0, 0, "cpu", "c"))
    assert base == store.key_of(store.proxy_key(data, split, {"epochs": 4}, 0, 0, "cpu", "c"))
    assert base != store.key_of(store.proxy_key(data, split, {"epochs": 5}, 0, 0, "cpu", "c"))
    assert base != store.key_of(store.proxy_key(data, split, {"epochs": 4}, 1, 0, "cpu", "c"))
    assert base != store.key_of(store.proxy_key(data, split, {"epochs": 4}, 0, 0, "cuda", "c"))
    assert base != store.key_of(store.proxy_key(data, split, {"epochs": 4}, 0, 0, "cpu", "another code"))
    split.write_bytes(b"another split")
    assert base != store.key_of(store.proxy_key(data, split, {"epochs": 4}, 0, 0, "cpu", "c"))


def test_the_store_can_be_switched_off(tmp_path, monkeypatch, data_and_split):
    monkeypatch.setenv(store.ENV, "none")
    data, split = data_and_split
    parts = store.proxy_key(data, split, {}, 0, 0, "cpu", "c")
    assert store.save(parts, tmp_path, []) is None and store.restore(parts, tmp_path / "x") is None


PROXY = {"arch": "store_test_arch", "epochs": 2, "batch_size": 32, "lr": 0.05, "momentum": 0.9,
         "weight_decay": 5e-4, "nesterov": True, "schedule": "cosine", "milestones": [], "gamma": 0.1,
         "augment": None, "snapshot_epochs": [1], "log_in_training": True, "log_kl_shift": False, "repeats": 1}


def test_editing_a_plugin_architecture_trains_the_proxy_again_instead_of_restoring_it(tmp_path, monkeypatch,
                                                                                        caplog):
    monkeypatch.setenv(store.ENV, str(tmp_path / "store"))
    plugin = tmp_path / "plugin" / "store_test_arch_plugin.py"
    plugin.parent.mkdir()
    plugin.write_text("from prunebench.archs import register_arch\nfrom prunebench.models import small_cnn\n\n"
                      "@register_arch('store_test_arch')\ndef build(channels, classes, size):\n"
                      "    return small_cnn(channels, classes, size)\n")
    monkeypatch.syspath_prepend(str(plugin.parent))
    importlib.import_module(plugin.stem)
    try:
        edit_and_rerun(tmp_path, plugin, caplog)
    finally:
        ARCHS.pop("store_test_arch", None)
        sys.modules.pop(plugin.stem, None)


def edit_and_rerun(tmp_path, plugin, caplog):
    first = pipeline.step_code("train_proxy", arch="store_test_arch")
    options = {"num_classes": 3, "train_per_class": 20, "test_per_class": 5, "image_size": 12}
    with caplog.at_level(logging.INFO, logger="prunebench.store"):
        run = synthetic_proxy_run(tmp_path / "a", PROXY, options)
        pipeline.train_proxy(run / "data", run / "split.parquet", PROXY, 0, "cpu", tmp_path / "again")
        assert sum("reused the proxy outputs" in r.getMessage() for r in caplog.records) == 1  # unchanged code

        plugin.write_text(plugin.read_text().replace("classes, size)\n", "classes, size + 0)\n"))
        assert pipeline.step_code("train_proxy", arch="store_test_arch") != first  # the rule reruns the proxy
        caplog.clear()
        pipeline.train_proxy(run / "data", run / "split.parquet", PROXY, 0, "cpu", tmp_path / "edited")
    assert not any("reused the proxy outputs" in r.getMessage() for r in caplog.records)  # trained anew


def test_a_targets_code_includes_its_architectures_builder(tmp_path, monkeypatch):
    plugin = tmp_path / "target_arch_plugin.py"
    plugin.write_text("from prunebench.archs import register_arch\nfrom prunebench.models import small_cnn\n\n"
                      "@register_arch('target_test_arch')\ndef build(channels, classes, size):\n"
                      "    return small_cnn(channels, classes, size)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module(plugin.stem)
    try:
        before = pipeline.step_code("train_target", arch="target_test_arch")
        assert before != pipeline.step_code("train_target", arch="small_cnn")
        plugin.write_text(plugin.read_text().replace("classes, size)\n", "classes, size + 0)\n"))
        assert pipeline.step_code("train_target", arch="target_test_arch") != before
    finally:
        ARCHS.pop("target_test_arch", None)
        sys.modules.pop(plugin.stem, None)
