rule train_proxy:
    input:
        data=f"{OUT}/data",
        split=f"{OUT}/split/seed{{seed}}.parquet",
    output:
        train=f"{OUT}/proxy/seed{{seed}}/{TRAIN_FILE}",
        eval=f"{OUT}/proxy/seed{{seed}}/{EVAL_FILE}",
        snapshots=[f"{OUT}/proxy/seed{{seed}}/{snapshot_file(e)}" for e in PLAN.logged_snapshots],
        models=[f"{OUT}/proxy/seed{{seed}}/{model_file(e)}" for e in PLAN.logged_snapshots],
    log:
        f"{OUT}/{paths.log('train_proxy')}",
    benchmark:
        f"{OUT}/{paths.benchmark('train_proxy')}"
    conda:
        "../envs/prunebench.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        code=code("train_proxy", arch=CFG["proxy"]["arch"]),
        proxy=CFG["proxy"],
        crop_size=CFG["dataset"]["crop_size"],
        device=CFG["device"],
        out_dir=lambda wildcards: f"{OUT}/proxy/seed{wildcards.seed}",
    script:
        "../workflow_scripts/train_proxy.py"


# independent short proxy runs (their own initialisation) for methods averaged over runs: EL2N, GraNd
use rule train_proxy as train_proxy_repeat with:
    output:
        snapshots=[f"{OUT}/proxy/seed{{seed}}/repeat{{repeat}}/{snapshot_file(e)}" for e in PLAN.snapshot_epochs],
        models=[f"{OUT}/proxy/seed{{seed}}/repeat{{repeat}}/{model_file(e)}" for e in PLAN.snapshot_epochs],
    log:
        f"{OUT}/{paths.log('train_proxy_repeat')}",
    benchmark:
        f"{OUT}/{paths.benchmark('train_proxy_repeat')}"
