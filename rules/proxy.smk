rule train_proxy:
    input:
        data=f"{OUT}/data",
        split=f"{OUT}/split/seed{{seed}}.parquet",
    output:
        train=f"{OUT}/proxy/seed{{seed}}/dynamics_train.parquet",
        eval=f"{OUT}/proxy/seed{{seed}}/dynamics_eval.parquet",
        model=f"{OUT}/proxy/seed{{seed}}/model.pt",
        snapshots=expand(f"{OUT}/proxy/seed{{{{seed}}}}/snapshot_epoch{{epoch}}.parquet", epoch=SNAPSHOT_EPOCHS),
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
