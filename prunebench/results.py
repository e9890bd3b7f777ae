"""The tidy results table: one row per target run."""

from __future__ import annotations

import os

import pandas as pd
import pyarrow as pa

from .io import atomic_path, read_json, write_table

RESULT_COLUMNS = ["dataset", "arch", "method", "fraction", "seed", "k", "test_accuracy", "test_accuracy_best",
                  "best_epoch", "test_loss", "epochs", "steps", "budget", "weighted", "wall_seconds",
                  "proxy_arch", "device", "per_class_accuracy"]


def aggregate(paths: list[str | os.PathLike]) -> pd.DataFrame:
    """One row per target run, sorted, with the columns of RESULT_COLUMNS."""
    rows = [read_json(p) for p in paths]
    frame = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    return frame.sort_values(["dataset", "proxy_arch", "arch", "method", "fraction", "seed"], ignore_index=True)


def write_results(frame: pd.DataFrame, parquet_path, csv_path) -> None:
    write_table(pa.Table.from_pandas(frame, preserve_index=False), parquet_path)
    flat = frame.assign(per_class_accuracy=frame["per_class_accuracy"].map(lambda v: " ".join(f"{x:.4f}" for x in v)))
    with atomic_path(csv_path) as tmp:
        flat.to_csv(tmp, index=False)
