"""Image-folder preparation speed: images decoded, resized and stored per second, per core.

Writes an image folder of ImageNet-like JPEGs (quality 90, sizes around ImageNet's typical
500 x 375, texture and grain so they weigh about what ImageNet's ~110 kB JPEGs do), then prepares it (the
pipeline's prepare_data path: Pillow's draft-mode JPEG decoding, short-side resize,
center crop, the resumable store) with 1 and with 2 threads, at 64 and 160 px.

    .venv/bin/python benchmarks/prepare_folder.py [--images N]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from prunebench import pipeline

SIZES = [(500, 375), (375, 500), (500, 333), (640, 480), (500, 500)]


def write_folder(root: Path, images: int, classes: int = 10) -> int:
    rng = np.random.default_rng(0)
    total = 0
    for i in range(images):
        width, height = SIZES[i % len(SIZES)]
        coarse = rng.integers(0, 256, (height // 6 + 1, width // 6 + 1, 3), dtype=np.uint8)
        pixels = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC), np.int16)
        pixels = np.clip(pixels + rng.integers(-12, 13, pixels.shape), 0, 255).astype(np.uint8)  # photo-like grain
        image = Image.fromarray(pixels)
        split = "test" if (i // classes) % 10 == 0 else "train"
        folder = root / split / f"n{i % classes:08d}"
        folder.mkdir(parents=True, exist_ok=True)
        image.save(folder / f"{i:06d}.JPEG", quality=90)
        total += (folder / f"{i:06d}.JPEG").stat().st_size
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "raw"
        size = write_folder(root, args.images)
        print(f"{args.images} JPEGs, {size / args.images / 1e3:.0f} kB each on average")
        for store in (64, 160):
            for workers in (1, 2):
                out = Path(folder) / f"store{store}_{workers}"
                dataset = {"name": "image_folder", "root": str(root), "download_root": "data", "options": {},
                           "store_size": store, "crop_size": None, "num_classes": None, "skip_bad_images": False}
                tick = time.perf_counter()
                pipeline.prepare_data(dataset, out, workers=workers)
                rate = args.images / (time.perf_counter() - tick)
                print(f"{store:4d} px, {workers} thread(s): {rate:6.0f} images/s, {rate / workers:6.0f} per thread")


if __name__ == "__main__":
    main()
