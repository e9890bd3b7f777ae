# Configuration, target lists and input functions shared by every rule.
import os
import re
import sys

from prunebench.config import (
    ConfigError,
    method_labels,
    method_params,
    method_spec,
    proxy_plan,
    proxy_settings,
    target_runs,
    target_settings,
    validate_config,
)
from prunebench.datasets import get_dataset
from prunebench.methods import REGISTRY
from prunebench.archs import ARCHS
from prunebench import paths, plugins
from prunebench.pipeline import step_code
from prunebench.splits import split_params
from prunebench.signals import EVAL_FILE, TRAIN_FILE, model_file, snapshot_file

# Snakemake's script runner starts each job as the shell command `<python> <script>` with the
# interpreter's path unquoted: a space there fails every job, so say so before any job runs
# (under --software-deployment-method conda or apptainer, jobs run the environment's `python`)
if re.search(r"\s", sys.executable) and not {m.name for m in workflow.deployment_settings.deployment_method}:
    sys.exit(
        f"prunebench: Snakemake cannot start jobs with a Python at a path with a space ({sys.executable}); "
        "put the virtual environment at a path without one (make VENV=$HOME/prunebench-venv setup, then run "
        "that one's snakemake); the repository and the working directory may contain spaces"
    )

try:
    CFG = validate_config(config)
except ConfigError as err:
    # one line, before any job runs or any output is written
    sys.exit(str(err))

# every job imports the config's plugins before it runs (workflow scripts read this, not the config)
os.environ[plugins.VARIABLE] = ",".join(CFG["plugins"])


envvars:
    plugins.VARIABLE,


DATASET = CFG["dataset"]["name"]
OUT = paths.results_dir(CFG)
DATA_DIR = paths.data_dir(CFG)  # the prepared dataset, shared by every run over the same data
PROXY_ARCHS = CFG["proxy"]["archs"]
PLANS = {arch: proxy_plan(CFG, arch) for arch in PROXY_ARCHS}
# what proxy runs log does not depend on their architecture: the first's plan names their output files
PLAN = PLANS[PROXY_ARCHS[0]]
MAIN_PROXY = CFG["target"]["proxy"]  # whose runs the report's per-architecture sections show
RUNS = target_runs(CFG)
TARGET_SETTINGS = target_settings(CFG)
SPLIT = split_params(CFG["split"])  # what makes the split (the query-selection keys only for a biased query set)
# a fraction's label in paths is its repr: float(label) gives back the exact value
FRACTION_LABELS = [repr(float(f)) for f in CFG["fractions"]]
REPORT = f"{OUT}/{paths.REPORT}"
REPORT_HTML = f"{REPORT}/index.html"
# what a {method} wildcard may be: a registry name or a configured variant's label
METHODS = list(dict.fromkeys([*REGISTRY, *method_labels(CFG)]))


wildcard_constraints:
    seed=r"\d+",
    method="|".join(map(re.escape, METHODS)),
    fraction="|".join(re.escape(label) for label in [*FRACTION_LABELS, "1.0"]),
    arch="|".join(map(re.escape, ARCHS)),
    proxy="|".join(map(re.escape, PROXY_ARCHS)),
    repeat=r"[1-9]\d*",


def code(step, per_method=False, parts=(), trains=None):
    """The library code a rule's step runs, as a param: when it changes, Snakemake's params trigger reruns the
    rule. Per method, only that method's modules count (and the step's own), not the other methods'; `parts`:
    the dataset entry the step uses; `trains`: the wildcard naming the architecture it trains (a plugin's code
    counts too)."""
    if per_method:
        return lambda wildcards: step_code(
            step, method_spec(CFG, wildcards.method).name, method_params(CFG, wildcards.method)
        )
    if trains:
        return lambda wildcards: step_code(step, arch=getattr(wildcards, trains))
    return step_code(step, parts=parts)


def score_gpus(wildcards):
    """A GPU for the score jobs of methods that run the proxy model (DeepFool, SloCurv, BoundarySet-CCS, GraNd's
    full form): those that read its weights. On a machine without one the job runs on the CPU all the same."""
    method = method_spec(CFG, wildcards.method)
    return int(method.needs_images(method_params(CFG, wildcards.method), PLANS[wildcards.proxy]))


def method_fractions(method):
    return ["1.0"] if method_spec(CFG, method).full_only else FRACTION_LABELS


# select and train_target write every fraction of a method, full-only methods one (rules select_full,
# train_target_full), so the two rules split the methods by these patterns
FULL_METHODS = "|".join(m for m in METHODS if method_spec(CFG, m).full_only)
SUBSET_METHODS = "|".join(m for m in METHODS if not method_spec(CFG, m).full_only)
SCOPE = CFG["job_scope"]  # what one score, select or train_target job covers: its seeds and fractions
SEEDS = CFG["seeds"]


def job_files(rule, template, fractions=None):
    """The files of `template` that one job of `rule` writes: its own {seed} and {fraction} wildcards kept (as
    job_scope says), every other seed and fraction (of `fractions`, if the files have one) spelled out,
    seed-major."""
    kept = paths.job_wildcards(rule, SCOPE)
    seeds = ["{seed}"] if "seed" in kept else SEEDS
    fractions = [None] if fractions is None else (["{fraction}"] if "fraction" in kept else fractions)
    return [paths.fill(template, seed=s, **({} if f is None else {"fraction": f})) for s in seeds for f in fractions]


def job_seeds(wildcards):
    """The seeds a score, select or train_target job covers."""
    return [int(wildcards.seed)] if hasattr(wildcards, "seed") else SEEDS


def job_fractions(wildcards):
    """The fraction labels a select or train_target job covers."""
    return [wildcards.fraction] if hasattr(wildcards, "fraction") else method_fractions(wildcards.method)


def job_splits(wildcards):
    return [f"{OUT}/{paths.SPLIT}".format(seed=s) for s in job_seeds(wildcards)]


def subset_files(wildcards):
    """The subsets a target job trains on: its method's, from its proxy's runs, seed-major."""
    return [
        f"{OUT}/{paths.SUBSET}".format(proxy=wildcards.proxy, method=wildcards.method, fraction=f, seed=s)
        for s in job_seeds(wildcards)
        for f in job_fractions(wildcards)
    ]


def target_results():
    return [
        f"{OUT}/{paths.TARGET}".format(proxy=proxy, arch=arch, method=method, fraction=fraction, seed=seed)
        for proxy, arch, method in RUNS
        for fraction in method_fractions(method)
        for seed in SEEDS
    ]


def proxy_dir(wildcards):
    return f"{OUT}/{paths.PROXY}".format(proxy=wildcards.proxy, seed=wildcards.seed)


def proxy_dirs(wildcards):
    """The proxy runs of a score or select job's seeds."""
    return [f"{OUT}/{paths.PROXY}".format(proxy=wildcards.proxy, seed=s) for s in job_seeds(wildcards)]


def proxy_inputs(wildcards):
    """The splits, plus only the proxy outputs this method reads (none for label-only methods), of the job's seeds."""
    method = method_spec(CFG, wildcards.method)
    params = method_params(CFG, wildcards.method)
    plan = PLANS[wildcards.proxy]
    files = method.proxy_files(params, plan)
    inputs = {
        "splits": job_splits(wildcards),
        "proxy": [f"{d}/{name}" for d in proxy_dirs(wildcards) for name in files],
    }
    if method.needs_images(params, plan):
        inputs["data"] = DATA_DIR
    return inputs


def select_inputs(wildcards):
    """The score tables; a sampler that reads signals at selection time also gets the proxy's outputs."""
    inputs = {
        "scores": [
            f"{OUT}/{paths.SCORES}".format(proxy=wildcards.proxy, method=wildcards.method, seed=s)
            for s in job_seeds(wildcards)
        ]
    }
    if method_spec(CFG, wildcards.method).subset_reads_signals:
        inputs.update(proxy_inputs(wildcards))
    return inputs


# ---- the report's inputs and outputs (rules/report.smk): costs and subsets are target.proxy's


def subset_jobs():
    """(method, fraction label, seed) of every configured subset of target.proxy's runs."""
    return [(m, f, s) for m in method_labels(CFG) for f in method_fractions(m) for s in SEEDS]


def proxy_file_names():
    """Names (below a proxy run's folder) of the proxy outputs the configured methods read."""
    plan = PLANS[MAIN_PROXY]
    return sorted({n for m in method_labels(CFG) for n in method_spec(CFG, m).proxy_files(method_params(CFG, m), plan)})


def proxy_outputs():
    """The proxy outputs the configured methods read (their sizes are the report's "bytes of signals")."""
    return [
        f"{OUT}/{paths.PROXY}/{name}".format(proxy=MAIN_PROXY, seed=s) for s in SEEDS for name in proxy_file_names()
    ]


def proxy_benchmarks():
    """Benchmark files of the proxy runs the configured methods read: the main run, and repeats."""
    names = proxy_file_names()
    if not names:
        return []
    repeats = sorted({int(r) for n in names for r in re.findall(r"(?:^|/)repeat(\d+)/", n)})
    return [
        *expand(rules.train_proxy.benchmark, proxy=MAIN_PROXY, seed=SEEDS),
        *expand(rules.train_proxy_repeat.benchmark, proxy=MAIN_PROXY, seed=SEEDS, repeat=repeats),
    ]


def report_inputs(wildcards):
    """Results, the benchmark files of every configured proxy/score/select/target job, subsets, splits, proxy outputs."""
    jobs = subset_jobs()
    main = {"proxy": MAIN_PROXY}
    return {
        "results": f"{OUT}/{paths.TABLE}",
        "benchmarks": [
            *proxy_benchmarks(),
            # one per job: a template without {seed} or {fraction} (job_scope) names one file for them all
            *sorted({rules.score.benchmark.format(**main, method=m, seed=s) for m, _, s in jobs}),
            *sorted({rules.select.benchmark.format(**main, method=m, fraction=f, seed=s) for m, f, s in jobs}),
            *sorted(
                {
                    rules.train_target.benchmark.format(**main, arch=a, method=m, fraction=f, seed=s)
                    for a in CFG["target"]["archs"]
                    for m, f, s in jobs
                }
            ),
        ],
        "subsets": [f"{OUT}/{paths.SUBSET}".format(**main, method=m, fraction=f, seed=s) for m, f, s in jobs],
        "splits": [f"{OUT}/{paths.SPLIT}".format(seed=s) for s in SEEDS],
        "proxy": proxy_outputs(),
    }


# every figure the report writes (PNG and SVG)
REPORT_FIGURES = paths.figure_files(CFG)


def report_figures(stems):
    return [f"{REPORT}/{stem}_{arch}.png" for arch in CFG["target"]["archs"] for stem in stems]
