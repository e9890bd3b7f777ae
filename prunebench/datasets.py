"""Dataset registry: each loader returns the official train/test split as uint8 arrays.

Loaded data is verified (checksums, shapes, label range) and cached once as
`.npy` files that the trainers memory-map. Image folders (ImageNet, a user's own)
are too large to load whole: their entries write that cache directly (imagefolder.py).
"""

from __future__ import annotations

import gzip
import hashlib
import inspect
import io
import json
import os
import pickle
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import imagefolder
from .errors import UnknownNameError, check_new_name
from .io import DataError, reporting_full_disk, sha256_file


@dataclass(frozen=True)
class ImageData:
    """Official train and test arrays; images are (N, H, W, C) uint8, labels int64."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    classes: tuple[str, ...]
    crop_size: int | None = None  # the side models see (image folders); None is the stored side

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_size(self) -> int:
        return self.crop_size or self.train_images.shape[1]


@dataclass(frozen=True)
class DatasetSpec:
    """How to load one dataset and how to train on it by default."""

    name: str
    load: Callable[..., ImageData] | None  # None: `prepare` writes the cache itself
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: bool  # the literature's default: crop + flip for CIFAR, none for Fashion-MNIST
    default_roots: tuple[str, ...] = ()
    options: dict[str, inspect.Parameter] = field(default_factory=dict)  # the loader's keyword options by name
    # (config: dataset.options; their defaults and annotations say which --config strings are numbers)
    prepare: Callable[[dict, str | os.PathLike, int], None] | None = None  # (dataset config, cache folder, threads)
    # training images per class, known before any file is read (from dataset.options), so budgets that
    # round to zero are refused before anything runs; None: known once the dataset is prepared
    class_counts: Callable[[dict], list[int]] | None = None
    test_size: int | None = None  # test images, for a plan made before the data is there


# ---------------------------------------------------------------------------
# Fashion-MNIST (IDX files, gzipped or not)

FASHION_MNIST_FILES = {
    # sha256 of the *decompressed* IDX bytes: the same for Debian's package and the
    # official download, whose gzip wrappers differ.
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


def parse_idx(raw: bytes, source: str) -> np.ndarray:
    """Decode an IDX file (big-endian header, unsigned byte payload)."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{source}: not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    payload = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if payload.size != int(np.prod(shape)):
        raise DataError(f"{source}: header says {shape} but holds {payload.size} bytes")
    return payload.reshape(shape)


def _read_idx(root: Path, stem: str, checksums: dict[str, str] | None) -> np.ndarray:
    for candidate in (root / f"{stem}.gz", root / stem):
        if candidate.exists():
            opener = gzip.open if candidate.suffix == ".gz" else open
            with opener(candidate, "rb") as handle:
                raw = handle.read()
            expected = (checksums or {}).get(stem)
            if expected and hashlib.sha256(raw).hexdigest() != expected:
                raise DataError(f"{candidate}: checksum mismatch (damaged or not the official file)")
            return parse_idx(raw, str(candidate))
    raise DataError(f"{root}: no {stem}[.gz] found")


def load_fashion_mnist(root: str | os.PathLike, checksums: dict[str, str] | None = FASHION_MNIST_FILES) -> ImageData:
    """Fashion-MNIST from a folder of IDX files (Debian's package or torchvision's raw/)."""
    root = Path(root)
    images = {s: _read_idx(root, f"{s}-images-idx3-ubyte", checksums) for s in ("train", "t10k")}
    labels = {s: _read_idx(root, f"{s}-labels-idx1-ubyte", checksums) for s in ("train", "t10k")}
    return ImageData(
        train_images=images["train"][..., None],
        train_labels=labels["train"].astype(np.int64),
        test_images=images["t10k"][..., None],
        test_labels=labels["t10k"].astype(np.int64),
        classes=FASHION_MNIST_CLASSES,
    )


def _download(name: str, root: Path, fetch: Callable[[], object]) -> None:
    try:
        fetch()
    except Exception as err:  # network and archive errors come in many types; all mean the same here
        raise DataError(f"could not download {name} into {root}: {err}") from None


def download_fashion_mnist(root: Path) -> Path:
    """Fetch Fashion-MNIST with torchvision (it checks the archives' MD5)."""
    from torchvision.datasets import FashionMNIST

    _download("fashion_mnist", root, lambda: FashionMNIST(str(root), download=True))
    return root / "FashionMNIST" / "raw"


# ---------------------------------------------------------------------------
# CIFAR-10 / CIFAR-100 (torchvision's "python version" folders)

CIFAR_LAYOUT = {
    # folder, train files, test files, label key, meta file, class-name key
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"],
                b"labels", "batches.meta", b"label_names"),
    "cifar100": ("cifar-100-python", ["train"], ["test"], b"fine_labels", "meta", b"fine_label_names"),
}
CIFAR_MD5 = {
    "cifar10": {
        "data_batch_1": "c99cafc152244af753f735de768cd75f",
        "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "634d18415352ddfa80567beed471001a",
        "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "40351d587109b95175f43aff81a1287e",
        "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
    },
    "cifar100": {
        "train": "16019d7e3df5f24257cddd939b257f8d",
        "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
        "meta": "7973b15100ade9c7d40fb424638fde48",
    },
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """CIFAR's files are pickles; allow only what they hold (dicts, lists, numpy arrays)."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 spell bytes
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _read_cifar_pickle(path: Path, expected_md5: str | None) -> dict:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    if expected_md5 and hashlib.md5(raw).hexdigest() != expected_md5:
        raise DataError(f"{path}: checksum mismatch (damaged or not the official file)")
    try:
        return _ArrayOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as err:  # a damaged pickle can raise almost anything
        raise DataError(f"{path}: not a CIFAR batch file ({err})") from None


def load_cifar(root: str | os.PathLike, variant: str, checksums: dict[str, str] | None = None) -> ImageData:
    """CIFAR-10 or CIFAR-100 from torchvision's extracted folder under `root`.

    `checksums` maps file names to MD5; the official ones are used when None.
    """
    folder, train_files, test_files, label_key, meta_file, names_key = CIFAR_LAYOUT[variant]
    base = Path(root) / folder
    md5 = CIFAR_MD5[variant] if checksums is None else checksums

    def read(files: list[str]) -> tuple[np.ndarray, np.ndarray]:
        images, labels = [], []
        for name in files:
            batch = _read_cifar_pickle(base / name, md5.get(name))
            if b"data" not in batch or label_key not in batch:
                raise DataError(f"{base / name}: lacks {b'data'!r} or {label_key!r}")
            data = np.asarray(batch[b"data"], dtype=np.uint8)
            if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
                raise DataError(f"{base / name}: data has shape {data.shape}, expected (n, 3072)")
            images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            labels.append(np.asarray(batch[label_key], dtype=np.int64))
        return np.concatenate(images), np.concatenate(labels)

    train_images, train_labels = read(train_files)
    test_images, test_labels = read(test_files)
    meta = _read_cifar_pickle(base / meta_file, md5.get(meta_file))
    classes = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in meta[names_key])
    return ImageData(train_images, train_labels, test_images, test_labels, classes)


def download_cifar(root: Path, variant: str) -> Path:
    from torchvision.datasets import CIFAR10, CIFAR100

    _download(variant, root, lambda: (CIFAR10 if variant == "cifar10" else CIFAR100)(str(root), download=True))
    return root


# ---------------------------------------------------------------------------
# Synthetic: class prototypes plus noise, for fast tests

def make_synthetic(num_classes: int = 10, train_per_class: int = 200, test_per_class: int = 50,
                   image_size: int = 28, noise: float = 0.35, seed: int = 0) -> ImageData:
    """Learnable images: each class is a fixed random smooth pattern plus pixel noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((num_classes, 7, 7))
    prototypes = np.kron(coarse, np.ones((image_size // 7 + 1,) * 2))[:, :image_size, :image_size]

    def draw(per_class: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.repeat(np.arange(num_classes), per_class)
        rng.shuffle(labels)
        pixels = prototypes[labels] + noise * rng.standard_normal((labels.size, image_size, image_size))
        images = np.clip(pixels * 255, 0, 255).astype(np.uint8)[..., None]
        return images, labels.astype(np.int64)

    train_images, train_labels = draw(train_per_class)
    test_images, test_labels = draw(test_per_class)
    return ImageData(train_images, train_labels, test_images, test_labels,
                     tuple(f"class{c}" for c in range(num_classes)))


# ---------------------------------------------------------------------------
# Registry

def _fashion_mnist(root: str | None = None, download_root: str = "data") -> ImageData:
    candidates = [Path(root)] if root else [Path(p) for p in DATASETS["fashion_mnist"].default_roots]
    for candidate in candidates:
        if (candidate / "train-images-idx3-ubyte.gz").exists() or (candidate / "train-images-idx3-ubyte").exists():
            return load_fashion_mnist(candidate)
    if root:
        raise DataError(f"{root}: no Fashion-MNIST IDX files there")
    return load_fashion_mnist(download_fashion_mnist(Path(download_root)))


CIFAR_ARCHIVES = {"cifar10": "cifar-10-python.tar.gz", "cifar100": "cifar-100-python.tar.gz"}


def extract_cifar(archive: Path, into: Path) -> None:
    """Unpack the official tar.gz; the 'data' filter refuses links and paths leaving `into`."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as err:
        raise DataError(f"{archive}: cannot extract ({err})") from None


def _cifar(variant: str) -> Callable[..., ImageData]:
    def load(root: str | None = None, download_root: str = "data") -> ImageData:
        base = Path(root or download_root)
        if not (base / CIFAR_LAYOUT[variant][0]).exists():
            if (base / CIFAR_ARCHIVES[variant]).exists():
                extract_cifar(base / CIFAR_ARCHIVES[variant], base)
            elif root:
                raise DataError(f"{root}: neither {CIFAR_LAYOUT[variant][0]}/ nor {CIFAR_ARCHIVES[variant]} there")
            else:
                download_cifar(base, variant)
        return load_cifar(base, variant)
    return load


def _synthetic(root: str | None = None, download_root: str = "data", **options) -> ImageData:
    return make_synthetic(**options)


def _folder(name: str, lister: Callable[[str], imagefolder.Listing]) -> Callable[[dict, str | os.PathLike, int], None]:
    def prepare(dataset: dict, out_dir: str | os.PathLike, threads: int) -> None:
        spec = DATASETS[name]
        meta = {"name": name, "mean": spec.mean, "std": spec.std, "augment": spec.augment}
        listing = imagefolder.spread_classes(lister(dataset["root"]), dataset["num_classes"])
        imagefolder.prepare(listing, out_dir, meta, dataset["store_size"],
                            dataset["skip_bad_images"], threads)
    return prepare


# datasets whose config sets dataset.root, store_size, crop_size, num_classes and skip_bad_images (imagefolder.py)
FOLDER_DATASETS = {"imagenet": imagefolder.list_imagenet, "image_folder": imagefolder.list_image_folder}

def _options(load: Callable) -> dict[str, inspect.Parameter]:
    """A loader's keyword options: its parameters other than root and download_root."""
    return {p.name: p for p in inspect.signature(load).parameters.values()
            if p.name not in ("root", "download_root") and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def _synthetic_counts(options: dict) -> list[int]:
    bound = inspect.signature(make_synthetic).bind_partial(**options)
    bound.apply_defaults()
    return [bound.arguments["train_per_class"]] * bound.arguments["num_classes"]


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec for spec in [
        DatasetSpec("fashion_mnist", _fashion_mnist, (0.2861,), (0.3530,), augment=False,
                    default_roots=("/usr/share/datasets/fashion-mnist",), class_counts=lambda _: [6000] * 10,
                    test_size=10_000),
        DatasetSpec("cifar10", _cifar("cifar10"), (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), augment=True,
                    class_counts=lambda _: [5000] * 10, test_size=10_000),
        DatasetSpec("cifar100", _cifar("cifar100"), (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762), augment=True,
                    class_counts=lambda _: [500] * 100, test_size=10_000),
        DatasetSpec("synthetic", _synthetic, (0.5,), (0.4,), augment=False,
                    options=_options(make_synthetic), class_counts=_synthetic_counts),
        *(DatasetSpec(name, None, imagefolder.IMAGENET_MEAN, imagefolder.IMAGENET_STD, augment=True,
                      prepare=_folder(name, lister)) for name, lister in FOLDER_DATASETS.items()),
    ]
}


def register_dataset(name: str, mean: tuple[float, ...], std: tuple[float, ...], augment: bool = False,
                     default_roots: tuple[str, ...] = ()) -> Callable:
    """Decorator: register `load(root, download_root, **options) -> ImageData` as dataset `name` (a plugin's).

    mean, std: per-channel normalisation of images scaled to [0, 1]; augment: crop + flip by default.
    The loader's other keyword parameters are its `dataset.options`.
    """
    def decorate(load: Callable[..., ImageData]) -> Callable[..., ImageData]:
        check_new_name("dataset", name, DATASETS)
        DATASETS[name] = DatasetSpec(name, load, tuple(mean), tuple(std), augment, tuple(default_roots),
                                     _options(load))
        return load
    return decorate


def get_dataset(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise UnknownNameError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


def verify(data: ImageData, source: str) -> None:
    """Shapes agree, images are uint8 NHWC, labels cover exactly 0..C-1."""
    for split, images, labels in (("train", data.train_images, data.train_labels),
                                  ("test", data.test_images, data.test_labels)):
        if images.dtype != np.uint8 or images.ndim != 4:
            raise DataError(f"{source}: {split} images must be uint8 (N, H, W, C), got {images.dtype} {images.shape}")
        if len(images) != len(labels):
            raise DataError(f"{source}: {len(images)} {split} images but {len(labels)} labels")
        if labels.min() < 0 or labels.max() >= data.num_classes:
            raise DataError(f"{source}: {split} labels outside 0..{data.num_classes - 1}")
    if data.train_images.shape[1:] != data.test_images.shape[1:]:
        raise DataError(f"{source}: train and test images differ in shape")


# ---------------------------------------------------------------------------
# Cache: one folder of .npy files plus meta.json

CACHE_ARRAYS = ("train_images", "train_labels", "test_images", "test_labels")


def save_cache(data: ImageData, folder: str | os.PathLike, name: str) -> None:
    """Write the arrays into `folder` atomically (a temporary folder renamed at the end)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        with reporting_full_disk(folder / "meta.json"):
            for key in CACHE_ARRAYS:
                np.save(tmp / f"{key}.npy", getattr(data, key))
            spec = get_dataset(name)
            meta = {"name": name, "classes": list(data.classes), "mean": spec.mean, "std": spec.std,
                    "augment": spec.augment, "shape": list(data.train_images.shape[1:]),
                    "train_size": len(data.train_labels), "test_size": len(data.test_labels)}
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def open_cache(folder: str | os.PathLike) -> tuple[ImageData, dict]:
    """Memory-map a cache written by `save_cache` (or an image-folder store, checked against its manifest);
    returns the data and its meta."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if (folder / "manifest.json").exists():  # an image-folder store: the labels' digests, the images' sizes
            for name, entry in json.loads((folder / "manifest.json").read_text())["arrays"].items():
                path = folder / f"{name}.npy"
                if path.stat().st_size != entry["bytes"] or ("labels" in name and sha256_file(path) != entry["sha256"]):
                    raise DataError(f"{path}: damaged (does not match manifest.json); delete {folder} and rerun")
        arrays = {k: np.load(folder / f"{k}.npy", mmap_mode="r") for k in CACHE_ARRAYS}
    except DataError:
        raise
    except (OSError, ValueError) as err:
        raise DataError(f"{folder}: not a prunebench dataset cache ({err})") from None
    return ImageData(**arrays, classes=tuple(meta["classes"])), meta
