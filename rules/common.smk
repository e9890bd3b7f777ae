# Configuration, target lists and input functions shared by every rule.
import os
import re
import sys

from prunebench.config import ConfigError, method_labels, method_params, method_spec, proxy_plan, validate_config
from prunebench.datasets import get_dataset
from prunebench.methods import REGISTRY
from prunebench.models import ARCHS
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
PLAN = proxy_plan(CFG)
SPLIT = split_params(CFG["split"])  # what makes the split (the query-selection keys only for a biased query set)
# a fraction's label in paths is its repr: float(label) gives back the exact value
FRACTION_LABELS = [repr(float(f)) for f in CFG["fractions"]]
REPORT_HTML = f"{OUT}/report/index.html"
# what a {method} wildcard may be: a registry name or a configured variant's label
METHODS = list(dict.fromkeys([*REGISTRY, *method_labels(CFG)]))


wildcard_constraints:
    seed=r"\d+",
    method="|".join(map(re.escape, METHODS)),
    fraction="|".join(re.escape(label) for label in [*FRACTION_LABELS, "1.0"]),
    arch="|".join(map(re.escape, ARCHS)),
    repeat=r"[1-9]\d*",


def code(step, per_method=False, parts=(), arch=None):
    """The library code a rule's step runs, as a param: when it changes, Snakemake's params trigger reruns the
    rule. Per method, only that method's modules count (and the step's own), not the other methods'; `parts`:
    the dataset entry the step uses, `arch` the architecture it trains (a plugin's code counts too)."""
    if per_method:
        return lambda wildcards: step_code(
            step, method_spec(CFG, wildcards.method).name, method_params(CFG, wildcards.method)
        )
    return step_code(step, parts=parts, arch=arch)


def score_gpus(wildcards):
    """A GPU for the score jobs of methods that run the proxy model (DeepFool, SloCurv, BoundarySet-CCS, GraNd's
    full form): those that read its weights. On a machine without one the job runs on the CPU all the same."""
    method = method_spec(CFG, wildcards.method)
    return int(method.needs_images(method_params(CFG, wildcards.method), PLAN))


def method_fractions(method):
    return ["1.0"] if method_spec(CFG, method).full_only else FRACTION_LABELS


# select and train_target run every fraction of a method in one job; full-only methods have one
# (rules select_full, train_target_full), so the two rules split the methods by these patterns
FULL_METHODS = "|".join(m for m in METHODS if method_spec(CFG, m).full_only)
SUBSET_METHODS = "|".join(m for m in METHODS if not method_spec(CFG, m).full_only)


def subset_files(method, seed):
    return [f"{OUT}/subsets/{method}/{f}/seed{seed}.parquet" for f in method_fractions(method)]


def target_results():
    return [
        f"{OUT}/targets/{arch}/{method}/{fraction}/seed{seed}.json"
        for arch in CFG["target"]["archs"]
        for method in method_labels(CFG)
        for fraction in method_fractions(method)
        for seed in CFG["seeds"]
    ]


def proxy_dir(wildcards):
    return f"{OUT}/proxy/seed{wildcards.seed}"


def proxy_inputs(wildcards):
    """The split, plus only the proxy outputs this method reads (none for label-only methods)."""
    method = method_spec(CFG, wildcards.method)
    params = method_params(CFG, wildcards.method)
    files = method.proxy_files(params, PLAN)
    inputs = {
        "split": f"{OUT}/split/seed{wildcards.seed}.parquet",
        "proxy": [f"{proxy_dir(wildcards)}/{name}" for name in files],
    }
    if method.needs_images(params, PLAN):
        inputs["data"] = f"{OUT}/data"
    return inputs


def select_inputs(wildcards):
    """The score table; a sampler that reads signals at selection time also gets the proxy's outputs."""
    inputs = {"scores": f"{OUT}/scores/{wildcards.method}/seed{wildcards.seed}.parquet"}
    if method_spec(CFG, wildcards.method).subset_reads_signals:
        inputs.update(proxy_inputs(wildcards))
    return inputs


# ---- the report's inputs and outputs (rules/report.smk)


def subset_jobs():
    """(method, fraction label, seed) of every configured subset."""
    return [(m, f, s) for m in method_labels(CFG) for f in method_fractions(m) for s in CFG["seeds"]]


def proxy_file_names():
    """Names (below proxy/seed<N>/) of the proxy outputs the configured methods read."""
    return sorted({n for m in method_labels(CFG) for n in method_spec(CFG, m).proxy_files(method_params(CFG, m), PLAN)})


def proxy_outputs():
    """The proxy outputs the configured methods read (their sizes are the report's "bytes of signals")."""
    return [f"{OUT}/proxy/seed{s}/{name}" for s in CFG["seeds"] for name in proxy_file_names()]


def proxy_benchmarks():
    """Benchmark files of the proxy runs the configured methods read: the main run, and repeats."""
    names = proxy_file_names()
    if not names:
        return []
    repeats = sorted({int(r) for n in names for r in re.findall(r"(?:^|/)repeat(\d+)/", n)})
    return [
        *expand(rules.train_proxy.benchmark, seed=CFG["seeds"]),
        *expand(rules.train_proxy_repeat.benchmark, seed=CFG["seeds"], repeat=repeats),
    ]


def report_inputs(wildcards):
    """Results, the benchmark files of every configured proxy/score/select/target job, subsets, splits, proxy outputs."""
    jobs = subset_jobs()
    return {
        "results": f"{OUT}/results.parquet",
        "benchmarks": [
            *proxy_benchmarks(),
            *sorted({rules.score.benchmark.format(method=m, seed=s) for m, _, s in jobs}),
            *sorted({rules.select.benchmark.format(method=m, seed=s) for m, _, s in jobs}),
            *sorted(
                {
                    rules.train_target.benchmark.format(arch=a, method=m, seed=s)
                    for a in CFG["target"]["archs"]
                    for m, _, s in jobs
                }
            ),
        ],
        "subsets": [f"{OUT}/subsets/{m}/{f}/seed{s}.parquet" for m, f, s in jobs],
        "splits": [f"{OUT}/split/seed{s}.parquet" for s in CFG["seeds"]],
        "proxy": proxy_outputs(),
    }


# every figure the report writes (PNG and SVG)
REPORT_FIGURES = paths.figure_files(CFG)


def report_figures(stems):
    return [f"{OUT}/report/{stem}_{arch}.png" for arch in CFG["target"]["archs"] for stem in stems]
