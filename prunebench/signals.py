"""The proxy's logged signals on disk: file names, and the lazy view methods score from (no torch)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .io import DataError, column_matrix, read_table, require_columns, table_metadata
from .splits import rows_of

SIGNALS = ("loss", "p_true", "margin", "correct")

PASSES = {
    "train": "in-training: outputs of each training batch (augmented view, train-mode BatchNorm), pool only",
    "eval": "post-epoch eval: model.eval() pass over clean pool and query images after each epoch",
}


def proxy_files(folder: str | os.PathLike, snapshot_epochs) -> dict[str, Path]:
    """The files a proxy run writes into `folder`."""
    folder = Path(folder)
    files = {"train": folder / "dynamics_train.parquet", "eval": folder / "dynamics_eval.parquet",
             "model": folder / "model.pt"}
    files.update({f"snapshot{e}": folder / f"snapshot_epoch{e}.parquet" for e in snapshot_epochs})
    return files


class Signals:
    """What a method may score from: pool labels always, logged signals on demand.

    Arrays are read lazily (only the columns a method asks for) and are in pool
    order: one row per pool sample, sorted by dataset index.
    """

    def __init__(self, split: pa.Table, proxy_folder: str | os.PathLike | None = None):
        self.index, self.labels = rows_of(split, "pool")
        self.query_index, self.query_labels = rows_of(split, "query")
        self.num_classes = int(table_metadata(split).get("num_classes", int(self.labels.max()) + 1))
        self.proxy_folder = Path(proxy_folder) if proxy_folder else None

    def _file(self, name: str) -> Path:
        if self.proxy_folder is None:
            raise DataError("this method needs proxy signals but none were given")
        return self.proxy_folder / name

    def _read(self, file: str, columns: list[str], role: str) -> dict[str, np.ndarray]:
        path = self._file(file)
        table = read_table(path, ["index", "role", *columns])
        require_columns(table, columns, path)
        expected = self.index if role == "pool" else self.query_index
        table = table.filter(pc.equal(table.column("role"), role))
        if not np.array_equal(table.column("index").to_numpy(), expected):
            raise DataError(f"{path}: {role} rows do not match the split")
        return {c: column_matrix(table, c) for c in columns}

    def train(self, name: str) -> np.ndarray:
        """In-training signal `name` for the pool, (N, T)."""
        return self._read("dynamics_train.parquet", [name], "pool")[name]

    def eval(self, name: str, role: str = "pool") -> np.ndarray:
        """Post-epoch eval-mode signal `name` for the pool or the query set, (N, T)."""
        return self._read("dynamics_eval.parquet", [name], role)[name]

    def snapshot(self, epoch: int) -> dict[str, np.ndarray]:
        """Eval-mode probabilities and embeddings of the pool at `epoch` (float16)."""
        return self._read(f"snapshot_epoch{epoch}.parquet", ["probs", "embedding"], "pool")
