"""Plugins: a user's modules that register methods, datasets and architectures without editing prunebench.

A plugin is any importable module that, when imported, registers what it defines:

- methods with `prunebench.methods.method` (a decorator) and `prunebench.methods.Param`;
- datasets with `prunebench.datasets.register_dataset` (a decorator on the loader);
- architectures with `prunebench.archs.register_arch` (a decorator on the builder).

Two ways to load them: the config key `plugins: [my_lab.methods, ...]` (modules on the Python
path or in the folder the workflow runs in), and installed packages that declare an entry point
in the group `prunebench.plugins`. Every process that resolves names (the Snakefile, each job,
`prunebench check`, the Python API) calls `load_plugins` first.
"""

from __future__ import annotations

import importlib
import os
import sys
from importlib.metadata import entry_points

from .errors import InputError

GROUP = "prunebench.plugins"
VARIABLE = "PRUNEBENCH_PLUGINS"  # the config's plugin modules, comma-separated: the workflow sets it for its jobs


class PluginError(InputError):
    """A plugin module named in the config cannot be found."""


loaded_plugins: list[str] = []  # the modules named to load_plugins in this process (packed workers import them too)


def workflow_plugins() -> list[str]:
    """The plugin modules the workflow passed its jobs in VARIABLE (none outside a workflow)."""
    return [name for name in os.environ.get(VARIABLE, "").split(",") if name]


def load_plugins(modules=()) -> None:
    """Import every installed plugin (entry points of GROUP) and `modules`; importing twice does nothing."""
    for entry in entry_points(group=GROUP):
        entry.load()
    if modules and os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())  # the workflow's folder, as `python -m` would put it on the path
    for name in modules:
        try:
            importlib.import_module(name)
            if name not in loaded_plugins:
                loaded_plugins.append(name)
        except ModuleNotFoundError as err:
            if err.name is None or not (name == err.name or name.startswith(err.name + ".")):
                raise  # the plugin itself imports something missing: a bug to see in full
            raise PluginError(f"cannot import plugin {name!r}: no module named {err.name!r} on the Python path "
                              f"or in {os.getcwd()}") from None
