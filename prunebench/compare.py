"""Runs side by side: accuracy per (run, method, fraction) over several runs' results tables.

A study whose claim is a comparison across runs (the validation compositions, the noise levels) writes
one folder per run; `compare_runs` reads each folder's results table and puts them in one table
(Markdown and CSV) and one figure. Nothing here reruns or rereads a job's files: only `results.parquet`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .errors import InputError
from .io import atomic_path, read_table
from .paths import TABLE

TABLE_NAME = "comparison"  # comparison.md, comparison.csv, comparison.png and .svg in the output folder
KEYS = ["run", "proxy_arch", "arch", "method", "fraction"]


def read_runs(run_dirs: list[str | os.PathLike]) -> pd.DataFrame:
    """Every run's target rows, with a `run` column: the folder's name (runs must have different names)."""
    frames, names = [], {}
    for folder in map(Path, run_dirs):
        table = folder / TABLE
        if not table.is_file():
            raise InputError(f"compare: {folder}: no {TABLE} (run its workflow first, or name a run folder "
                             f"such as results/<run_name>)")
        if folder.name in names:
            raise InputError(f"compare: {folder} and {names[folder.name]} have the same name {folder.name!r}; "
                             "rows are labelled by run folder name")
        names[folder.name] = folder
        frames.append(read_table(table).to_pandas().assign(run=folder.name))
    return pd.concat(frames, ignore_index=True)


def comparison(frame: pd.DataFrame) -> pd.DataFrame:
    """Final-epoch test accuracy (%) per (run, proxy, target, method, fraction): mean, std over seeds
    (NaN with one seed) and the number of seeds; runs in the order given."""
    grouped = frame.assign(accuracy=100 * frame["test_accuracy"]).groupby(KEYS, sort=False)["accuracy"]
    table = pd.DataFrame({"mean": grouped.mean(), "std": grouped.std(), "seeds": grouped.count()}).reset_index()
    order = {run: i for i, run in enumerate(dict.fromkeys(frame["run"]))}
    return table.sort_values(["proxy_arch", "arch", "method", "fraction"], kind="stable").sort_values(
        "run", key=lambda runs: runs.map(order), kind="stable").reset_index(drop=True)


def markdown(table: pd.DataFrame) -> str:
    """Rows (target, method, fraction), a column per run: 'mean ± std' over seeds; '–' where a run lacks it;
    the proxy is named in the row only where the runs used several."""
    cell = table["mean"].map("{:.2f}".format) + table["std"].map(lambda s: "" if pd.isna(s) else f" ± {s:.2f}")
    rows = ["arch", "method", "fraction"] if table["proxy_arch"].nunique() < 2 else ["proxy_arch", *KEYS[2:]]
    runs = list(dict.fromkeys(table["run"]))
    wide = table.assign(cell=cell).pivot_table(index=rows, columns="run", values="cell", aggfunc="first",
                                               sort=False).reindex(columns=runs).fillna("–")
    header = "| " + " | ".join([*rows, *runs]) + " |\n|" + "---|" * len(rows) + "---:|" * len(runs) + "\n"
    lines = ["| " + " | ".join([*(f"{v:g}" if isinstance(v, float) else str(v) for v in key), *values]) + " |"
             for key, values in zip(wide.index, wide.values)]
    return header + "\n".join(lines) + "\n"


def figure(table: pd.DataFrame, out: Path) -> None:
    """Accuracy against fraction (log), one colour per run and one line style per method, ±1 std bars;
    full data (fraction 1) is a point. One panel per target architecture."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    from .report import _save

    sns.set_theme(style="whitegrid", context="notebook")
    archs = list(dict.fromkeys(table["arch"]))
    fig, axes = plt.subplots(1, len(archs), figsize=(6.5 * len(archs), 4.5), squeeze=False)
    for ax, arch in zip(axes[0], archs):
        part = table[table["arch"] == arch]
        sns.lineplot(part, x="fraction", y="mean", hue="run", style="method", markers=True, dashes=True, ax=ax)
        for _, row in part.dropna(subset=["std"]).iterrows():
            ax.errorbar(row["fraction"], row["mean"], yerr=row["std"], color="0.4", alpha=0.5, lw=1, capsize=2)
        ax.set(xscale="log", xlabel="fraction of the pool", ylabel="final-epoch test accuracy (%)", title=arch)
    _save(fig, out, TABLE_NAME)


def compare_runs(run_dirs: list[str | os.PathLike], out_dir: str | os.PathLike) -> pd.DataFrame:
    """Write comparison.md, comparison.csv and the figure (PNG, SVG) for `run_dirs` into `out_dir`."""
    table = comparison(read_runs(run_dirs))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / f"{TABLE_NAME}.csv") as tmp:
        table.to_csv(tmp, index=False)
    runs = ", ".join(dict.fromkeys(table["run"]))
    text = (f"# Runs side by side: {runs}\n\nFinal-epoch test accuracy (%), mean ± std over seeds (one seed: the "
            f"value alone); – where a run has no such cell.\n\n{markdown(table)}\n![runs]({TABLE_NAME}.png)\n")
    with atomic_path(out / f"{TABLE_NAME}.md") as tmp:
        tmp.write_text(text)
    figure(table, out)
    return table
