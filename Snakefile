# prunebench: coreset-selection benchmark.
# DAG: prepare_data -> make_split -> train_proxy -> score -> select -> train_target -> aggregate -> report
import os

from snakemake.utils import min_version

min_version("9.0")


configfile: os.path.join(workflow.basedir, "config.yaml")


# envs/prunebench.yaml installs this checkout by this absolute path (a relative one would point into .snakemake/)
os.environ["PRUNEBENCH_ROOT"] = workflow.basedir


envvars:
    "PRUNEBENCH_ROOT",


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/proxy.smk"
include: "rules/selection.smk"
include: "rules/target.smk"
include: "rules/report.smk"


report: "rules/captions/workflow.rst"


localrules:
    all,


rule all:
    default_target: True
    input:
        REPORT_HTML,
