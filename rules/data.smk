rule prepare_data:
    output:
        directory(f"{OUT}/data"),
    log:
        f"{OUT}/logs/prepare_data.log",
    benchmark:
        f"{OUT}/benchmarks/prepare_data.tsv"
    conda:
        "../envs/prunebench.yaml"
    threads: 8  # image folders decode in parallel; capped by --cores (and the SLURM profile's set-threads)
    params:
        code=code("prepare_data", parts=[get_dataset(DATASET)]),
        dataset=CFG["dataset"],
    script:
        "../workflow_scripts/prepare_data.py"


rule make_split:
    input:
        data=f"{OUT}/data",
    output:
        f"{OUT}/split/seed{{seed}}.parquet",
    log:
        f"{OUT}/logs/make_split/seed{{seed}}.log",
    benchmark:
        f"{OUT}/benchmarks/make_split/seed{{seed}}.tsv"
    conda:
        "../envs/prunebench.yaml"
    params:
        code=code("make_split"),
        split=CFG["split"],
    script:
        "../workflow_scripts/make_split.py"
