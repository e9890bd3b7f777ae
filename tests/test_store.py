"""The content-keyed store of finished proxy runs: stored once, restored by link with fresh times."""

import json
import os
import time

import pytest

from prunebench import store


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
    parts = store.proxy_key(data, split, {"epochs": 4}, seed=0, repeat=0, device_type="cpu")
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
    base = store.key_of(store.proxy_key(data, split, {"epochs": 4}, 0, 0, "cpu"))
    assert base == store.key_of(store.proxy_key(data, split, {"epochs": 4}, 0, 0, "cpu"))
    assert base != store.key_of(store.proxy_key(data, split, {"epochs": 5}, 0, 0, "cpu"))
    assert base != store.key_of(store.proxy_key(data, split, {"epochs": 4}, 1, 0, "cpu"))
    assert base != store.key_of(store.proxy_key(data, split, {"epochs": 4}, 0, 0, "cuda"))
    split.write_bytes(b"another split")
    assert base != store.key_of(store.proxy_key(data, split, {"epochs": 4}, 0, 0, "cpu"))


def test_the_store_can_be_switched_off(tmp_path, monkeypatch, data_and_split):
    monkeypatch.setenv(store.ENV, "none")
    data, split = data_and_split
    parts = store.proxy_key(data, split, {}, 0, 0, "cpu")
    assert store.save(parts, tmp_path, []) is None and store.restore(parts, tmp_path / "x") is None
