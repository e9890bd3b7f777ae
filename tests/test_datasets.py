"""The real loaders: Fashion-MNIST's IDX files, CIFAR's pickled batches (tiny files in the exact format)."""

import gzip
import hashlib
import pickle
import shutil
import tarfile

import numpy as np
import pytest

from prunebench.datasets import (
    CIFAR_LAYOUT,
    DATASETS,
    get_dataset,
    load_cifar,
    load_fashion_mnist,
    make_synthetic,
    open_cache,
    save_cache,
    verify,
)
from prunebench.io import DataError


@pytest.fixture(scope="module")
def fashion_mnist():
    return get_dataset("fashion_mnist").load()


def test_fashion_mnist_loads_verified_and_whole(fashion_mnist):
    data = fashion_mnist
    verify(data, "fashion_mnist")
    assert data.train_images.shape == (60000, 28, 28, 1) and data.test_images.shape == (10000, 28, 28, 1)
    assert np.bincount(data.train_labels).tolist() == [6000] * 10
    assert np.bincount(data.test_labels).tolist() == [1000] * 10
    assert data.classes[0] == "T-shirt/top" and data.classes[9] == "Ankle boot"
    # the normalisation constants of the registry are this data's statistics
    assert abs(data.train_images.mean() / 255 - DATASETS["fashion_mnist"].mean[0]) < 1e-3


def write_idx(path, array):
    """An IDX file: zero bytes, type 0x08 (unsigned byte), rank, big-endian sizes, payload; gzipped."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path.write_bytes(gzip.compress(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()))


def test_a_damaged_fashion_mnist_file_fails_with_its_name(tmp_path, fashion_mnist):
    folder = tmp_path / "fm"
    folder.mkdir()
    for split, images, labels in (("train", fashion_mnist.train_images, fashion_mnist.train_labels),
                                  ("t10k", fashion_mnist.test_images, fashion_mnist.test_labels)):
        write_idx(folder / f"{split}-images-idx3-ubyte.gz", images[..., 0])
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz", labels)
    rewritten = load_fashion_mnist(folder)  # the official checksums hold for the same bytes
    assert np.array_equal(rewritten.test_labels, fashion_mnist.test_labels)
    target = folder / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(target.read_bytes()))
    raw[100] = (raw[100] + 1) % 10
    target.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: checksum mismatch"):
        load_fashion_mnist(folder)
    target.write_bytes(gzip.compress(b"\x00\x00\x09\x01" + bytes(raw[4:])))
    with pytest.raises(DataError, match="not an unsigned-byte IDX file"):
        load_fashion_mnist(folder, checksums=None)


def write_cifar(root, variant, per_file=6, num_classes=10):
    """Tiny CIFAR files in torchvision's layout: pickled dicts of bytes keys, uint8 (n, 3072) data."""
    folder, train_files, test_files, label_key, meta_file, names_key = CIFAR_LAYOUT[variant]
    base = root / folder
    base.mkdir(parents=True)
    rng = np.random.default_rng(0)
    expected = {}
    for name in train_files + test_files:
        data = rng.integers(0, 256, size=(per_file, 3072), dtype=np.uint8)
        labels = [int(x) for x in rng.integers(0, num_classes, per_file)]
        batch = {b"batch_label": name.encode(), b"data": data, label_key: labels,
                 b"filenames": [f"img{i}.png".encode() for i in range(per_file)]}
        (base / name).write_bytes(pickle.dumps(batch, protocol=2))
        expected[name] = (data, labels)
    names = [f"class{c}".encode() for c in range(num_classes)]
    (base / meta_file).write_bytes(pickle.dumps({names_key: names, b"num_cases_per_batch": per_file}, protocol=2))
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in base.iterdir()}
    return expected, md5


@pytest.mark.parametrize("variant, classes", [("cifar10", 10), ("cifar100", 100)])
def test_cifar_loader_reads_the_real_on_disk_format(tmp_path, variant, classes):
    expected, md5 = write_cifar(tmp_path, variant, num_classes=classes)
    data = load_cifar(tmp_path, variant, checksums=md5)
    verify(data, variant)
    train_files = CIFAR_LAYOUT[variant][1]
    assert data.train_images.shape == (6 * len(train_files), 32, 32, 3)
    first_data, first_labels = expected[train_files[0]]
    # CIFAR rows are channel-major (1024 red, 1024 green, 1024 blue) -> HWC
    assert np.array_equal(data.train_images[0, :, :, 1], first_data[0, 1024:2048].reshape(32, 32))
    assert data.train_labels[:6].tolist() == first_labels
    assert len(data.classes) == classes


def test_cifar_registry_loader_extracts_the_official_archive_layout(tmp_path):
    staging = tmp_path / "staging"
    write_cifar(staging, "cifar10")
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(staging / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    shutil.rmtree(staging)
    # the registry loader extracts, then checks the official checksums, which tiny files cannot match
    with pytest.raises(DataError, match="cifar-10-batches-py/data_batch_1: checksum mismatch"):
        get_dataset("cifar10").load(str(tmp_path))
    assert (tmp_path / "cifar-10-batches-py" / "test_batch").exists()
    with pytest.raises(DataError, match="neither cifar-100-python/ nor cifar-100-python.tar.gz there"):
        get_dataset("cifar100").load(str(tmp_path))


def test_cifar_checksums_and_foreign_pickles_are_refused(tmp_path):
    write_cifar(tmp_path, "cifar10")
    base = tmp_path / CIFAR_LAYOUT["cifar10"][0]
    with pytest.raises(DataError, match="data_batch_1: checksum mismatch"):
        load_cifar(tmp_path, "cifar10")  # the official checksums do not match the tiny files
    (base / "test_batch").write_bytes(pickle.dumps({b"data": shutil.rmtree}, protocol=2))
    with pytest.raises(DataError, match="refusing to load shutil.rmtree"):
        load_cifar(tmp_path, "cifar10", checksums={})


def test_cache_round_trip_memory_maps_the_arrays(tmp_path):
    data = make_synthetic(num_classes=3, train_per_class=20, test_per_class=5)
    save_cache(data, tmp_path / "cache", "synthetic")
    loaded, meta = open_cache(tmp_path / "cache")
    assert isinstance(loaded.train_images, np.memmap)
    assert np.array_equal(loaded.train_images, data.train_images)
    assert meta["classes"] == ["class0", "class1", "class2"] and meta["augment"] is False
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind
    with pytest.raises(DataError, match="not a prunebench dataset cache"):
        open_cache(tmp_path / "missing")


def test_synthetic_data_is_deterministic_and_labelled_in_range():
    a, b = make_synthetic(seed=1), make_synthetic(seed=1)
    assert np.array_equal(a.train_images, b.train_images)
    verify(a, "synthetic")
    assert np.bincount(a.train_labels).tolist() == [200] * 10
