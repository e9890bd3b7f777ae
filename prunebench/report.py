"""Render the results table as Markdown tables, seaborn figures and one self-contained HTML page."""

from __future__ import annotations

import base64
import html
import io
import os
import platform
from importlib import metadata
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: figures only go to files
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import yaml

from .io import atomic_path

def summary_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std of final test accuracy (%) per method (rows) and fraction (columns); '–' where missing."""
    stats = frame.groupby(["method", "fraction"])["test_accuracy"].agg(["mean", "std", "count"])
    cells = {
        key: (f"{100 * row['mean']:.2f} ± {100 * row['std']:.2f}" if row["count"] > 1 else f"{100 * row['mean']:.2f}")
        for key, row in stats.iterrows()
    }
    methods = sorted(frame["method"].unique())
    fractions = sorted(frame["fraction"].unique())
    table = pd.DataFrame([[cells.get((m, f), "–") for f in fractions] for m in methods],
                         index=pd.Index(methods, name="method"), columns=[f"{f:g}" for f in fractions])
    return table


def markdown(table: pd.DataFrame) -> str:
    header = f"| {table.index.name} | " + " | ".join(table.columns) + " |"
    rule = "|" + "---|" * (len(table.columns) + 1)
    rows = [f"| {name} | " + " | ".join(row) + " |" for name, row in zip(table.index, table.values)]
    return "\n".join([header, rule, *rows]) + "\n"


def accuracy_figure(frame: pd.DataFrame, arch: str):
    """Final test accuracy against kept fraction (log x), one line per method, ±1 std bands; full data as a line."""
    sns.set_theme(style="whitegrid", context="notebook")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    subsets = frame[frame["method"] != "full"]
    if not subsets.empty:
        sns.lineplot(data=subsets.assign(accuracy=100 * subsets["test_accuracy"]), x="fraction", y="accuracy",
                     hue="method", style="method", markers=True, dashes=False, errorbar="sd", ax=ax)
    full = 100 * frame.loc[frame["method"] == "full", "test_accuracy"]
    if not full.empty:
        ax.axhline(full.mean(), color="black", linestyle="--", linewidth=1, label=f"full data ({full.mean():.2f}%)")
        if len(full) > 1:
            ax.axhspan(full.mean() - full.std(), full.mean() + full.std(), color="black", alpha=0.08)
    ax.set_xscale("log")
    fractions = sorted(frame["fraction"].unique())
    ax.set_xticks(fractions, [f"{100 * f:g}%" for f in fractions])
    ax.minorticks_off()
    ax.set_xlabel("kept fraction of the candidate pool (log scale)")
    ax.set_ylabel("final-epoch test accuracy (%)")
    ax.set_title(f"{frame['dataset'].iloc[0]}, target {arch}")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig


def _save_figure(fig, path: Path) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, metadata={"Software": None})
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    plt.close(fig)
    return buffer.getvalue()


def software_versions() -> dict[str, str]:
    """Versions of the packages that produced the results (read from metadata: no heavy imports)."""
    packages = ("torch", "torchvision", "numpy", "pandas", "pyarrow", "seaborn", "snakemake", "prunebench")
    return {"python": platform.python_version(), **{name: metadata.version(name) for name in packages}}


def write_report(frame: pd.DataFrame, folder: str | os.PathLike, config: dict) -> Path:
    """summary.md, accuracy_vs_fraction_<arch>.png per target arch, and index.html (self-contained; returned)."""
    folder = Path(folder)
    sections, md_parts = [], []
    for arch, part in frame.groupby("arch"):
        table = summary_table(part)
        png = _save_figure(accuracy_figure(part, arch), folder / f"accuracy_vs_fraction_{arch}.png")
        md_parts.append(f"### Target {arch}: final-epoch test accuracy (%), mean ± std over seeds\n\n{markdown(table)}")
        sections.append(
            f"<h2>Target {html.escape(arch)}</h2>"
            f"<img alt='accuracy against fraction for {html.escape(arch)}' "
            f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
            f"<p>Final-epoch test accuracy (%), mean ± std over seeds; – marks a missing cell.</p>"
            + table.to_html(classes="summary", border=0))
    with atomic_path(folder / "summary.md") as tmp:
        tmp.write_text("\n".join(md_parts))
    versions = "".join(f"<li>{k} {html.escape(v)}</li>" for k, v in software_versions().items())
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>prunebench: {html.escape(config['dataset']['name'])}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}img{{max-width:100%}}
table.summary{{border-collapse:collapse}}table.summary td,table.summary th{{padding:.2em .6em;text-align:right}}
table.summary tr:nth-child(even){{background:#f3f3f3}}</style></head><body>
<h1>prunebench report: {html.escape(config['dataset']['name'])}</h1>
<p>{len(frame)} target runs; methods {', '.join(sorted(frame['method'].unique()))};
seeds {', '.join(map(str, sorted(frame['seed'].unique())))}.</p>
{''.join(sections)}
<h2>Configuration</h2><pre>{html.escape(yaml.safe_dump(config, sort_keys=False))}</pre>
<h2>Software</h2><ul>{versions}</ul>
</body></html>
"""
    with atomic_path(folder / "index.html") as tmp:
        tmp.write_text(page)
    return folder / "index.html"
