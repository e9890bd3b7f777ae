rule prepare_data:
    output:
        directory(f"{OUT}/{paths.DATA}"),
    log:
        f"{OUT}/{paths.log('prepare_data')}",
    benchmark:
        f"{OUT}/{paths.benchmark('prepare_data')}"
    conda:
        "../envs/prunebench.yaml"
    threads: 8  # image folders decode in parallel; capped by --cores (and the SLURM profile's set-threads)
    params:
        code=code("prepare_data", parts=[get_dataset(DATASET)]),
        # what decoding uses: crop_size is the training view (the training rules' param), not the store's
        dataset={k: v for k, v in CFG["dataset"].items() if k != "crop_size"},
    script:
        "../workflow_scripts/prepare_data.py"


rule make_split:
    input:
        data=f"{OUT}/{paths.DATA}",
        scores=[SPLIT["query_scores"]] if "query_scores" in SPLIT else [],  # a biased query set's score file
    output:
        f"{OUT}/{paths.SPLIT}",
    log:
        f"{OUT}/{paths.log('make_split')}",
    benchmark:
        f"{OUT}/{paths.benchmark('make_split')}"
    conda:
        "../envs/prunebench.yaml"
    params:
        code=code("make_split"),
        split=SPLIT,
    script:
        "../workflow_scripts/make_split.py"
