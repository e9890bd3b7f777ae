"""The architectures by name: what config checks and the workflow read, known without importing torch.

Snakemake parses the workflow in every process it starts (on a cluster, in every job again), and
the parse checks architecture names and digests their builders' code; importing torch for that
took 1.2-2.2 s each time. So the registry lives here: a built-in architecture is built by the
function of its name in prunebench.models, imported only when a model is built, and its code is
read from that file's source. Plugins register their builders with `register_arch`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from .errors import UnknownNameError, check_new_name

# name -> the builder a plugin registered, or None for a built-in one (prunebench.models.<name>)
ARCHS: dict[str, Callable | None] = dict.fromkeys(
    ("small_cnn", "resnet18", "resnet34", "resnet50", "vgg19_bn", "densenet121"))
_BUILT_IN_SOURCE = Path(__file__).with_name("models.py")


def register_arch(name: str):
    """Register `build(in_channels, num_classes, image_size) -> Classifier` under `name` (a decorator)."""
    def add(build: Callable):
        check_new_name("architecture", name, ARCHS)
        ARCHS[name] = build
        return build
    return add


def _known(name: str) -> None:
    if name not in ARCHS:
        raise UnknownNameError(f"unknown architecture {name!r}; known: {', '.join(ARCHS)}")


def builder(name: str) -> Callable:
    """The function that builds architecture `name` (a built-in one imports torch)."""
    _known(name)
    return ARCHS[name] or getattr(importlib.import_module(".models", __package__), name)


def code(name: str) -> Callable | tuple[Path, str]:
    """The code that builds `name`, for code digests: a plugin's builder, or (models.py, the builder's name)."""
    _known(name)
    return ARCHS[name] or (_BUILT_IN_SOURCE, name)
