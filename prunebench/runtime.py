"""Process set-up shared by every pipeline step: logging, threads, one-line failures."""

from __future__ import annotations

import logging
import os
import sys

from .errors import InputError
from .plugins import load_plugins


def setup(log_path: str | None = None, threads: int = 1) -> None:
    """Log to `log_path` (and stderr) and cap CPU threads for torch and BLAS.

    Threads are set through the environment so steps that never import torch
    (scoring, selection, report) do not pay for importing it.
    """
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        handlers=handlers, force=True)
    logging.raiseExceptions = False  # a log line that cannot be written (a full disk) must not add a traceback
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = str(max(1, int(threads)))


def run_step(step, log_path: str | None, threads: int = 1, /, plugins=(), **kwargs) -> None:
    """Run one pipeline step; a known failure ends the process with one line naming what is wrong.

    `threads` sets up the process; a step that takes its own `threads` gets it among `kwargs`.
    `plugins`: the config's plugin modules, imported first (installed plugins always are)."""
    setup(log_path, threads)
    try:
        load_plugins(plugins)
        step(**kwargs)
    except InputError as err:  # bad input: one line; anything else is a bug and keeps its traceback
        logging.getLogger(step.__module__).error("%s: %s", step.__name__, err)
        sys.exit(1)
