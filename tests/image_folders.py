"""Small image folders in the real formats: JPEG files in class folders, ILSVRC2012's three archives."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

# one colour per class, so a stored image can be checked against its class
COLOURS = [(220, 30, 30), (30, 200, 40), (40, 60, 220), (230, 220, 40), (200, 40, 210)]
SHAPES = [(48, 36), (36, 48), (40, 40), (64, 30)]  # (width, height): landscape, portrait, square


def jpeg_bytes(colour, size, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    width, height = size
    pixels = np.clip(np.array(colour) + rng.normal(0, 12, (height, width, 3)), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=90)
    return out.getvalue()


def make_image_folder(root: Path, classes: int = 3, per_class: dict | None = None, splits=("train", "test"),
                      ext: str = ".jpg", names=None) -> Path:
    """root/<split>/<class>/<i><ext>, each image its class's colour plus noise, in varied shapes."""
    per_class = per_class or {splits[0]: 8, splits[1]: 3}
    names = names or [f"class{c}" for c in range(classes)]
    for s, split in enumerate(splits):
        for c, name in enumerate(names[:classes]):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class[split]):
                image = jpeg_bytes(COLOURS[c], SHAPES[i % len(SHAPES)], 100 * s + 10 * c + i)
                (folder / f"{i:03d}{ext}").write_bytes(image)
    return root


def corrupt_jpeg(path: Path) -> Path:
    """A JPEG cut short after its header: Pillow opens it, decoding fails."""
    path.write_bytes(jpeg_bytes(COLOURS[0], (40, 40), 0)[:300])
    return path


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def make_imagenet_archives(root: Path, wnids=("n01440764", "n01443537", "n01484850"),
                           words=("tench, Tinca tinca", "goldfish, Carassius auratus", "great white shark"),
                           train_per_class: int = 6, val_per_class: int = 2) -> dict[str, str]:
    """ILSVRC2012_img_train.tar (one tar per wnid inside), ILSVRC2012_img_val.tar (flat, numbered) and
    ILSVRC2012_devkit_t12.tar.gz (meta.mat and the validation ground truth) as the official ones are laid
    out; returns their MD5s (for torchvision's check, in place of the official ones)."""
    from scipy.io import savemat

    root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(root / "ILSVRC2012_img_train.tar", "w") as train:
        for c, wnid in enumerate(wnids):
            inner = io.BytesIO()
            with tarfile.open(fileobj=inner, mode="w") as per_class:
                for i in range(train_per_class):
                    _add(per_class, f"{wnid}_{i}.JPEG", jpeg_bytes(COLOURS[c], SHAPES[i % len(SHAPES)], 10 * c + i))
            _add(train, f"{wnid}.tar", inner.getvalue())
    order = [c for c in range(len(wnids)) for _ in range(val_per_class)][::-1]  # not sorted by class
    with tarfile.open(root / "ILSVRC2012_img_val.tar", "w") as val:
        for n, c in enumerate(order, start=1):
            _add(val, f"ILSVRC2012_val_{n:08d}.JPEG", jpeg_bytes(COLOURS[c], (40, 44), 1000 + n))
    fields = ["ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children", "wordnet_height",
              "num_train_images"]
    synsets = np.zeros(len(wnids) + 1, dtype=[(f, object) for f in fields])
    for c, (wnid, word) in enumerate(zip(wnids, words)):
        synsets[c] = (c + 1, wnid, word, "", 0, np.zeros(0), 0, train_per_class)
    synsets[-1] = (len(wnids) + 1, "n00001740", "entity", "", 2, np.array([1, 2]), 19, 0)  # not a leaf: ignored
    meta = io.BytesIO()
    savemat(meta, {"synsets": synsets})
    truth = "".join(f"{c + 1}\n" for c in order).encode()
    with tarfile.open(root / "ILSVRC2012_devkit_t12.tar.gz", "w:gz") as devkit:
        _add(devkit, "ILSVRC2012_devkit_t12/data/meta.mat", meta.getvalue())
        _add(devkit, "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt", truth)
    return {key: hashlib.md5((root / name).read_bytes()).hexdigest()
            for key, name in (("train", "ILSVRC2012_img_train.tar"), ("val", "ILSVRC2012_img_val.tar"),
                              ("devkit", "ILSVRC2012_devkit_t12.tar.gz"))}
