# One job trains an architecture on every fraction of one method and seed, one training after
# another in one process (torch, the dataset and the device are set up once); one result file per
# subset. Full-only methods (one subset, fraction 1.0) get the same rule with their one output.
rule train_target:
    input:
        data=f"{OUT}/data",
        subsets=lambda wildcards: subset_files(wildcards.method, wildcards.seed),
        split=f"{OUT}/split/seed{{seed}}.parquet",
    output:
        [f"{OUT}/targets/{{arch}}/{{method}}/{f}/seed{{seed}}.json" for f in FRACTION_LABELS],
    log:
        f"{OUT}/{paths.log('train_target')}",
    benchmark:
        f"{OUT}/{paths.benchmark('train_target')}"
    wildcard_constraints:
        method=SUBSET_METHODS,
    conda:
        "../envs/prunebench.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=120,
        packing=1,  # trainings at once, each on its own process (profiles/slurm packs small ones on a GPU)
    params:
        code=lambda wildcards: step_code("train_target", arch=wildcards.arch),
        target=CFG["target"],
        crop_size=CFG["dataset"]["crop_size"],
        device=CFG["device"],
        proxy_arch=CFG["proxy"]["arch"],
    script:
        "../workflow_scripts/train_target.py"


use rule train_target as train_target_full with:
    output:
        f"{OUT}/targets/{{arch}}/{{method}}/1.0/seed{{seed}}.json",
    wildcard_constraints:
        method=FULL_METHODS,
