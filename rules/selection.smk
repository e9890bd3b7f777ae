rule score:
    input:
        unpack(proxy_inputs),
    output:
        f"{OUT}/scores/{{method}}/seed{{seed}}.parquet",
    log:
        f"{OUT}/{paths.log('score')}",
    benchmark:
        f"{OUT}/{paths.benchmark('score')}"
    conda:
        "../envs/prunebench.yaml"
    resources:
        gpu=score_gpus,  # methods that run the proxy model; the profiles give the training rules theirs
    params:
        code=code("score", per_method=True),
        method_params=lambda wildcards: method_params(CFG, wildcards.method),
        plan=PLAN,
        proxy_dir=proxy_dir,
        device=CFG["device"],
    script:
        "../workflow_scripts/score.py"


rule select:
    input:
        unpack(select_inputs),
    output:
        f"{OUT}/subsets/{{method}}/{{fraction}}/seed{{seed}}.parquet",
    log:
        f"{OUT}/{paths.log('select')}",
    benchmark:
        f"{OUT}/{paths.benchmark('select')}"
    conda:
        "../envs/prunebench.yaml"
    params:
        code=code("select", per_method=True),
        proxy_dir=proxy_dir,
    script:
        "../workflow_scripts/select.py"
