rule train_target:
    input:
        data=f"{OUT}/data",
        subset=f"{OUT}/subsets/{{method}}/{{fraction}}/seed{{seed}}.parquet",
        split=f"{OUT}/split/seed{{seed}}.parquet",
    output:
        f"{OUT}/targets/{{arch}}/{{method}}/{{fraction}}/seed{{seed}}.json",
    log:
        f"{OUT}/{paths.log('train_target')}",
    benchmark:
        f"{OUT}/{paths.benchmark('train_target')}"
    conda:
        "../envs/prunebench.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=120,
    params:
        code=code("train_target"),
        target=CFG["target"],
        crop_size=CFG["dataset"]["crop_size"],
        device=CFG["device"],
        proxy_arch=CFG["proxy"]["arch"],
    script:
        "../workflow_scripts/train_target.py"
