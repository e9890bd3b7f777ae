"""The Python API: score a finished proxy run and draw subsets from Python or a notebook, without Snakemake.

    import prunebench
    scores = prunebench.score("cld", "results/fashion_mnist/proxy/small_cnn/seed0",
                              "results/fashion_mnist/split/seed0.parquet")
    subset = prunebench.select(scores, 0.1)

Both run the same steps as the workflow (the same checks, the same bytes for the same seed) and
return pandas tables whose `attrs` hold the file's metadata.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pandas as pd

from .errors import InputError
from .io import read_table, table_metadata
from .methods import ProxyPlan, get_method
from .plugins import load_plugins
from .signals import EVAL_FILE, KL_SHIFT, TRAIN_FILE


def proxy_plan(run_folder: str | os.PathLike) -> ProxyPlan:
    """What a finished proxy run logged (epochs, snapshots, repeats, architecture), read from its files."""
    folder = Path(run_folder)
    meta = table_metadata(read_table(folder / EVAL_FILE), folder / EVAL_FILE, ("epochs", "arch"))
    train = table_metadata(read_table(folder / TRAIN_FILE), folder / TRAIN_FILE, ("signals",))
    repeats = 1 + sum(1 for p in folder.glob("repeat*") if re.fullmatch(r"repeat[1-9]\d*", p.name))
    snapshot_dir = folder / "repeat1" if repeats > 1 else folder  # repeats keep only the configured snapshots
    epochs = sorted(int(m[1]) for p in snapshot_dir.glob("snapshot_epoch*.parquet")
                    if (m := re.fullmatch(r"snapshot_epoch(\d+)\.parquet", p.name)))
    return ProxyPlan(int(meta["epochs"]), tuple(epochs), log_in_training=bool(train["signals"]),
                     log_kl_shift=KL_SHIFT in train["signals"], repeats=repeats, arch=meta["arch"],
                     crop_size=meta.get("crop_size"))


def _frame(path: Path) -> pd.DataFrame:
    table = read_table(path)
    frame = table.to_pandas()
    frame.attrs.update(table_metadata(table, path))
    return frame


def score(method: str, run_folder: str | os.PathLike, split_file: str | os.PathLike, params: dict | None = None,
          seed: int = 0, data_folder: str | os.PathLike | None = None, device: str = "auto",
          plugins=()) -> pd.DataFrame:
    """Score every pool sample of `split_file` with `method` on the proxy run in `run_folder`.

    params: overrides of the method's defaults; seed: the run's seed (random methods draw from it);
    data_folder: the dataset cache (`paths.data_dir(config)`: results/data/<name>-<digest>), for methods that
        probe the model.
    Returns the score table (index, label, score, method-specific columns); `attrs` hold the
    method, its full parameters and the seed. Bad parameters raise InputError with one line.
    """
    from . import pipeline

    load_plugins(plugins)
    spec = get_method(method)
    full = spec.params(params)
    plan = proxy_plan(run_folder)
    problems = spec.problems(full, plan)
    if problems:
        raise InputError(problems[0])
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scores.parquet"
        pipeline.score(method, full, plan, split_file, run_folder, seed, out, data_dir=data_folder, device=device)
        return _frame(out)


def select(scores: pd.DataFrame | str | os.PathLike, fraction: float, run_folder: str | os.PathLike | None = None,
           split_file: str | os.PathLike | None = None, plugins=()) -> pd.DataFrame:
    """The subset at `fraction` of a score table (from `score`, or a scores Parquet of a workflow run).

    Methods that sample with the proxy's signals (CRAIG's weights, GradMatch, stochastic greedy) also
    need `run_folder` and `split_file`; `plugins` are the modules that define a plugin method.
    Returns index, label, weight, rank in preference order.
    """
    from . import pipeline
    from .io import write_table

    load_plugins(plugins)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scores.parquet"
        if isinstance(scores, pd.DataFrame):
            import pyarrow as pa

            write_table(pa.Table.from_pandas(scores, preserve_index=False), path, dict(scores.attrs))
        else:
            path = Path(scores)
        meta = table_metadata(read_table(path), path, ("method",))
        if pipeline.scored_method(meta).subset_reads_signals and run_folder is None:
            raise InputError("this method's sampler reads the proxy's signals: give run_folder and split_file")
        out = Path(tmp) / "subset.parquet"
        pipeline.select(path, fraction, out, split_file, run_folder)
        return _frame(out)
