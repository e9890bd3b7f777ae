rule score:
    input:
        unpack(proxy_inputs),
    output:
        f"{OUT}/{paths.SCORES}",
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
        method=lambda wildcards: method_spec(CFG, wildcards.method).name,
        method_params=lambda wildcards: method_params(CFG, wildcards.method),
        plan=lambda wildcards: PLANS[wildcards.proxy],
        proxy_dir=proxy_dir,
        device=CFG["device"],
    script:
        "../workflow_scripts/score.py"


# One job writes the subsets of every fraction of one method and seed (one process, one file per
# subset); full-only methods get the same rule with their one subset, fraction 1.0.
rule select:
    input:
        unpack(select_inputs),
    output:
        [f"{OUT}/{paths.fill(paths.SUBSET, fraction=f)}" for f in FRACTION_LABELS],
    log:
        f"{OUT}/{paths.log('select')}",
    benchmark:
        f"{OUT}/{paths.benchmark('select')}"
    wildcard_constraints:
        method=SUBSET_METHODS,
    conda:
        "../envs/prunebench.yaml"
    params:
        code=code("select", per_method=True),
        fractions=lambda wildcards: [float(f) for f in method_fractions(wildcards.method)],
        proxy_dir=proxy_dir,
    script:
        "../workflow_scripts/select.py"


use rule select as select_full with:
    output:
        f"{OUT}/{paths.fill(paths.SUBSET, fraction='1.0')}",
    wildcard_constraints:
        method=FULL_METHODS,
