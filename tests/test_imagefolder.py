"""Image folders and ImageNet: small JPEG folders and archives in the real formats, decoded into the store."""

import hashlib
import json
import os

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import REPO
from image_folders import COLOURS, corrupt_jpeg, make_image_folder, make_imagenet_archives
from PIL import Image

from prunebench import paths, pipeline
from prunebench.config import ConfigError, load_config, validate_config
from prunebench.datasets import open_cache
from prunebench.imagefolder import decode, list_image_folder, list_imagenet, prepare
from prunebench.io import DataError


def dataset(name, root, **extra):
    return {"name": name, "root": str(root), "download_root": "data", "options": {}, "store_size": 16,
            "crop_size": None, "num_classes": None, "skip_bad_images": False, **extra}


def test_decode_resizes_the_short_side_and_crops_the_centre(tmp_path):
    stripes = np.zeros((30, 90, 3), np.uint8)  # red | green | blue thirds, 90 x 30
    stripes[:, :30, 0] = stripes[:, 30:60, 1] = stripes[:, 60:, 2] = 255
    Image.fromarray(stripes).save(tmp_path / "stripes.png")
    out = decode(str(tmp_path / "stripes.png"), 10)
    assert out.shape == (10, 10, 3) and out.dtype == np.uint8
    assert (out[:, 1:-1, 1] == 255).all() and (out[:, 1:-1, [0, 2]] == 0).all()  # only the green middle third


def test_image_folder_is_stored_with_labels_classes_and_a_manifest(tmp_path):
    root = make_image_folder(tmp_path / "raw", classes=3)
    pipeline.prepare_data(dataset("image_folder", root), tmp_path / "data", workers=2)
    data, meta = open_cache(tmp_path / "data")
    assert data.train_images.shape == (24, 16, 16, 3) and data.test_images.shape == (9, 16, 16, 3)
    assert meta["classes"] == ["class0", "class1", "class2"] and meta["augment"]
    assert "crop_size" not in meta  # the training view is not the store's: changing it decodes nothing
    assert np.bincount(data.train_labels).tolist() == [8, 8, 8]
    mean_colour = data.train_images.reshape(len(data.train_labels), -1, 3).mean(axis=1)
    assert np.abs(mean_colour - np.array(COLOURS)[data.train_labels]).max() < 12  # each image is its class's
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    for name, entry in manifest["arrays"].items():
        assert hashlib.sha256((tmp_path / "data" / f"{name}.npy").read_bytes()).hexdigest() == entry["sha256"]
    assert manifest["sources"]["test"][0] == ["test/class0/000.jpg", (root / "test/class0/000.jpg").stat().st_size]
    assert not list(tmp_path.glob(".data.partial"))  # the work folder became the store


def test_a_corrupt_image_is_one_line_naming_it_or_skipped_and_counted(tmp_path):
    root = make_image_folder(tmp_path / "raw", classes=2)
    bad = corrupt_jpeg(root / "train" / "class1" / "002.jpg")
    with pytest.raises(DataError) as caught:
        pipeline.prepare_data(dataset("image_folder", root), tmp_path / "data")
    assert str(caught.value).startswith(f"{bad}: cannot read image") and "\n" not in str(caught.value)
    assert not (tmp_path / "data").exists()
    pipeline.prepare_data(dataset("image_folder", root, skip_bad_images=True), tmp_path / "data")
    data, meta = open_cache(tmp_path / "data")
    assert meta["skipped_images"] == 1 and len(data.train_labels) == 15
    assert np.bincount(data.train_labels).tolist() == [8, 7]
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    assert list(manifest["skipped"]["train"]) == [str(bad)]


def test_a_stopped_preparation_resumes_after_its_finished_chunks(tmp_path, caplog):
    root = make_image_folder(tmp_path / "raw", classes=3)
    late, late_test = root / "train" / "class2" / "005.jpg", root / "test" / "class1" / "001.jpg"
    good, good_test = late.read_bytes(), late_test.read_bytes()
    corrupt_jpeg(late)  # stops the first attempt after the chunks before it
    corrupt_jpeg(late_test)  # and the second one in the test split, after the whole train split
    listing = list_image_folder(root)
    meta = {"name": "image_folder", "mean": [0.5] * 3, "std": [0.5] * 3, "augment": True, "crop_size": 16}
    with pytest.raises(DataError):
        prepare(listing, tmp_path / "data", meta, 16, threads=1, chunk_size=4)
    assert np.load(tmp_path / ".data.partial" / "train_done.npy").sum() >= 4
    late.write_bytes(good)
    with caplog.at_level("INFO"), pytest.raises(DataError, match="001.jpg: cannot read image"):
        prepare(listing, tmp_path / "data", meta, 16, threads=1, chunk_size=4)
    assert "train: resuming after" in caplog.text
    late_test.write_bytes(good_test)
    caplog.clear()
    with caplog.at_level("INFO"):
        prepare(listing, tmp_path / "data", meta, 16, threads=1, chunk_size=4)
    assert "train: already decoded" in caplog.text and "train: 24/24" not in caplog.text  # not decoded again
    assert "test: resuming after" in caplog.text
    resumed, _ = open_cache(tmp_path / "data")
    prepare(listing, tmp_path / "fresh", meta, 16, threads=2, chunk_size=4)
    fresh, _ = open_cache(tmp_path / "fresh")
    assert np.array_equal(resumed.train_images, fresh.train_images)
    assert np.array_equal(resumed.test_images, fresh.test_images)
    assert (tmp_path / "data" / "manifest.json").read_bytes() == (tmp_path / "fresh" / "manifest.json").read_bytes()


def test_a_chunk_that_finished_beside_a_failing_one_is_not_decoded_again(tmp_path, monkeypatch):
    """Under load both chunks in flight can finish before the loop looks: the good one must still be kept."""
    import concurrent.futures

    from prunebench import imagefolder

    root = make_image_folder(tmp_path / "raw", classes=1)
    listing = list_image_folder(root)
    corrupt_jpeg(root / listing.train[5][0])  # the second chunk of 4 fails; the first one finishes beside it
    meta = {"name": "image_folder", "mean": [0.5] * 3, "std": [0.5] * 3, "augment": True, "crop_size": 16}
    def both_finished_failing_first(futures, return_when):
        done = concurrent.futures.wait(futures).done
        return sorted(done, key=lambda future: future.exception() is None), set()

    monkeypatch.setattr(imagefolder, "wait", both_finished_failing_first)
    with pytest.raises(DataError):
        prepare(listing, tmp_path / "data", meta, 16, threads=1, chunk_size=4)
    assert np.load(tmp_path / ".data.partial" / "train_done.npy").tolist()[:2] == [True, False]


def test_a_preparation_killed_while_dropping_skipped_rows_resumes(tmp_path, monkeypatch):
    root = make_image_folder(tmp_path / "raw", classes=2)
    corrupt_jpeg(root / "train" / "class1" / "002.jpg")
    listing = list_image_folder(root)
    meta = {"name": "image_folder", "mean": [0.5] * 3, "std": [0.5] * 3, "augment": True, "crop_size": 16}
    replace = os.replace

    def killed_at_the_compaction(src, dst):
        if str(src).endswith("train_kept.npy"):
            raise KeyboardInterrupt  # as a kill between the compacted copy and its rename
        replace(src, dst)

    monkeypatch.setattr(os, "replace", killed_at_the_compaction)
    with pytest.raises(KeyboardInterrupt):
        prepare(listing, tmp_path / "data", meta, 16, skip_bad_images=True, chunk_size=4)
    monkeypatch.setattr(os, "replace", replace)
    prepare(listing, tmp_path / "data", meta, 16, skip_bad_images=True, chunk_size=4)
    prepare(listing, tmp_path / "fresh", meta, 16, skip_bad_images=True, chunk_size=4)
    resumed, fresh = open_cache(tmp_path / "data")[0], open_cache(tmp_path / "fresh")[0]
    assert len(resumed.train_labels) == 15 and np.array_equal(resumed.train_images, fresh.train_images)
    assert (tmp_path / "data" / "manifest.json").read_bytes() == (tmp_path / "fresh" / "manifest.json").read_bytes()


def test_a_damaged_store_is_one_line_when_opened(tmp_path):
    root = make_image_folder(tmp_path / "raw", classes=2)
    pipeline.prepare_data(dataset("image_folder", root), tmp_path / "data")
    labels = tmp_path / "data" / "train_labels.npy"
    good = labels.read_bytes()
    np.save(labels, np.zeros(16, np.int64))  # same size, other contents
    with pytest.raises(DataError, match=r"train_labels.npy: damaged \(does not match manifest.json\)"):
        open_cache(tmp_path / "data")
    labels.write_bytes(good)
    images = tmp_path / "data" / "test_images.npy"
    images.write_bytes(images.read_bytes()[:-10])  # a truncated copy
    with pytest.raises(DataError, match="test_images.npy: damaged"):
        open_cache(tmp_path / "data")


def test_a_folder_store_is_verified_before_it_is_used(tmp_path, monkeypatch):
    import dataclasses

    from prunebench import imagefolder

    root = make_image_folder(tmp_path / "raw", classes=3)
    spread = imagefolder.spread_classes
    monkeypatch.setattr(imagefolder, "spread_classes",  # a listing whose labels outrun its classes
                        lambda listing, count: dataclasses.replace(spread(listing, count), classes=("class0",)))
    with pytest.raises(DataError, match="image_folder: train labels outside 0..0"):
        pipeline.prepare_data(dataset("image_folder", root), tmp_path / "data")
    assert not (tmp_path / "data").exists()


def test_probing_methods_stream_a_store_that_does_not_fit_and_see_the_crop(tmp_path, monkeypatch, caplog):
    from prunebench import training
    from prunebench.methods import ProxyPlan

    root = make_image_folder(tmp_path / "raw", classes=2, per_class={"train": 10, "test": 2})
    pipeline.prepare_data(dataset("image_folder", root, store_size=24), tmp_path / "data")
    pipeline.make_split(tmp_path / "data", {"query_fraction": 0.2, "label_noise": 0.0, "max_samples": None}, 0,
                        tmp_path / "split.parquet")
    proxy = {"arch": "small_cnn", "epochs": 1, "batch_size": 8, "snapshot_epochs": [], "repeats": 1,
             "log_in_training": False, "log_kl_shift": False, "data": "memory", "augment": None}
    pipeline.train_proxy(tmp_path / "data", tmp_path / "split.parquet", proxy, 0, "cpu", tmp_path / "proxy",
                         crop_size=16)
    plan = ProxyPlan(1, (), False, arch="small_cnn", crop_size=16)

    def deepfool(out):
        params = pipeline.get_method("deepfool").params({"max_iter": 3})
        pipeline.score("deepfool", params, plan, tmp_path / "split.parquet", tmp_path / "proxy", 0, out,
                       tmp_path / "data", "cpu")
        return pq.read_table(out).column("score").to_numpy()

    held = deepfool(tmp_path / "held.parquet")
    monkeypatch.setattr(training, "_host_memory_available", lambda: 0)  # the pool no longer fits
    with caplog.at_level("INFO"):
        streamed = deepfool(tmp_path / "streamed.parquet")
    assert "streaming 16 images" in caplog.text
    assert np.array_equal(held, streamed) and np.isfinite(held).all()


def test_a_class_slice_keeps_evenly_spaced_classes_relabelled(tmp_path):
    root = make_image_folder(tmp_path / "raw", classes=5)
    pipeline.prepare_data(dataset("image_folder", root, num_classes=3), tmp_path / "data")
    data, meta = open_cache(tmp_path / "data")
    assert meta["classes"] == ["class0", "class2", "class4"]
    assert np.bincount(data.train_labels).tolist() == [8, 8, 8] and np.bincount(data.test_labels).tolist() == [3, 3, 3]
    mean_colour = data.train_images.reshape(24, -1, 3).mean(axis=1)
    assert np.abs(mean_colour - np.array(COLOURS)[[0, 2, 4]][data.train_labels]).max() < 12


def test_imagenet_folder_layout_uses_val_as_the_test_set(tmp_path):
    wnids = ["n01440764", "n01443537"]
    root = make_image_folder(tmp_path / "raw", classes=2, splits=("train", "val"), ext=".JPEG", names=wnids)
    pipeline.prepare_data(dataset("imagenet", root), tmp_path / "data")
    data, meta = open_cache(tmp_path / "data")
    assert meta["classes"] == wnids and len(data.test_labels) == 6 and "class_words" not in meta


def test_imagenet_official_archives_are_read_as_torchvision_reads_them(tmp_path, monkeypatch):
    import torchvision.datasets.imagenet as tvi

    md5 = make_imagenet_archives(tmp_path / "raw")
    with pytest.raises(DataError, match="The archive ILSVRC2012_devkit_t12.tar.gz is not present .* or is corrupted"):
        list_imagenet(tmp_path / "raw")  # small test archives are not the official files
    # the test archives' MD5s in place of the official ones; everything else is torchvision's real parsing
    monkeypatch.setattr(tvi, "ARCHIVE_META", {k: (name, md5[k]) for k, (name, _) in tvi.ARCHIVE_META.items()})
    pipeline.prepare_data(dataset("imagenet", tmp_path / "raw"), tmp_path / "data", workers=2)
    data, meta = open_cache(tmp_path / "data")
    assert meta["classes"] == ["n01440764", "n01443537", "n01484850"]
    assert meta["class_words"] == ["tench, Tinca tinca", "goldfish, Carassius auratus", "great white shark"]
    assert np.bincount(data.train_labels).tolist() == [6, 6, 6] and np.bincount(data.test_labels).tolist() == [2, 2, 2]
    mean_colour = data.test_images.reshape(6, -1, 3).mean(axis=1)  # val images sorted into their wnids
    assert np.abs(mean_colour - np.array(COLOURS)[data.test_labels]).max() < 12


@pytest.mark.parametrize("changes, message", [
    ({"name": "imagenet"}, "config: dataset.root: imagenet needs the folder holding its images"),
    ({"name": "cifar10", "store_size": 32}, "config: dataset.store_size: only image folders"),
    ({"name": "image_folder", "root": ".", "store_size": 32, "crop_size": 40},
     "config: dataset.crop_size: 40 is larger than dataset.store_size (32)"),
])
def test_folder_settings_are_checked(changes, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_config({"dataset": changes})


@pytest.mark.pipeline
def test_changing_the_crop_size_retrains_but_does_not_decode_again(tmp_path):
    from conftest import snakemake

    root = make_image_folder(tmp_path / "raw", classes=2)
    config = tmp_path / "folder.yaml"
    body = ("seeds: [0]\nmethods: [random]\nfractions: [0.5]\nproxy: {epochs: 1, snapshot_epochs: [], repeats: 1}\n"
            "target: {epochs: 1}\n")
    config.write_text(f"dataset: {{name: image_folder, root: {root}, store_size: 16, crop_size: 12}}\n" + body)
    data = paths.data_dir(load_config(REPO / "config.yaml", config))
    snakemake(tmp_path, "--configfile", str(config), "--cores", "1", data)
    config.write_text(f"dataset: {{name: image_folder, root: {root}, store_size: 16, crop_size: 8}}\n" + body)
    assert paths.data_dir(load_config(REPO / "config.yaml", config)) == data  # crops are cut at training time
    plan = snakemake(tmp_path, "--configfile", str(config), "-n", data).stdout
    assert "prepare_data" not in plan, plan


def test_an_image_folder_runs_through_the_workflow_streamed(tmp_path):
    from conftest import snakemake

    root = make_image_folder(tmp_path / "raw", classes=4, per_class={"train": 20, "test": 5})
    corrupt_jpeg(root / "train" / "class3" / "019.jpg")
    config = tmp_path / "folder.yaml"
    config.write_text(f"""
dataset: {{name: image_folder, root: {root}, store_size: 72, crop_size: 64, skip_bad_images: true}}
seeds: [0, 1]
proxy: {{epochs: 3, batch_size: 16, snapshot_epochs: [], repeats: 1, log_kl_shift: false, data: stream}}
methods: [random, full, cld, forgetting]
fractions: [0.5]
target: {{epochs: 2, batch_size: 16, data: stream}}
""")
    snakemake(tmp_path, "--configfile", str(config), "--cores", "2")
    out = tmp_path / paths.results_dir({"dataset": {"name": "image_folder"}})
    results = pq.read_table(out / paths.TABLE).to_pandas()
    assert len(results) == 2 * 4 and results["test_accuracy"].between(0, 1).all()
    cfg = load_config(REPO / "config.yaml", config)
    assert json.loads((tmp_path / paths.data_dir(cfg) / "meta.json").read_text())["skipped_images"] == 1
    assert "images/s, ETA" in (tmp_path / paths.data_file(cfg, paths.log("prepare_data"))).read_text()  # once
    for seed in (0, 1):
        log = out / paths.log("train_proxy").format(proxy="small_cnn", seed=seed)
        assert "from the store (data: stream)" in log.read_text()
    # one target job per (arch, method) trains every seed and fraction (job_scope: method, the default)
    log = out / paths.log("train_target", "method").format(proxy="small_cnn", arch="small_cnn", method="cld")
    assert "streaming" in log.read_text()
    assert (out / paths.REPORT / "index.html").exists()
