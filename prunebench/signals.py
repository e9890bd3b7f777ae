"""The proxy's logged signals on disk: file names, and the lazy view methods score from (no torch)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .io import DataError, column_matrix, read_table
from .splits import rows_of

SIGNALS = ("loss", "p_true", "margin", "correct")
# optional in-training signal: sum_c |p_t,c (log p_t,c - log p_t-1,c)| between a sample's consecutive epochs (TDDS)
KL_SHIFT = "kl_shift"

PASSES = {
    "train": "in-training: outputs of each training batch (augmented view, train-mode BatchNorm), pool only",
    "eval": "post-epoch eval: model.eval() pass over clean pool and query images after each epoch",
}


TRAIN_FILE = "dynamics_train.parquet"
EVAL_FILE = "dynamics_eval.parquet"


def _in_repeat(name: str, repeat: int) -> str:
    """Repeat 0 is the main proxy run; independent repeats (EL2N, GraNd) live in repeat<r>/."""
    return name if repeat == 0 else f"repeat{repeat}/{name}"


def snapshot_file(epoch: int, repeat: int = 0) -> str:
    """Eval-mode logits and embeddings of pool and query at `epoch` (1-based)."""
    return _in_repeat(f"snapshot_epoch{epoch}.parquet", repeat)


def model_file(epoch: int, repeat: int = 0) -> str:
    """Proxy weights after `epoch`, for the methods that probe the model (DeepFool, SloCurv, GraNd full)."""
    return _in_repeat(f"model_epoch{epoch}.pt", repeat)


def is_model_file(name: str) -> bool:
    """Whether a proxy output named by model_file holds weights (a method reading one probes the model)."""
    return Path(name).name.startswith("model_epoch")


class Signals:
    """What a method may score from: pool labels always, logged signals on demand.

    Arrays are read lazily (only the columns a method asks for) and are in pool
    order: one row per pool sample, sorted by dataset index.
    """

    def __init__(self, split: pa.Table, proxy_folder: str | os.PathLike | None = None,
                 data_folder: str | os.PathLike | None = None, device: str = "auto"):
        self.index, self.labels = rows_of(split, "pool")
        self.device = device  # where model-probing methods run
        self.query_index, self.query_labels = rows_of(split, "query")
        self.proxy_folder = Path(proxy_folder) if proxy_folder else None
        self.data_folder = Path(data_folder) if data_folder else None

    def _file(self, name: str) -> Path:
        if self.proxy_folder is None:
            raise DataError("this method needs proxy signals but none were given")
        return self.proxy_folder / name

    def _read(self, file: str, column: str, role: str) -> np.ndarray:
        """One list column of `file` as an (N, T) array, for the rows of `role`, checked against the split."""
        path = self._file(file)
        table = read_table(path, ["index", "role", column])
        table = table.filter(pc.equal(table.column("role"), role))
        expected = self.index if role == "pool" else self.query_index
        if not np.array_equal(table.column("index").to_numpy(), expected):
            raise DataError(f"{path}: {role} rows do not match the split")
        return column_matrix(table, column)

    def train(self, name: str) -> np.ndarray:
        """In-training signal `name` for the pool, (N, T)."""
        return self._read(TRAIN_FILE, name, "pool")

    def eval(self, name: str, role: str = "pool") -> np.ndarray:
        """Post-epoch eval-mode signal `name` for the pool or the query set, (N, T)."""
        return self._read(EVAL_FILE, name, role)

    def snapshot(self, epoch: int, name: str, repeat: int = 0, role: str = "pool") -> np.ndarray:
        """Eval-mode `logits` or `embedding` at `epoch` of proxy run `repeat` (float16; probabilities come
        from the logits through methods.probabilities)."""
        return self._read(snapshot_file(epoch, repeat), name, role)

    def model_path(self, epoch: int, repeat: int = 0) -> Path:
        """The proxy's weights after `epoch` (a torch state dict; load with weights_only=True)."""
        return self._file(model_file(epoch, repeat))

    def images(self):
        """The cached dataset (uint8 images, mean and std), for methods that probe the model with inputs."""
        from .datasets import open_cache

        if self.data_folder is None:
            raise DataError("this method needs the dataset cache but none was given")
        return open_cache(self.data_folder)
