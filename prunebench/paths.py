"""Names of workflow files that the library and the rules both need, in one place: the rules format
these templates (Snakemake fills the {wildcards}), the library parses them back. Nothing here imports
Snakemake or plotting, so the Snakefile reads it for free.

Every path below is relative to a run's results folder (`results_dir(config)`), but the prepared dataset,
which lives per dataset and its settings (`data_dir(config)`) and is shared by every run over it. `{proxy}` is the proxy
architecture whose run the file comes from, or whose subsets a target trained on; `{arch}` a target
architecture. The names of the files inside a proxy run's folder are prunebench.signals'.
"""

from __future__ import annotations

import hashlib
import json
import re

RESULTS = "results"
DATA = "data"  # below results/: the prepared dataset caches, one folder each (data_dir), shared by every run
SPLIT = "split/seed{seed}.parquet"
PROXY = "proxy/{proxy}/seed{seed}"  # a folder: one proxy run per architecture and seed
SCORES = "scores/{proxy}/{method}/seed{seed}.parquet"
SUBSET = "subsets/{proxy}/{method}/{fraction}/seed{seed}.parquet"
TARGET = "targets/{proxy}/{arch}/{method}/{fraction}/seed{seed}.json"  # {arch} trained on {proxy}'s subset
TABLE = "results.parquet"
TABLE_CSV = "results.csv"
REPORT = "report"  # a folder: index.html, summary.md, the tables and the figures


def fill(template: str, **values) -> str:
    """`template` with the named fields filled in and every other {field} kept, for Snakemake to fill."""

    class Keep(dict):
        def __missing__(self, key):
            return "{" + key + "}"

    return template.format_map(Keep(values))


def results_dir(config: dict) -> str:
    """Everything a run writes but the prepared dataset: results/<run_name>, its {section[key]} fields
    filled from the config (cifar10-noise{split[label_noise]}: results/cifar10-noise0.3); null: the dataset's
    name. Runs that share a name share their files (and overwrite what differs)."""
    return f"{RESULTS}/{(config.get('run_name') or config['dataset']['name']).format_map(config)}"


def data_settings(dataset: dict) -> dict:
    """What the prepared dataset depends on: the config's dataset section but crop_size (the training view,
    cut from the stored images at training time)."""
    return {k: v for k, v in dataset.items() if k != "crop_size"}


def data_key(dataset: dict) -> str:
    """The prepared dataset's folder name: the dataset's name and a digest of `data_settings`, so runs with
    any run_name over the same data prepare it once, and other settings (a store size) never replace it."""
    digest = hashlib.sha256(json.dumps(data_settings(dataset), sort_keys=True).encode()).hexdigest()[:12]
    return f"{dataset['name']}-{digest}"


def data_dir(config: dict) -> str:
    """The prepared dataset cache (a folder): results/data/<name>-<digest>."""
    return data_file(config, "{key}")


def data_file(config: dict, template: str) -> str:
    """A file below results/data/ whose {key} is the prepared dataset's (prepare_data's log and benchmark:
    results/data/logs/<name>-<digest>.log, beside the cache, as it is shared by runs)."""
    return f"{RESULTS}/{DATA}/" + fill(template, key=data_key(config["dataset"]))


# each rule's log and benchmark file, below results/<run>/logs/ and .../benchmarks/, by its wildcards; the
# rules in SCOPED add the wildcards their jobs keep under the config's job_scope (`scoped`)
JOBS = {
    "prepare_data": "{key}",  # below results/data/, beside the cache (data_dir): shared by every run
    "make_split": "make_split/seed{seed}",
    "train_proxy": "train_proxy/{proxy}/seed{seed}",
    "train_proxy_repeat": "train_proxy_repeat/{proxy}/seed{seed}/repeat{repeat}",
    "score": "score/{proxy}/{method}",
    "select": "select/{proxy}/{method}",
    "train_target": "train_target/{proxy}/{arch}/{method}",
    "aggregate": "aggregate",
    "report": "report",
}
# job_scope: what one score, select or train_target job covers. The wildcards it keeps (beyond proxy, arch,
# method); every other seed and fraction is one of the job's files. A score table has no fraction.
SCOPES = {"method": (), "seed": ("seed",), "training": ("fraction", "seed")}
SCOPED = ("score", "select", "train_target")


def job_wildcards(rule: str, scope: str) -> tuple[str, ...]:
    """The seed and fraction wildcards a job of `rule` keeps under `scope` (the rest it spells out)."""
    return tuple(w for w in SCOPES[scope] if not (rule == "score" and w == "fraction"))


def job(rule: str, scope: str | None = None) -> str:
    """A rule's job template (logs and benchmarks): a SCOPED rule's depends on the job_scope."""
    if rule not in SCOPED:
        return JOBS[rule]
    if scope not in SCOPES:
        raise ValueError(f"{rule}: its jobs' files depend on the job_scope ({', '.join(SCOPES)}), not {scope!r}")
    return JOBS[rule] + "".join({"fraction": "/{fraction}", "seed": "/seed{seed}"}[w]
                                for w in job_wildcards(rule, scope))


def log(rule: str, scope: str | None = None) -> str:
    return f"logs/{job(rule, scope)}.log"


def benchmark(rule: str, scope: str | None = None) -> str:
    return f"benchmarks/{job(rule, scope)}.tsv"


def job_pattern(rule: str, scope: str | None = None) -> re.Pattern:
    """A job template as a regex with one named group per wildcard (seeds and repeats are numbers)."""
    parts = re.split(r"\{(\w+)\}", job(rule, scope))  # text, wildcard, text, ...
    return re.compile("".join(re.escape(part) if i % 2 == 0 else
                              f"(?P<{part}>{'[0-9]+' if part in ('seed', 'repeat') else '[^/]+'})"
                              for i, part in enumerate(parts)))


# the report's figures: per target architecture, and of the subsets themselves (one each)
ARCH_FIGURES = ("accuracy_vs_fraction", "relative_to_random", "rank_heatmap", "cost_vs_accuracy")
SUBSET_FIGURES = ("class_balance", "subset_overlap")
NOISE_FIGURE = "mislabeled_share"
TRANSFER_FIGURE = "transfer"  # accuracy per (proxy -> target) and the gap to the oracle


def figure_files(config: dict) -> list[str]:
    """Names (without extension) of every figure the report writes for `config`."""
    names = [f"{stem}_{arch}" for arch in config["target"]["archs"] for stem in ARCH_FIGURES]
    names += list(SUBSET_FIGURES)
    if config["split"]["label_noise"] > 0:
        names.append(NOISE_FIGURE)
    if transfer_study(config):
        names.append(TRANSFER_FIGURE)
    return names


def transfer_study(config: dict) -> bool:
    """Whether some target trains on another architecture's subsets, or on its own proxy's as well (the oracle)."""
    target = config["target"]
    return target["oracle"] or any(arch != target["proxy"] for arch in target["archs"])
