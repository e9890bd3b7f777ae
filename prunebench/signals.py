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

PASSES = {
    "train": "in-training: outputs of each training batch (augmented view, train-mode BatchNorm), pool only",
    "eval": "post-epoch eval: model.eval() pass over clean pool and query images after each epoch",
}


TRAIN_FILE = "dynamics_train.parquet"
EVAL_FILE = "dynamics_eval.parquet"
MODEL_FILE = "model.pt"


def snapshot_file(epoch: int) -> str:
    return f"snapshot_epoch{epoch}.parquet"


def proxy_files(folder: str | os.PathLike, snapshot_epochs) -> dict[str, Path]:
    """The files a proxy run writes into `folder`, by role."""
    folder = Path(folder)
    files = {"train": folder / TRAIN_FILE, "eval": folder / EVAL_FILE, "model": folder / MODEL_FILE}
    files.update({f"snapshot{e}": folder / snapshot_file(e) for e in snapshot_epochs})
    return files


class Signals:
    """What a method may score from: pool labels always, logged signals on demand.

    Arrays are read lazily (only the columns a method asks for) and are in pool
    order: one row per pool sample, sorted by dataset index.
    """

    def __init__(self, split: pa.Table, proxy_folder: str | os.PathLike | None = None):
        self.index, self.labels = rows_of(split, "pool")
        self.query_index, self.query_labels = rows_of(split, "query")
        self.proxy_folder = Path(proxy_folder) if proxy_folder else None

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

    def snapshot(self, epoch: int, name: str = "probs") -> np.ndarray:
        """Eval-mode `probs` or `embedding` of the pool at `epoch` (float16)."""
        return self._read(snapshot_file(epoch), name, "pool")
