"""The report: tables, seaborn figures (PNG and SVG), one self-contained HTML page and its Markdown twin.

Inputs are the results table (one row per target run), the measured costs (prunebench.costs) and
what each subset keeps (prunebench.subset_stats). Every table and figure reads correctly with any
subset of methods, fractions or seeds: a missing cell is shown as missing ("–" or an empty heatmap
cell), never as zero.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: figures only go to files
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import yaml  # noqa: E402
from scipy import stats as scipy_stats  # noqa: E402

from .config import method_labels, reads_proxy, variants  # noqa: E402
from .io import atomic_path  # noqa: E402
from .paths import (  # noqa: E402, F401 (figure_files: API)
    ARCH_FIGURES,
    NOISE_FIGURE,
    SUBSET_FIGURES,
    TRANSFER_FIGURE,
    figure_files,
    transfer_study,
)
from .subset_stats import SubsetStats  # noqa: E402

matplotlib.rcParams["svg.hashsalt"] = "prunebench"  # stable element ids: same inputs, same SVG
MISSING = "–"
FULL = "full"
RANDOM = "random"


def report_fraction(config: dict) -> float:
    """The fraction at which subsets are compared (overlap, class balance, cost against accuracy):
    `report.fraction` when set, else the configured fraction closest to 10% on a log scale."""
    chosen = (config.get("report") or {}).get("fraction")
    if chosen is not None:
        return float(chosen)
    return float(min(config["fractions"], key=lambda f: (abs(math.log(f / 0.1)), f)))


# ---------------------------------------------------------------- tables


def _percent(fraction: float) -> str:
    return f"{100 * fraction:g}%"


def _method_order(frame_methods, config_methods) -> list[str]:
    present = list(dict.fromkeys(frame_methods))
    return [m for m in config_methods if m in present] + sorted(m for m in present if m not in config_methods)


def method_groups(config: dict) -> tuple[list[str], dict[str, list[str]]]:
    """The configured labels with each method's variants right after it (the method itself first), and what
    each variant is compared with besides random: its base method, then the method its `score` names (CCS on
    CLD against CLD), where that one is configured."""
    labels = method_labels(config)
    references = {}
    for label, entry in variants(config).items():
        score = (entry.get("params") or {}).get("score")
        references[label] = list(dict.fromkeys([entry["method"], *([score] if score in labels else [])]))
    groups: dict[str, list[str]] = {}
    for label in labels:
        groups.setdefault(references[label][0] if label in references else label, []).append(label)
    return [m for base, members in groups.items() for m in sorted(members, key=lambda m: m != base)], references


def accuracy_stats(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean, std (over seeds) and count of final test accuracy in %, indexed by (method, fraction)."""
    grouped = frame.groupby(["method", "fraction"])["test_accuracy"]
    return pd.DataFrame({"mean": 100 * grouped.mean(), "std": 100 * grouped.std(), "count": grouped.count()})


@dataclass
class Table:
    """A table of display strings plus which cells are marked best (bold)."""

    cells: pd.DataFrame
    best: pd.DataFrame | None = None
    index_name: str = "method"

    def markdown(self) -> str:
        cells = self.cells.copy()
        if self.best is not None:
            cells = cells.where(~self.best, "**" + cells + "**")
        header = f"| {self.index_name} | " + " | ".join(map(str, cells.columns)) + " |"
        rule = "|---|" + "---:|" * len(cells.columns)
        rows = [f"| {name} | " + " | ".join(row) + " |" for name, row in zip(cells.index, cells.values)]
        return "\n".join([header, rule, *rows]) + "\n"

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in self.cells.columns)
        body = []
        for r, (name, row) in enumerate(zip(self.cells.index, self.cells.values)):
            tds = []
            for c, value in enumerate(row):
                text = html.escape(str(value))
                if self.best is not None and self.best.iat[r, c]:
                    text = f"<strong>{text}</strong>"
                tds.append(f"<td>{text}</td>")
            body.append(f"<tr><th>{html.escape(str(name))}</th>{''.join(tds)}</tr>")
        return (f"<table class='summary'><thead><tr><th>{html.escape(self.index_name)}</th>{head}</tr></thead>"
                f"<tbody>{''.join(body)}</tbody></table>")


def summary_table(frame: pd.DataFrame, methods: list[str] | None = None) -> Table:
    """Mean ± std of final test accuracy (%) per method (rows) and fraction (columns); best per column in bold.

    A cell with no finished run is '–'; one seed shows the mean alone; (n=…) marks a cell with fewer seeds
    than the table's fullest cell.
    """
    stats = accuracy_stats(frame)
    methods = _method_order(frame["method"], methods or [])
    fractions = sorted(frame["fraction"].unique())
    cells = pd.DataFrame(MISSING, index=pd.Index(methods, name="method"), columns=[_percent(f) for f in fractions])
    means = pd.DataFrame(np.nan, index=methods, columns=cells.columns)
    seeds = stats["count"].max() if len(stats) else 0
    for (method, fraction), row in stats.iterrows():
        column = _percent(fraction)
        means.loc[method, column] = round(row["mean"], 2)
        cells.loc[method, column] = (f"{row['mean']:.2f} ± {row['std']:.2f}" if row["count"] > 1
                                     else f"{row['mean']:.2f}")
        if row["count"] < seeds:  # fewer seeds than elsewhere: say so
            cells.loc[method, column] += f" (n={row['count']:.0f})"
    best = means.eq(means.max(axis=0), axis=1) & means.notna()
    best.loc[:, means.notna().sum(axis=0) < 2] = False  # a column with one method has no winner
    return Table(cells, best)


CONFIDENCE = 0.95  # of the paired t intervals over seeds


def paired_gaps(frame: pd.DataFrame, pairs: list[tuple[str, str]]) -> pd.DataFrame:
    """Accuracy of `method` minus its `reference`'s (percentage points), per pair, fraction and seed, paired
    by seed: rows only where both ran at that fraction and seed."""
    acc = frame[["method", "fraction", "seed", "test_accuracy"]]
    parts = []
    for method, reference in pairs:
        both = acc[acc["method"] == method].merge(acc[acc["method"] == reference], on=["fraction", "seed"],
                                                   suffixes=("", "_ref"))
        parts.append(pd.DataFrame({"method": method, "reference": reference, "fraction": both["fraction"],
                                   "seed": both["seed"], "gap": 100 * (both["test_accuracy"] -
                                                                       both["test_accuracy_ref"])}))
    columns = ["method", "reference", "fraction", "seed", "gap"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def comparisons(frame: pd.DataFrame, methods: list[str], references: dict[str, list[str]]) -> pd.DataFrame:
    """Each method against random, and each variant against its references (`method_groups`), at every
    fraction: the mean paired gap over seeds (points), its paired t interval at CONFIDENCE (NaN with one seed)
    and whether the interval holds 0 (the gap is within seed noise)."""
    pairs = []
    for method in _method_order(frame["method"], methods):
        if method not in (RANDOM, FULL):
            pairs.append((method, RANDOM))
        pairs += [(method, reference) for reference in references.get(method, []) if reference != method]
    pairs = list(dict.fromkeys(pairs))  # a variant of random: its base pair is its random pair, counted once
    rows = []
    for (method, reference, fraction), gap in paired_gaps(frame, pairs).groupby(
            ["method", "reference", "fraction"], sort=False)["gap"]:
        n, mean = len(gap), gap.mean()
        half = (scipy_stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * gap.std() / math.sqrt(n)) if n > 1 else math.nan
        rows.append({"method": method, "reference": reference, "fraction": fraction, "seeds": n, "gap": mean,
                     "low": mean - half, "high": mean + half, "noise": bool(n > 1 and mean - half <= 0 <= mean + half)})
    return pd.DataFrame(rows, columns=["method", "reference", "fraction", "seeds", "gap", "low", "high", "noise"])


def comparison_table(frame: pd.DataFrame, methods: list[str], references: dict[str, list[str]]) -> Table:
    """Rows 'method − reference', columns fractions: mean gap [interval]; bold where the interval excludes 0,
    '(noise)' where it holds 0; with one seed the mean alone and '(1 seed)'; '–' where either did not run."""
    found = comparisons(frame, methods, references)
    rows = list(dict.fromkeys(f"{m} − {r}" for m, r in zip(found["method"], found["reference"])))
    fractions = sorted(frame.loc[frame["method"] != FULL, "fraction"].unique())
    cells = pd.DataFrame(MISSING, index=pd.Index(rows, name="comparison"), columns=[_percent(f) for f in fractions])
    best = pd.DataFrame(False, index=cells.index, columns=cells.columns)
    for row in found.itertuples():
        where = (f"{row.method} − {row.reference}", _percent(row.fraction))
        if row.seeds < 2:
            cells.loc[where] = f"{row.gap:+.2f} (1 seed)"
        else:
            cells.loc[where] = f"{row.gap:+.2f} [{row.low:+.2f}, {row.high:+.2f}]" + (" (noise)" if row.noise else "")
            best.loc[where] = not row.noise
    return Table(cells, best, index_name="comparison")


def paired_random_gap(frame: pd.DataFrame) -> pd.DataFrame:
    """Accuracy minus random's (percentage points), per method, fraction and seed, paired by seed (see
    `paired_gaps`); `full` and random itself are left out."""
    others = [m for m in dict.fromkeys(frame["method"]) if m not in (RANDOM, FULL)]
    return paired_gaps(frame, [(m, RANDOM) for m in others]).drop(columns="reference")


def rank_matrix(frame: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Rank (1 = best mean accuracy) of each method at each fraction among the methods that ran there; NaN if absent."""
    stats = accuracy_stats(frame[frame["method"] != FULL])
    if stats.empty:
        return pd.DataFrame()
    means = stats["mean"].unstack("fraction")
    order = [m for m in _method_order(frame["method"], methods) if m in means.index]
    ranks = means.loc[order].rank(axis=0, ascending=False, method="min")
    ranks.columns = [_percent(f) for f in ranks.columns]
    return ranks


def within_table(frame: pd.DataFrame, methods: list[str], tolerance: float) -> Table:
    """Smallest fraction at which a method's mean accuracy comes within `tolerance` points of full data's, per arch."""
    archs = sorted(frame["arch"].unique())
    order = [m for m in _method_order(frame["method"], methods) if m != FULL]
    cells = pd.DataFrame(MISSING, index=pd.Index(order, name="method"), columns=archs)
    for arch in archs:
        part = frame[frame["arch"] == arch]
        full = part.loc[part["method"] == FULL, "test_accuracy"]
        if full.empty:
            continue  # no full-data run: '–' for every method
        threshold = 100 * full.mean() - tolerance
        stats = accuracy_stats(part[part["method"] != FULL])["mean"]
        for method in order:
            if method not in stats.index.get_level_values(0):
                continue
            means = stats.loc[method]
            reached = means[means >= threshold]
            cells.loc[method, arch] = (_percent(reached.index.min()) if len(reached)
                                       else f"> {_percent(means.index.max())}")
    return Table(cells)


def _fmt(value: float, digits: int = 1, scale: float = 1.0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return f"{value / scale:,.{digits}f}"


def cost_display(costs: pd.DataFrame) -> Table:
    columns = {
        "proxy (s)": ("proxy_wall_s", 1, 1), "score (s)": ("score_wall_s", 2, 1),
        "select (s)": ("select_wall_s", 2, 1), "selection wall (s)": ("selection_wall_s", 1, 1),
        "selection CPU (s)": ("selection_cpu_s", 1, 1), "selection peak RSS (MB)": ("selection_peak_mb", 0, 1),
        "signals on disk (MB)": ("signal_bytes", 2, 1e6), "target wall (s)": ("target_wall_s", 1, 1),
        "target CPU (s)": ("target_cpu_s", 1, 1), "target peak RSS (MB)": ("target_peak_mb", 0, 1),
    }
    cells = pd.DataFrame({label: [_fmt(v, d, s) for v in costs[col]] for label, (col, d, s) in columns.items()},
                         index=pd.Index(costs.index, name="method"))
    return Table(cells)


# ---------------------------------------------------------------- figures


def _palette(methods: list[str]) -> dict[str, tuple]:
    n = max(len(methods), 1)
    colors = (sns.color_palette("tab10", n) if n <= 10 else sns.color_palette("tab20", n) if n <= 20
              else (sns.color_palette("tab20") + sns.color_palette("tab20b") + sns.color_palette("husl", n))[:n])
    palette = dict(zip(methods, colors))
    if RANDOM in palette:
        palette[RANDOM] = (0.3, 0.3, 0.3)
    return palette


def _log_fraction_axis(ax, fractions) -> None:
    ax.set_xscale("log")
    fractions = sorted(set(fractions))
    if fractions:
        labels, last = [], -math.inf
        gap = 0.065 * max(math.log10(fractions[-1] / fractions[0]), 0.1)  # in decades, for an 8-inch axis
        for f in fractions:  # label a tick only when it is clear of the last labelled one (log scale)
            labels.append(_percent(f) if math.log10(f) - last >= gap else "")
            last = math.log10(f) if labels[-1] else last
        ax.set_xticks(fractions, labels)
    ax.minorticks_off()
    ax.set_xlabel("kept fraction of the candidate pool (log scale)")


def _note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True, fontsize="medium")
    ax.set_axis_off()


def _legend(ax) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False,
                  fontsize="small" if len(handles) <= 14 else "x-small", ncol=1 if len(handles) <= 14 else 2)


def _lines(ax, data: pd.DataFrame, y: str, palette: dict) -> None:
    """One line per method against fraction: the mean over seeds with a ±1 std band (seaborn on the means;
    aggregating first keeps figures with many methods fast)."""
    order = [m for m in palette if m in set(data["method"])]
    stats = data.groupby(["method", "fraction"])[y].agg(["mean", "std"]).reset_index()
    sns.lineplot(data=stats, x="fraction", y="mean", hue="method", hue_order=order, palette=palette, style="method",
                 style_order=order, markers=True, dashes=False, estimator=None, errorbar=None, ax=ax)
    for method, part in stats.groupby("method"):
        band = part.dropna(subset=["std"])
        if len(band):
            ax.fill_between(band["fraction"], band["mean"] - band["std"], band["mean"] + band["std"],
                            color=palette.get(method), alpha=0.2, linewidth=0)


def dataset_name(frame: pd.DataFrame) -> str:
    return str(frame["dataset"].iloc[0]) if len(frame) else ""


def accuracy_figure(frame: pd.DataFrame, arch: str, palette: dict):
    """Final test accuracy against kept fraction (log x), one line per method, ±1 std band; full data as a line."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    subsets = frame[frame["method"] != FULL]
    if not subsets.empty:
        _lines(ax, subsets.assign(accuracy=100 * subsets["test_accuracy"]), "accuracy", palette)
    full = 100 * frame.loc[frame["method"] == FULL, "test_accuracy"]
    if not full.empty:
        ax.axhline(full.mean(), color="black", linestyle="--", linewidth=1, label=f"full data ({full.mean():.2f}%)")
        if len(full) > 1:
            ax.axhspan(full.mean() - full.std(), full.mean() + full.std(), color="black", alpha=0.08)
    _log_fraction_axis(ax, subsets["fraction"])
    ax.set_ylabel("final-epoch test accuracy (%)")
    ax.set_title(f"{dataset_name(frame)}, target {arch}: mean ± 1 std over seeds")
    _legend(ax)
    return fig


def relative_figure(frame: pd.DataFrame, arch: str, palette: dict):
    """Points above random at each fraction (paired by seed), ±1 std band; nothing where random is missing."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    gap = paired_random_gap(frame)
    if gap.empty:
        reason = ("random is not in the results" if RANDOM not in set(frame["method"])
                  else "no method ran at a fraction and seed where random ran")
        _note(ax, f"No accuracy relative to random: {reason}.")
        return fig
    _lines(ax, gap, "gap", palette)
    ax.axhline(0, color=palette.get(RANDOM, "black"), linewidth=1.2, label="random")
    _log_fraction_axis(ax, gap["fraction"])
    ax.set_ylabel("test accuracy − random's (points)")
    ax.set_title(f"{dataset_name(frame)}, target {arch}: gain over random at the same fraction and seed")
    _legend(ax)
    return fig


def _annotated_heatmap(ax, values: pd.DataFrame, fmt, cmap, center=None, vmin=None, vmax=None, cbar_label=""):
    """A heatmap whose missing cells stay grey with a dash, never a colour of their own."""
    annot = len(values.columns) * len(values.index) <= 600
    labels = values.map(lambda v: MISSING if pd.isna(v) else fmt(v))
    sns.heatmap(values.astype(float), annot=labels.values if annot else False, fmt="", cmap=cmap, center=center,
                vmin=vmin, vmax=vmax, linewidths=0.5, linecolor="white", ax=ax,
                cbar_kws={"label": cbar_label, "shrink": 0.8}, annot_kws={"fontsize": "small"})
    ax.set_facecolor("#e6e6e6")
    ax.tick_params(axis="y", rotation=0)
    if annot:
        for (r, c), missing in np.ndenumerate(values.isna().values):
            if missing:
                ax.text(c + 0.5, r + 0.5, MISSING, ha="center", va="center", color="#777777", fontsize="small")
    ax.set_ylabel("")


def rank_figure(frame: pd.DataFrame, arch: str, methods: list[str]):
    ranks = rank_matrix(frame, methods)
    fig, ax = plt.subplots(figsize=(max(5, 0.7 * len(ranks.columns) + 3), max(3, 0.4 * len(ranks) + 1.5)))
    if ranks.empty:
        _note(ax, "No subset runs to rank.")
        return fig
    _annotated_heatmap(ax, ranks, lambda v: f"{v:.0f}", "viridis_r", vmin=1, vmax=max(len(ranks), 2),
                       cbar_label="rank (1 = best mean accuracy)")
    ax.set_xlabel("kept fraction")
    ax.set_title(f"{dataset_name(frame)}, target {arch}: rank per fraction (grey: not run)")
    return fig


def pareto_points(frame: pd.DataFrame, costs: pd.DataFrame | None, fraction: float) -> pd.DataFrame:
    """Per method at `fraction`: mean accuracy (%), selection wall seconds, signal MB; rows missing either are
    dropped."""
    part = frame[np.isclose(frame["fraction"], fraction) & (frame["method"] != FULL)]
    acc = 100 * part.groupby("method")["test_accuracy"].mean()
    if costs is None or acc.empty:
        return pd.DataFrame(columns=["method", "accuracy", "cost_s", "signal_mb"])
    points = pd.DataFrame({"accuracy": acc}).join(costs[["selection_wall_s", "signal_bytes"]], how="left")
    points = points.rename(columns={"selection_wall_s": "cost_s"}).assign(signal_mb=lambda t: t["signal_bytes"] / 1e6)
    return points.drop(columns="signal_bytes").reset_index().rename(columns={"index": "method"})


def pareto_front(points: pd.DataFrame) -> pd.DataFrame:
    """The methods no other method beats on both cost (lower) and accuracy (higher)."""
    ordered = points.dropna(subset=["cost_s", "accuracy"]).sort_values(["cost_s", "accuracy"],
                                                                        ascending=[True, False])
    front, best = [], -math.inf
    for _, row in ordered.iterrows():
        if row["accuracy"] > best:
            front.append(row)
            best = row["accuracy"]
    return pd.DataFrame(front, columns=points.columns)


def cost_figure(frame: pd.DataFrame, arch: str, costs: pd.DataFrame | None, fraction: float, palette: dict):
    """Accuracy at `fraction` against measured selection cost; marker area = bytes of signals read."""
    fig, ax = plt.subplots(figsize=(8, 4.8))
    points = pareto_points(frame, costs, fraction)
    shown = points.dropna(subset=["accuracy", "cost_s"])
    if shown.empty:
        _note(ax, f"No method has both a result at {_percent(fraction)} and a measured selection cost.")
        return fig
    shown = shown.assign(signal_mb=shown["signal_mb"].fillna(0))
    order = [m for m in palette if m in set(shown["method"])]
    sns.scatterplot(data=shown, x="cost_s", y="accuracy", hue="method", hue_order=order, palette=palette,
                    size="signal_mb", sizes=(40, 600), size_norm=(0, max(shown["signal_mb"].max(), 1e-9)),
                    alpha=0.85, edgecolor="black", linewidth=0.5, ax=ax, legend="brief")
    front = pareto_front(shown)
    ax.plot(front["cost_s"], front["accuracy"], color="black", linewidth=1, linestyle=":", label="Pareto front")
    labelled = shown if len(shown) <= 10 else shown[shown["method"].isin([*front["method"], RANDOM])]
    for _, row in labelled.iterrows():  # many methods: name the Pareto front (and random) only
        ax.annotate(row["method"], (row["cost_s"], row["accuracy"]), textcoords="offset points", xytext=(6, 4),
                    fontsize="x-small")
    full = 100 * frame.loc[frame["method"] == FULL, "test_accuracy"]
    if not full.empty:
        ax.axhline(full.mean(), color="black", linestyle="--", linewidth=1, label=f"full data ({full.mean():.2f}%)")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    narrow = shown["cost_s"].max() / max(shown["cost_s"].min(), 1e-9) < 30  # less than ~1.5 decades: label minors
    ax.xaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "25"
                                                                 else "") if narrow
                                 else matplotlib.ticker.NullFormatter())
    ax.set_xlabel("selection cost: wall s of proxy training (if read) + scoring + selection (log)")
    ax.set_ylabel(f"test accuracy at {_percent(fraction)} (%)")
    missing = sorted(set(points["method"]) - set(shown["method"]))
    title = f"{dataset_name(frame)}, target {arch}: accuracy against cost at {_percent(fraction)}"
    ax.set_title(title + (f"\nnot shown (no measured cost): {', '.join(missing)}" if missing else "")
                 + ("\nnamed: the Pareto front and random" if len(labelled) < len(shown) else ""),
                 fontsize="medium")
    handles, labels = ax.get_legend_handles_labels()
    labels = ["signals (MB)" if label == "signal_mb" else label for label in labels]
    ax.legend(handles, labels, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="x-small", frameon=False,
              ncol=1 if len(handles) <= 18 else 2)
    return fig


def mislabeled_figure(stats: SubsetStats, palette: dict):
    fig, ax = plt.subplots(figsize=(8, 4.5))
    data = stats.per_subset.dropna(subset=["mislabeled_share"])
    data = data[data["method"] != FULL]
    if data.empty:
        _note(ax, "No subsets with a matching split to count mislabeled samples.")
        return fig
    _lines(ax, data.assign(share=100 * data["mislabeled_share"]), "share", palette)
    rate = 100 * float(np.mean(list(stats.noise_rate.values()))) if stats.noise_rate else math.nan
    if not math.isnan(rate):
        ax.axhline(rate, color="black", linestyle="--", linewidth=1, label=f"pool noise rate ({rate:.1f}%)")
    _log_fraction_axis(ax, data["fraction"])
    ax.set_ylabel("mislabeled samples in the subset (%)")
    ax.set_title("Share of mislabeled (noisy-label) samples each method keeps")
    _legend(ax)
    return fig


def class_balance_figure(stats: SubsetStats, methods: list[str], fraction: float, palette: dict):
    """Left: each class's share of the subset at `fraction`; right: normalised class entropy at every fraction."""
    per = stats.per_subset
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, max(3.5, 0.35 * len(methods) + 2)),
                                      gridspec_kw={"width_ratios": [3, 2]})
    if per.empty or stats.num_classes == 0:
        _note(left, "No subsets.")
        right.set_axis_off()
        return fig
    totals = stats.class_counts.sum(axis=1, keepdims=True)
    shares = np.divide(stats.class_counts, totals, out=np.full(stats.class_counts.shape, np.nan), where=totals > 0)
    at = np.isclose(per["fraction"].to_numpy(), fraction)
    order = [m for m in methods if m in set(per.loc[at, "method"])]
    if order:
        frame = pd.DataFrame(100 * shares[at], columns=range(stats.num_classes)).assign(method=per.loc[at, "method"]
                                                                                          .to_numpy())
        mean = frame.groupby("method").mean().reindex(order)
        mean.columns = [str(c) for c in mean.columns]
        _annotated_heatmap(left, mean, lambda v: f"{v:.0f}", "RdBu_r", center=100 / stats.num_classes,
                           cbar_label="share of the subset (%)")
        left.set_xlabel("class (label kept in the subset)")
        left.set_title(f"Class shares at {_percent(fraction)} (uniform = {100 / stats.num_classes:.1f}%)",
                       fontsize="medium")
        if stats.num_classes > 20:
            left.set_xticks([])
    else:
        _note(left, f"No subsets at {_percent(fraction)}.")
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nansum(np.where(shares > 0, shares * np.log(shares), 0), axis=1) / math.log(stats.num_classes)
    balance = per.assign(balance=entropy)
    balance = balance[balance["method"] != FULL]
    if not balance.empty and stats.num_classes > 1:
        _lines(right, balance, "balance", palette)
        _log_fraction_axis(right, balance["fraction"])
        right.set_ylabel("class entropy / log C (1 = balanced)")
        right.set_title("Class balance at every fraction", fontsize="medium")
        right.legend(fontsize="x-small", frameon=False)
    else:
        right.set_axis_off()
    return fig


def overlap_figure(stats: SubsetStats, methods: list[str], fraction: float):
    overlap = stats.overlap
    present = [m for m in methods if m in set(overlap["method_a"])] if not overlap.empty else []
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(present) + 3), max(4, 0.5 * len(present) + 1.5)))
    if len(present) < 2:
        _note(ax, f"Fewer than two methods have subsets at {_percent(fraction)}: no overlap to show.")
        return fig
    mean = overlap.groupby(["method_a", "method_b"])["jaccard"].mean().unstack("method_b").reindex(
        index=present, columns=present)
    _annotated_heatmap(ax, mean, lambda v: f"{v:.2f}", "mako_r", vmin=0, vmax=1, cbar_label="Jaccard index")
    ax.set_xlabel("")
    expected = fraction / (2 - fraction)
    ax.set_title(f"Overlap of subsets at {_percent(fraction)}, mean over seeds\n"
                 f"(two independent uniform draws: {expected:.2f})", fontsize="medium")
    return fig


# ---------------------------------------------------------------- transfer: proxy -> target, and the oracle


def transfer_pairs(frame: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Per target arch, method, fraction and seed: test accuracy (%) on target.proxy's subsets (`transfer`), on
    the target's own proxy's (`oracle`; NaN where it did not run) and their difference (`gap`, points).

    A method whose subsets do not depend on the proxy (random) trains once, on target.proxy's subsets: that
    run is its oracle too. Full-data runs are left out (no subset to transfer).
    """
    keys = ["arch", "method", "fraction", "seed"]
    runs = frame[frame["method"] != FULL].assign(accuracy=100 * frame["test_accuracy"])
    transfer = runs[runs["proxy_arch"] == config["target"]["proxy"]]
    shared = [m for m in method_labels(config) if not reads_proxy(config, m)]
    oracle = pd.concat([runs[runs["proxy_arch"] == runs["arch"]], transfer[transfer["method"].isin(shared)]])
    oracle = oracle.drop_duplicates(keys)[[*keys, "accuracy"]].rename(columns={"accuracy": "oracle"})
    pairs = transfer[[*keys, "proxy_arch", "accuracy"]].rename(columns={"accuracy": "transfer"})
    pairs = pairs.merge(oracle, on=keys, how="left")
    return pairs.assign(gap=pairs["transfer"] - pairs["oracle"])


def _mean_std(values: pd.Series, sign: str = "") -> str:
    values = values.dropna()
    if values.empty:
        return MISSING
    return f"{values.mean():{sign}.2f} ± {values.std():.2f}" if len(values) > 1 else f"{values.mean():{sign}.2f}"


def transfer_table(pairs: pd.DataFrame, fraction: float, proxy: str, archs: list[str], methods: list[str]) -> Table:
    """At `fraction`: a row per (proxy -> target) with the methods as columns, mean ± std over seeds; where the
    target's own proxy is another, its oracle row (the target trained on its own proxy's subsets) and the gap
    row (transfer − oracle, paired by seed)."""
    at = pairs[np.isclose(pairs["fraction"], fraction)]
    columns = [m for m in methods if m in set(at["method"])]
    rows = {}
    for arch in archs:
        part = at[at["arch"] == arch]
        by_method = {m: part[part["method"] == m] for m in columns}
        if proxy == arch:
            rows[f"{arch} → {arch} (own proxy)"] = [_mean_std(by_method[m]["transfer"]) for m in columns]
            continue
        rows[f"{proxy} → {arch}"] = [_mean_std(by_method[m]["transfer"]) for m in columns]
        if part["oracle"].notna().any():
            rows[f"{arch} → {arch} (oracle)"] = [_mean_std(by_method[m]["oracle"]) for m in columns]
            rows[f"gap to oracle, {arch}"] = [_mean_std(by_method[m]["gap"], "+") for m in columns]
    cells = pd.DataFrame(list(rows.values()), index=pd.Index(list(rows), name="proxy → target"), columns=columns)
    return Table(cells, index_name="proxy → target")


def transfer_figure(pairs: pd.DataFrame, proxy: str, archs: list[str], palette: dict, dataset: str):
    """Per target architecture: accuracy against fraction on `proxy`'s subsets (solid) and on the oracle's
    (dashed); below, the gap to the oracle, paired by seed (±1 std band)."""
    shown = [a for a in archs if a in set(pairs["arch"])]
    oracle = pairs["oracle"].notna().any()
    fig, axes = plt.subplots(2 if oracle else 1, max(len(shown), 1), figsize=(5.5 * max(len(shown), 1) + 2,
                                                                               7.5 if oracle else 4.2),
                             squeeze=False)
    if not shown:
        _note(axes[0, 0], "No target runs to compare across proxies.")
        return fig
    for column, arch in enumerate(shown):
        part = pairs[pairs["arch"] == arch]
        top = axes[0, column]
        _lines(top, part, "transfer", palette)
        own = arch == proxy  # its runs are their own oracle: nothing dashed, no gap
        means = part.groupby(["method", "fraction"])["oracle"].mean().dropna().iloc[:0 if own else None]
        for method, line in means.groupby(level="method"):
            top.plot(line.index.get_level_values("fraction"), line.to_numpy(), color=palette.get(method),
                     linestyle="--", linewidth=1)
        top.set_ylabel("final-epoch test accuracy (%)")
        top.set_title(f"{proxy} → {arch}" + (" (dashed: oracle, its own proxy)" if means.size else ""),
                      fontsize="medium")
        _log_fraction_axis(top, part["fraction"])
        if oracle:
            bottom = axes[1, column]
            gaps = part.dropna(subset=["gap"])
            if own or gaps.empty:
                _note(bottom, f"{arch} is its own proxy: no gap." if own else f"No oracle runs for {arch}.")
            else:
                _lines(bottom, gaps, "gap", palette)
                bottom.axhline(0, color="black", linewidth=1)
                _log_fraction_axis(bottom, gaps["fraction"])
                bottom.set_ylabel("transfer − oracle (points)")
                top.set_xlabel("")
        for ax in axes[:, column]:
            if ax.get_legend() is not None:
                ax.get_legend().remove()
    _legend(axes[0, -1])
    fig.suptitle(f"{dataset}: subsets selected on one proxy architecture, trained on others")
    return fig


def _save(fig, folder: Path, name: str) -> bytes:
    """Write <name>.png and <name>.svg; return the PNG bytes (for embedding)."""
    fig.tight_layout()
    # the tight box once (a draw), then both formats without re-measuring it
    box = fig.get_tightbbox(fig.canvas.get_renderer()).padded(0.1)
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=110, metadata={"Software": None}, bbox_inches=box)
    svg = io.BytesIO()
    fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches=box)
    plt.close(fig)
    for suffix, buffer in ((".png", png), (".svg", svg)):
        with atomic_path(folder / f"{name}{suffix}") as tmp:
            tmp.write_bytes(buffer.getvalue())
    return png.getvalue()


# ---------------------------------------------------------------- page


def software_versions() -> dict[str, str]:
    """Versions of the packages that produced the results (read from metadata: no heavy imports)."""
    packages = ("torch", "torchvision", "numpy", "pandas", "pyarrow", "matplotlib", "seaborn", "snakemake",
                "prunebench")
    versions = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


CSS = """body{font-family:system-ui,sans-serif;max-width:72em;margin:2em auto;padding:0 1em;color:#222}
img{max-width:100%;height:auto;display:block;margin:1em 0}
table.summary{border-collapse:collapse;margin:1em 0;font-size:.92em}
table.summary td,table.summary th{padding:.25em .6em;text-align:right;border-bottom:1px solid #ddd}
table.summary tbody th{text-align:left}table.summary tbody tr:nth-child(even){background:#f5f5f5}
.note{color:#555;font-size:.92em}pre{background:#f5f5f5;padding:1em;overflow-x:auto;font-size:.85em}
nav a{margin-right:1em}"""


def write_report(frame: pd.DataFrame, folder: str | os.PathLike, config: dict, costs: pd.DataFrame | None = None,
                 subsets: SubsetStats | None = None) -> Path:
    """Write every figure (PNG + SVG), summary.md and the self-contained index.html into `folder`; return the page.

    costs: prunebench.costs.cost_table (None: cost columns and the cost figure show missing);
    subsets: prunebench.subset_stats.gather_subsets (None: the subset figures say they have no data).
    """
    folder = Path(folder)
    sns.set_theme(style="whitegrid", context="notebook")
    grouped, references = method_groups(config)
    methods = _method_order(frame["method"], grouped)
    palette = _palette([m for m in methods if m != FULL])
    fraction = report_fraction(config)
    tolerance = float((config.get("report") or {}).get("tolerance", 1.0))
    dataset = config["dataset"]["name"]
    html_parts, md_parts = [], []

    def add_figure(fig, name, title, caption):
        png = _save(fig, folder, name)
        html_parts.append(
            f"<h3 id='{name}'>{html.escape(title)}</h3>"
            f"<img alt='{html.escape(title)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
            f"<p class='note'>{html.escape(caption)} <a href='{name}.svg'>SVG</a></p>")
        md_parts.append(f"### {title}\n\n![{title}]({name}.png)\n\n{caption}\n")

    def add_table(table: Table, title: str, caption: str):
        html_parts.append(f"<h3>{html.escape(title)}</h3>{table.html()}<p class='note'>{html.escape(caption)}</p>")
        md_parts.append(f"### {title}\n\n{table.markdown()}\n{caption}\n")

    seeds = sorted(frame["seed"].unique()) if len(frame) else []
    fractions = sorted(frame.loc[frame["method"] != FULL, "fraction"].unique()) if len(frame) else []
    devices = sorted(frame["device"].dropna().unique()) if "device" in frame else []
    run_line = (f"{len(frame)} target runs on {dataset}: methods {', '.join(methods) or 'none'}; "
                f"fractions {', '.join(_percent(f) for f in fractions) or 'none'}; "
                f"seeds {', '.join(map(str, seeds)) or 'none'}; devices {', '.join(devices) or 'unknown'}.")
    md_parts.append(f"# prunebench report: {dataset}\n\n{run_line}\n")
    variant_line = "; ".join(f"{label} is {entry['method']} with {json.dumps(entry.get('params') or {})}"
                             for label, entry in variants(config).items())
    if variant_line:
        variant_line = f"Variants (listed right after their method): {variant_line}."
        md_parts.append(variant_line + "\n")

    # every section but the transfer one shows the runs on target.proxy's subsets (with one proxy: every run)
    everything, frame = frame, frame[frame["proxy_arch"] == config["target"]["proxy"]]
    for arch in config["target"]["archs"]:
        part = frame[frame["arch"] == arch]
        html_parts.append(f"<h2 id='arch-{arch}'>Target {html.escape(arch)}</h2>")
        md_parts.append(f"## Target {arch}\n")
        if part.empty:
            note = f"No finished target runs for {arch}."
            html_parts.append(f"<p>{note}</p>")
            md_parts.append(note + "\n")
        part = part.assign(dataset=dataset)
        add_table(summary_table(part, methods), "Final-epoch test accuracy (%)",
                  "Mean ± std over seeds; best mean per fraction in bold; – marks a cell with no finished run; "
                  "(n=…) a cell with fewer seeds than the others.")
        best = part.dropna(subset=["test_accuracy_best"])
        if len(best):  # only with target.eval_every: the epoch is picked by looking at the test set
            add_table(summary_table(best.assign(test_accuracy=best["test_accuracy_best"]), methods),
                      "Best-epoch test accuracy (%), epoch chosen on the test set",
                      "The best of each run's test evaluations (every target.eval_every epochs), picked on the test "
                      "set itself, so it overstates what a run delivers (DeepCore and CLD report it); the "
                      "final-epoch table above is the unbiased number.")
        add_figure(accuracy_figure(part, arch, palette), f"accuracy_vs_fraction_{arch}", "Accuracy against fraction",
                   "Final-epoch test accuracy, ±1 std band over seeds; dashed: full data (band ±1 std).")
        one_seed = part["seed"].nunique() < 2
        add_table(comparison_table(part, methods, references), "Paired gaps: each method against random, each "
                  "variant against its method (and against the method its score names) (points)",
                  "Mean over seeds of (method − reference) test accuracy at the same fraction, architecture and "
                  f"seed, with its {100 * CONFIDENCE:g}% paired t confidence interval over seeds [low, high] (the "
                  "per-seed gaps' mean ± t(n−1) · std / √n, scipy.stats); bold: the interval excludes 0, a real "
                  "difference at these seeds; (noise): the interval holds 0, the gap is within seed noise; – where "
                  "either did not run."
                  + (" With one seed there is no interval: run more seeds to tell a real gap from seed noise."
                     if one_seed else ""))
        add_figure(relative_figure(part, arch, palette), f"relative_to_random_{arch}", "Accuracy relative to random",
                   "Paired by seed; the band is ±1 std of the per-seed gap. Missing random means no point.")
        add_figure(rank_figure(part, arch, methods), f"rank_heatmap_{arch}", "Rank per fraction",
                   "Rank of each method's mean accuracy among the methods that ran at that fraction (1 = best); "
                   "grey cells were not run.")
        add_figure(cost_figure(part, arch, costs, fraction, palette), f"cost_vs_accuracy_{arch}",
                   f"Accuracy against selection cost at {_percent(fraction)}",
                   "Measured wall seconds (Snakemake benchmark files) of the proxy training (for methods that "
                   "read it), scoring and one selection, mean over seeds; marker area: bytes on disk of the proxy "
                   "signals the method reads; dotted: Pareto front.")

    if transfer_study(config):
        html_parts.append("<h2 id='transfer'>Transfer across architectures</h2>")
        md_parts.append("## Transfer across architectures\n")
        pairs = transfer_pairs(everything, config)
        subset_methods = [m for m in methods if m != FULL]
        for at in sorted(pairs["fraction"].unique()):
            add_table(transfer_table(pairs, at, config["target"]["proxy"], config["target"]["archs"], subset_methods),
                      f"Test accuracy (%) at {_percent(at)}, by the proxy whose subsets the target trained on",
                      "Mean ± std over seeds. Oracle: the target trained on the subsets of its own architecture's "
                      "proxy run; gap: transfer − oracle, paired by seed (negative: the other proxy's subsets did "
                      "worse). Random selects the same subsets whatever the proxy: its one run is its oracle.")
        add_figure(transfer_figure(pairs, config["target"]["proxy"], config["target"]["archs"], palette, dataset),
                   TRANSFER_FIGURE,
                   "Transfer: accuracy by proxy and target",
                   "Solid: the target trained on target.proxy's subsets; dashed: on its own proxy's (the oracle); "
                   "below: transfer − oracle per fraction, ±1 std band over seeds.")

    html_parts.append("<h2 id='budget'>Data needed to match full data</h2>")
    md_parts.append("## Data needed to match full data\n")
    add_table(within_table(frame, methods, tolerance) if len(frame) else Table(pd.DataFrame()),
              f"Smallest fraction within {tolerance:g} point of full-data accuracy",
              "Smallest configured fraction whose mean accuracy is at most "
              f"{tolerance:g} point below the full-data mean; > x: not reached at any fraction up to x; "
              "– where full data or the method did not run.")

    html_parts.append("<h2 id='costs'>Measured cost</h2>")
    md_parts.append("## Measured cost\n")
    if costs is not None:
        add_table(cost_display(costs.reindex([m for m in methods if m in costs.index] or costs.index)),
                  "Cost per method (means over seeds)",
                  "Snakemake benchmark measurements: proxy = the proxy training run, counted whole for every method "
                  "that reads it; score = the method's scoring job; select = one fraction's share of the job that "
                  "selects every fraction; selection = proxy + score + select; peak RSS is the largest of those "
                  "jobs; signals = bytes on disk of the proxy outputs the method reads; target = one training's "
                  "share of the job that trains every fraction of a method and seed. – is not measured.")
    else:
        html_parts.append("<p>No benchmark files were given.</p>")
        md_parts.append("No benchmark files were given.\n")

    html_parts.append("<h2 id='subsets'>What each method keeps</h2>")
    md_parts.append("## What each method keeps\n")
    if subsets is not None:
        if config["split"]["label_noise"] > 0:
            add_figure(mislabeled_figure(subsets, palette), NOISE_FIGURE, "Mislabeled samples kept",
                       "Share of each subset whose label was flipped by split.label_noise, mean ± 1 std over seeds; "
                       "dashed: the pool's noise rate, what a uniform draw keeps.")
        else:
            note = ("No mislabeled-share figure: split.label_noise is 0, so no label is noisy. "
                    "Set it above 0 to see which methods keep mislabeled samples.")
            html_parts.append(f"<p class='note'>{html.escape(note)}</p>")
            md_parts.append(note + "\n")
        weighted = sorted(set(subsets.per_subset.loc[subsets.per_subset["weighted"], "method"]))
        if weighted:
            note = (f"Weighted subsets: {', '.join(weighted)}; the figures below count samples, "
                    "their targets trained on sum(w·loss)/sum(w).")
            html_parts.append(f"<p class='note'>{html.escape(note)}</p>")
            md_parts.append(note + "\n")
        subset_methods = [m for m in methods if m != FULL]
        add_figure(class_balance_figure(subsets, subset_methods, fraction, palette), "class_balance", "Class balance",
                   f"Left: each class's share of the subsets at {_percent(fraction)} (labels as trained on), mean "
                   "over seeds; right: class entropy over log C for every subset (1 = every class equally kept).")
        add_figure(overlap_figure(subsets, subset_methods, fraction), "subset_overlap",
                   f"Overlap between methods at {_percent(fraction)}",
                   "Jaccard index |A∩B|/|A∪B| of two methods' subsets drawn with the same seed, mean over seeds.")
    else:
        html_parts.append("<p>No subset files were given.</p>")
        md_parts.append("No subset files were given.\n")

    versions = software_versions()
    config_yaml = yaml.safe_dump(config, sort_keys=False)
    md_parts.append("## Provenance\n\n" + run_line + "\n\n"
                    + "Software: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + "\n\n"
                    + "Configuration:\n\n```yaml\n" + config_yaml + "```\n")
    nav = "".join(f"<a href='#arch-{html.escape(a)}'>{html.escape(a)}</a>" for a in config["target"]["archs"])
    nav += "<a href='#transfer'>transfer</a>" if transfer_study(config) else ""
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>prunebench: {html.escape(dataset)}</title>
<style>{CSS}</style></head><body>
<h1>prunebench report: {html.escape(dataset)}</h1>
<p>{html.escape(run_line)}</p>
{f"<p>{html.escape(variant_line)}</p>" if variant_line else ""}
<nav>{nav}<a href='#budget'>data needed</a><a href='#costs'>cost</a><a href='#subsets'>subsets</a>
<a href='#provenance'>provenance</a></nav>
{''.join(html_parts)}
<h2 id='provenance'>Provenance</h2>
<p>Seeds {html.escape(', '.join(map(str, seeds)) or 'none')}; figures are also beside this page as SVG.</p>
<h3>Software</h3><ul>{''.join(f"<li>{html.escape(k)} {html.escape(v)}</li>" for k, v in versions.items())}</ul>
<h3>Configuration</h3><pre>{html.escape(config_yaml)}</pre>
</body></html>
"""
    grouped = everything.groupby(["proxy_arch", "arch", "method", "fraction"])["test_accuracy"]
    tidy = pd.DataFrame({"mean": 100 * grouped.mean(), "std": 100 * grouped.std(), "seeds": grouped.count()})
    with atomic_path(folder / "accuracy.csv") as tmp:
        tidy.round(4).reset_index().to_csv(tmp, index=False)
    with atomic_path(folder / "costs.csv") as tmp:
        (costs if costs is not None else pd.DataFrame(columns=["method"]).set_index("method")).to_csv(tmp)
    with atomic_path(folder / "summary.md") as tmp:
        tmp.write_text("\n".join(md_parts))
    with atomic_path(folder / "index.html") as tmp:
        tmp.write_text(page)
    return folder / "index.html"
