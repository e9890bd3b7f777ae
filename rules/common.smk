# Configuration, target lists and input functions shared by every rule.
import re
import sys

from prunebench.config import ConfigError, method_params, proxy_plan, validate_config
from prunebench.methods import REGISTRY, get_method
from prunebench.models import ARCHS
from prunebench.signals import EVAL_FILE, TRAIN_FILE, model_file, snapshot_file

try:
    CFG = validate_config(config)
except ConfigError as err:
    # one line, before any job runs or any output is written
    sys.exit(str(err))

DATASET = CFG["dataset"]["name"]
OUT = f"results/{DATASET}"
PLAN = proxy_plan(CFG)
# a fraction's label in paths is its repr: float(label) gives back the exact value
FRACTION_LABELS = [repr(float(f)) for f in CFG["fractions"]]
REPORT_HTML = f"{OUT}/report/index.html"


wildcard_constraints:
    seed=r"\d+",
    method="|".join(REGISTRY),
    fraction="|".join(re.escape(label) for label in [*FRACTION_LABELS, "1.0"]),
    arch="|".join(ARCHS),
    repeat=r"[1-9]\d*",


def method_fractions(method):
    return ["1.0"] if get_method(method).full_only else FRACTION_LABELS


def target_results():
    return [
        f"{OUT}/targets/{arch}/{method}/{fraction}/seed{seed}.json"
        for arch in CFG["target"]["archs"]
        for method in CFG["methods"]
        for fraction in method_fractions(method)
        for seed in CFG["seeds"]
    ]


def proxy_dir(wildcards):
    return f"{OUT}/proxy/seed{wildcards.seed}"


def proxy_inputs(wildcards):
    """The split, plus only the proxy outputs this method reads (none for label-only methods)."""
    method = get_method(wildcards.method)
    files = method.proxy_files(method_params(CFG, wildcards.method), PLAN)
    inputs = {
        "split": f"{OUT}/split/seed{wildcards.seed}.parquet",
        "proxy": [f"{proxy_dir(wildcards)}/{name}" for name in files],
    }
    if method.needs_images:
        inputs["data"] = f"{OUT}/data"
    return inputs


def select_inputs(wildcards):
    """The score table; a sampler that reads signals at selection time also gets the proxy's outputs."""
    inputs = {"scores": f"{OUT}/scores/{wildcards.method}/seed{wildcards.seed}.parquet"}
    if get_method(wildcards.method).subset_reads_signals:
        inputs.update(proxy_inputs(wildcards))
    return inputs
