# One job trains an architecture on a method's subsets at each fraction and seed it covers (job_scope:
# every seed and fraction, every fraction of one seed, or one subset), one training after another in
# one process (torch, the dataset and the device are set up once); one result file per subset.
# Full-only methods (one subset per seed, fraction 1.0) get the same rule with their outputs.
rule train_target:
    input:
        data=DATA_DIR,
        subsets=subset_files,
        splits=job_splits,
    output:
        job_files("train_target", f"{OUT}/{paths.TARGET}", FRACTION_LABELS),
    log:
        f"{OUT}/{paths.log('train_target', SCOPE)}",
    benchmark:
        f"{OUT}/{paths.benchmark('train_target', SCOPE)}"
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
        code=code("train_target", trains="arch"),
        target=TARGET_SETTINGS,
        crop_size=CFG["dataset"]["crop_size"],
        device=CFG["device"],
        proxy_arch=lambda wildcards: wildcards.proxy,
        seeds=job_seeds,
    script:
        "../workflow_scripts/train_target.py"


use rule train_target as train_target_full with:
    output:
        job_files("train_target", f"{OUT}/{paths.TARGET}", ["1.0"]),
    wildcard_constraints:
        method=FULL_METHODS,
    # the longest trainings (the whole pool) start first, so no core waits for them at the end
    priority: 5
