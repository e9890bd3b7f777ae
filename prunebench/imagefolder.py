"""Image folders (a user's train/<class>/*, ImageNet-1k) decoded once into a memory-mappable store.

Every image is decoded once, in parallel threads (Pillow decodes and resizes outside the
GIL), resized by its short side and center-cropped to `store_size`, and written into
`.npy` arrays the trainers memory-map; the folder looks like any other dataset cache
(datasets.open_cache), plus `manifest.json` (source files, sizes, array checksums, skipped
images). The work happens in a hidden sibling folder that records which chunks are done,
so a killed preparation resumes there; the finished folder appears by one rename.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .io import DataError, atomic_path, read_json, sha256_file, write_json

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CHUNK = 256  # images per unit of work and of resume
SAVE_EVERY = 10.0  # seconds between progress records (and log lines)


@dataclass(frozen=True)
class Listing:
    """Source files and labels of the official train and test splits, in a fixed order."""

    root: str
    train: list[tuple[str, int]]
    test: list[tuple[str, int]]
    classes: tuple[str, ...]  # folder names (ImageNet: wnids)
    words: tuple[str, ...] | None = None  # ImageNet: the classes' names, e.g. "tench, Tinca tinca"


def _samples(folder: Path, class_to_idx: dict[str, int]) -> list[tuple[str, int]]:
    from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

    extra = sorted(set(find_classes(folder)[0]) - set(class_to_idx))
    if extra:
        raise DataError(f"{folder}: class folder(s) {', '.join(extra[:5])} have no counterpart in the training set")
    return make_dataset(str(folder), class_to_idx, IMG_EXTENSIONS, allow_empty=True)


def list_image_folder(root: str | os.PathLike, train: str = "train", test: str = "test") -> Listing:
    """`root/train/<class>/*` and `root/test/<class>/*`, in any format Pillow reads."""
    from torchvision.datasets.folder import find_classes

    root = Path(root)
    for split in (train, test):
        if not (root / split).is_dir():
            raise DataError(f"{root}: no {split}/ folder (expected {train}/<class>/* and {test}/<class>/*)")
    try:
        classes, class_to_idx = find_classes(root / train)
        listing = Listing(str(root), _samples(root / train, class_to_idx), _samples(root / test, class_to_idx),
                          tuple(classes))
    except FileNotFoundError as err:
        raise DataError(f"{root}: {err}") from None
    for split, samples in (("train", listing.train), ("test", listing.test)):
        if not samples:
            raise DataError(f"{root}: no images in {split}")
    return listing


def list_imagenet(root: str | os.PathLike) -> Listing:
    """ILSVRC2012 as torchvision.datasets.ImageNet reads it: the official archives (their MD5 checked, then
    unpacked in place by torchvision), or train/<wnid>/ and val/<wnid>/ folders. The validation set is the test set.
    Class names come from the devkit (or the meta.bin torchvision wrote from it); without either, the wnids."""
    from torchvision.datasets import ImageNet
    from torchvision.datasets.imagenet import ARCHIVE_META, META_FILE

    root = Path(root)
    if (root / META_FILE).exists() or (root / ARCHIVE_META["devkit"][0]).exists():
        try:
            splits = {split: ImageNet(str(root), split=split) for split in ("train", "val")}
        except (RuntimeError, OSError) as err:  # torchvision's words for a missing or damaged archive
            raise DataError(f"{root}: {' '.join(str(err).split())}") from None
        if splits["val"].wnids != splits["train"].wnids:
            raise DataError(f"{root}: val/ and train/ hold different classes")
        train = splits["train"]
        return Listing(str(root), train.samples, splits["val"].samples, tuple(train.wnids),
                       tuple(", ".join(words) for words in train.classes))
    if (root / "train").is_dir() and (root / "val").is_dir():
        return list_image_folder(root, "train", "val")
    names = ", ".join(name for name, _ in ARCHIVE_META.values())
    raise DataError(f"{root}: neither train/ and val/ folders nor the archives {names}")


def spread_classes(listing: Listing, count: int | None) -> Listing:
    """`count` classes evenly spaced over the sorted class list (all when None), relabelled 0..count-1:
    a smaller dataset that still spans the whole (for ImageNet, WordNet-ordered) range."""
    if count is None or count >= len(listing.classes):
        return listing
    keep = np.linspace(0, len(listing.classes) - 1, count).round().astype(int)
    new = {int(old): new for new, old in enumerate(keep)}

    def relabel(samples):
        return [(path, new[label]) for path, label in samples if label in new]

    words = None if listing.words is None else tuple(listing.words[k] for k in keep)
    return Listing(listing.root, relabel(listing.train), relabel(listing.test),
                   tuple(listing.classes[k] for k in keep), words)


def decode(path: str, size: int) -> np.ndarray:
    """RGB, short side resized to `size` and center-cropped to size x size (as Resize + CenterCrop)."""
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        image.draft("RGB", (size, size))  # JPEG: decode at a reduced scale still at least `size` on each side
        image = image.convert("RGB")
        return np.asarray(ImageOps.fit(image, (size, size), Image.Resampling.BILINEAR))


def _save_array(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:  # a file object: np.save adds no .npy
        np.save(handle, array)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _fill(work: Path, split: str, files: list[str], size: int, skip_bad: bool, threads: int,
          chunk_size: int) -> dict[str, str]:
    """Decode `files` into work/<split>_images.npy, resuming after the chunks recorded as done.
    Returns the unreadable files (path -> error) when skip_bad, else raises on the first."""
    from numpy.lib.format import open_memmap

    images_path, done_path, bad_path = (work / f"{split}_images.npy", work / f"{split}_done.npy",
                                        work / f"{split}_bad.json")
    chunks = -(-len(files) // chunk_size)
    if done_path.exists():
        images = open_memmap(images_path, mode="r+")
        done, bad = np.load(done_path), json.loads(bad_path.read_text())
        if done.any():
            log.info("%s: resuming after %d of %d images", split, min(int(done.sum()) * chunk_size, len(files)),
                     len(files))
    else:
        images = open_memmap(images_path, mode="w+", dtype=np.uint8, shape=(len(files), size, size, 3))
        done, bad = np.zeros(chunks, dtype=bool), {}

    def work_on(chunk: int) -> dict[str, str]:
        unreadable = {}
        for row in range(chunk * chunk_size, min((chunk + 1) * chunk_size, len(files))):
            try:
                images[row] = decode(files[row], size)
            except (OSError, ValueError, SyntaxError) as err:  # Pillow's ways of saying "not a readable image"
                if not skip_bad:
                    raise DataError(f"{files[row]}: cannot read image ({' '.join(str(err).split())}); fix or "
                                    "remove it, or set dataset.skip_bad_images: true") from None
                log.warning("skipping unreadable image %s (%s)", files[row], err)
                unreadable[files[row]] = str(err)
                images[row] = 0
        return unreadable

    def record() -> None:
        images.flush()  # the pixels reach the file before the chunks are marked done
        write_json(bad, bad_path)
        _save_array(done_path, done)

    todo = [c for c in range(chunks) if not done[c]]
    start, first = time.perf_counter(), int(done.sum())
    last_saved = start
    with ThreadPoolExecutor(max(1, threads)) as pool:
        pending = {pool.submit(work_on, c): c for c in todo[:2 * max(1, threads)]}
        queue = iter(todo[len(pending):])
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                # the chunks that succeeded are marked done before one that failed raises, so a resumed
                # preparation never decodes them again (both may finish before wait returns)
                for future in sorted(finished, key=lambda f: f.exception() is not None):
                    bad.update(future.result())
                    done[pending.pop(future)] = True
                    following = next(queue, None)
                    if following is not None:
                        pending[pool.submit(work_on, following)] = following
                now = time.perf_counter()
                if now - last_saved >= SAVE_EVERY or not pending:
                    record()
                    last_saved = now
                    count = min(int(done.sum()) * chunk_size, len(files))
                    rate = (int(done.sum()) - first) * chunk_size / max(now - start, 1e-9)
                    log.info("%s: %d/%d images (%.1f%%), %.0f images/s, ETA %s", split, count, len(files),
                             100 * count / len(files), rate, _duration((len(files) - count) / max(rate, 1e-9)))
        except BaseException:
            for future in pending:
                future.cancel()
            record()  # what finished is kept for the next attempt
            raise
    images = None  # drop the memory map (its file stays) before the caller renames the work folder
    return bad


def _finish_split(work: Path, split: str, samples: list[tuple[str, int]], root: str, size: int, skip_bad: bool,
                  threads: int, chunk_size: int) -> dict:
    """Decode one split and drop its unreadable rows; returns its part of the manifest (skipped, sources).

    Idempotent: work/<split>_manifest.json is written last (after the labels and the compacted images), so a
    rerun finds a finished split there and decodes nothing; a kill before it leaves the full-length images and
    their done chunks as they were."""
    part_path, kept_path = work / f"{split}_manifest.json", work / f"{split}_kept.npy"
    if not part_path.exists():
        files = [path for path, _ in samples]
        bad = _fill(work, split, files, size, skip_bad, threads, chunk_size)
        keep = np.array([path not in bad for path in files])
        if not keep.any():
            raise DataError(f"{split}: every image was unreadable")
        if not keep.all():  # drop the skipped rows into a copy; it replaces the images once the split is recorded
            images = np.load(work / f"{split}_images.npy", mmap_mode="r")
            kept = np.lib.format.open_memmap(kept_path, mode="w+", dtype=np.uint8,
                                             shape=(int(keep.sum()), *images.shape[1:]))
            rows = np.flatnonzero(keep)
            for start in range(0, len(rows), CHUNK):  # chunk by chunk: the store may exceed the memory
                kept[start:start + CHUNK] = images[rows[start:start + CHUNK]]
            kept.flush()
            del kept, images
        _save_array(work / f"{split}_labels.npy", np.array([label for _, label in samples], dtype=np.int64)[keep])
        write_json({"skipped": bad, "sources": [[os.path.relpath(path, root), os.path.getsize(path)]
                                                for path, kept in zip(files, keep) if kept]},  # file, bytes
                   part_path)
    else:
        log.info("%s: already decoded", split)
    if kept_path.exists():
        os.replace(kept_path, work / f"{split}_images.npy")
    return read_json(part_path)


def prepare(listing: Listing, out_dir: str | os.PathLike, meta: dict, store_size: int,
            skip_bad_images: bool = False, threads: int = 1, chunk_size: int = CHUNK) -> dict:
    """Write the store for `listing` into `out_dir` (see the module's docstring); returns its manifest.

    `meta` (name, mean, std, augment, crop size) goes into meta.json with the classes and sizes.
    """
    out = Path(out_dir)
    work = out.parent / f".{out.name}.partial"
    sources = {"train": listing.train, "test": listing.test}
    plan = {"store_size": store_size, "skip_bad_images": skip_bad_images,
            "sources": hashlib.sha256(json.dumps(sources).encode()).hexdigest()}
    if not (work / "plan.json").exists() or json.loads((work / "plan.json").read_text()) != plan:
        shutil.rmtree(work, ignore_errors=True)  # another dataset or size: start afresh
        work.mkdir(parents=True)
        (work / "plan.json").write_text(json.dumps(plan))
    log.info("preparing %d train and %d test images at %d px with %d threads in %s", len(listing.train),
             len(listing.test), store_size, threads, work)
    manifest = {"store_size": store_size, "skipped": {}, "arrays": {}, "sources": {}}
    for split, samples in sources.items():
        part = _finish_split(work, split, samples, listing.root, store_size, skip_bad_images, threads, chunk_size)
        manifest["skipped"][split], manifest["sources"][split] = part["skipped"], part["sources"]
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        manifest["arrays"][name] = {"sha256": sha256_file(work / f"{name}.npy"),
                                    "bytes": (work / f"{name}.npy").stat().st_size}
    train_labels = np.load(work / "train_labels.npy")
    full_meta = {**meta, "classes": list(listing.classes), "shape": [store_size, store_size, 3],
                 "train_size": len(train_labels), "test_size": len(manifest["sources"]["test"]),
                 "skipped_images": sum(len(b) for b in manifest["skipped"].values())}
    if listing.words is not None:
        full_meta["class_words"] = list(listing.words)
    (work / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    (work / "meta.json").write_text(json.dumps(full_meta, indent=2) + "\n")
    for leftover in ["plan.json", *(f"{split}_{kind}" for split in sources
                                     for kind in ("done.npy", "bad.json", "manifest.json"))]:
        (work / leftover).unlink()  # only now: until the rename, they say how far each split got
    if out.exists():
        shutil.rmtree(out)
    os.replace(work, out)
    log.info("stored %d train and %d test images at %d px in %s (%d skipped)", full_meta["train_size"],
             full_meta["test_size"], store_size, out, full_meta["skipped_images"])
    return manifest
