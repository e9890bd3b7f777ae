rule prepare_data:
    output:
        directory(DATA_DIR),
    log:
        paths.data_file(CFG, paths.log("prepare_data")),
    benchmark:
        paths.data_file(CFG, paths.benchmark("prepare_data"))
    conda:
        "../envs/prunebench.yaml"
    threads: 8  # image folders decode in parallel; capped by --cores (and the SLURM profile's set-threads)
    params:
        code=code("prepare_data", parts=[get_dataset(DATASET)]),
        # what decoding uses: crop_size is the training view (the training rules' param), not the store's
        dataset=paths.data_settings(CFG["dataset"]),
    script:
        "../workflow_scripts/prepare_data.py"


rule make_split:
    input:
        data=DATA_DIR,
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
