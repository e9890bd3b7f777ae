"""A plugin image dataset: filled circles, squares and triangles drawn at random places and sizes.

It needs no download: the images are drawn from a seeded generator, so every run sees the same
dataset. Load it with `plugins: [shapes_dataset]` and `dataset: {name: shapes}`; its loader's
keyword parameters are its `dataset.options`.
"""

import numpy as np

from prunebench.datasets import ImageData, register_dataset

CLASSES = ("circle", "square", "triangle")


def draw_shapes(count: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`count` images per class, (N, size, size, 1) uint8, with their labels."""
    y, x = np.mgrid[0:size, 0:size] + 0.5
    labels = np.repeat(np.arange(len(CLASSES)), count)
    images = np.empty((len(labels), size, size, 1), np.uint8)
    for i, label in enumerate(labels):
        r = rng.uniform(0.18, 0.35) * size
        cx, cy = rng.uniform(r, size - r, 2)
        if label == 0:
            inside = (x - cx) ** 2 + (y - cy) ** 2 <= r**2
        elif label == 1:
            inside = (abs(x - cx) <= r * 0.8) & (abs(y - cy) <= r * 0.8)
        else:  # apex up: below the top vertex, inside both slanted edges
            inside = (y >= cy - r) & (y <= cy + r) & (abs(x - cx) <= (y - (cy - r)) / 2)
        pixels = np.where(inside, rng.uniform(0.6, 1.0), rng.uniform(0.0, 0.3)) + rng.normal(0, 0.08, (size, size))
        images[i, ..., 0] = np.clip(pixels * 255, 0, 255).astype(np.uint8)
    return images, labels.astype(np.int64)


@register_dataset("shapes", mean=(0.3,), std=(0.3,), augment=False)
def load_shapes(root=None, download_root="data", train_per_class: int = 300, test_per_class: int = 100,
                size: int = 28, seed: int = 0) -> ImageData:
    rng = np.random.default_rng(seed)
    train_images, train_labels = draw_shapes(train_per_class, size, rng)
    test_images, test_labels = draw_shapes(test_per_class, size, rng)
    return ImageData(train_images, train_labels, test_images, test_labels, CLASSES)
