# Configuration, target lists and input functions shared by every rule.
import sys

from prunebench.config import ConfigError, method_params, proxy_plan, validate_config
from prunebench.methods import REGISTRY, get_method
from prunebench.models import ARCHS

try:
    CFG = validate_config(config)
except ConfigError as err:
    # one line, before any job runs or any output is written
    sys.exit(str(err))

DATASET = CFG["dataset"]["name"]
OUT = f"results/{DATASET}"
PLAN = proxy_plan(CFG)
SNAPSHOT_EPOCHS = sorted(set(PLAN.snapshot_epochs) | {PLAN.epochs})
REPORT_HTML = f"{OUT}/report/index.html"


wildcard_constraints:
    seed=r"\d+",
    method="|".join(REGISTRY),
    fraction=r"(0\.\d+|1)",
    arch="|".join(ARCHS),


def fraction_label(fraction):
    """Canonical text of a fraction in paths: 0.05, 0.5, 1."""
    return f"{fraction:g}"


def method_fractions(method):
    return ["1"] if get_method(method).full_only else [fraction_label(f) for f in CFG["fractions"]]


def target_results():
    return [
        f"{OUT}/targets/{arch}/{method}/{fraction}/seed{seed}.json"
        for arch in CFG["target"]["archs"]
        for method in CFG["methods"]
        for fraction in method_fractions(method)
        for seed in CFG["seeds"]
    ]


def score_inputs(wildcards):
    """The split, plus only the proxy outputs this method reads (none for label-only methods)."""
    method = get_method(wildcards.method)
    files = method.proxy_files(method_params(CFG, wildcards.method), PLAN)
    return {
        "split": f"{OUT}/split/seed{wildcards.seed}.parquet",
        "proxy": [f"{OUT}/proxy/seed{wildcards.seed}/{name}" for name in files],
    }
