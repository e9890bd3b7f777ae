rule train_proxy:
    input:
        data=f"{OUT}/data",
        split=f"{OUT}/split/seed{{seed}}.parquet",
    output:
        train=f"{OUT}/proxy/seed{{seed}}/{TRAIN_FILE}",
        eval=f"{OUT}/proxy/seed{{seed}}/{EVAL_FILE}",
        model=f"{OUT}/proxy/seed{{seed}}/{MODEL_FILE}",
        snapshots=[f"{OUT}/proxy/seed{{seed}}/{snapshot_file(e)}" for e in PLAN.logged_snapshots],
    params:
        proxy=CFG["proxy"],
        device=CFG["device"],
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
    log:
        f"{OUT}/logs/train_proxy/seed{{seed}}.log",
    benchmark:
        f"{OUT}/benchmarks/train_proxy/seed{{seed}}.tsv"
    conda:
        "../envs/prunebench.yaml"
    script:
        "../workflow_scripts/train_proxy.py"
