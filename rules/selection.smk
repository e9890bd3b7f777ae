# One job scores a method on each of its seeds (job_scope: every seed, or one): one table per seed.
rule score:
    input:
        unpack(proxy_inputs),
    output:
        job_files("score", f"{OUT}/{paths.SCORES}"),
    log:
        f"{OUT}/{paths.log('score', SCOPE)}",
    benchmark:
        f"{OUT}/{paths.benchmark('score', SCOPE)}"
    # scoring and selection before target trainings (below the proxy runs): left to the scheduler, a
    # long score job (CRAIG's) could start last and hold its branch's target job past the others
    priority: 5
    conda:
        "../envs/prunebench.yaml"
    resources:
        gpu=score_gpus,  # methods that run the proxy model; the profiles give the training rules theirs
    params:
        code=code("score", per_method=True),
        method=lambda wildcards: method_spec(CFG, wildcards.method).name,
        method_params=lambda wildcards: method_params(CFG, wildcards.method),
        plan=lambda wildcards: PLANS[wildcards.proxy],
        seeds=job_seeds,
        proxy_dirs=proxy_dirs,
        device=CFG["device"],
    script:
        "../workflow_scripts/score.py"


# One job writes a method's subsets at each fraction and seed it covers (job_scope: every seed and
# fraction, every fraction of one seed, or one subset), one file each; full-only methods get the same
# rule with their one subset per seed, fraction 1.0.
rule select:
    input:
        unpack(select_inputs),
    output:
        job_files("select", f"{OUT}/{paths.SUBSET}", FRACTION_LABELS),
    log:
        f"{OUT}/{paths.log('select', SCOPE)}",
    benchmark:
        f"{OUT}/{paths.benchmark('select', SCOPE)}"
    wildcard_constraints:
        method=SUBSET_METHODS,
    priority: 5  # as score's
    conda:
        "../envs/prunebench.yaml"
    params:
        code=code("select", per_method=True),
        fractions=lambda wildcards: [float(f) for f in job_fractions(wildcards)],
        proxy_dirs=proxy_dirs,
    script:
        "../workflow_scripts/select.py"


use rule select as select_full with:
    output:
        job_files("select", f"{OUT}/{paths.SUBSET}", ["1.0"]),
    wildcard_constraints:
        method=FULL_METHODS,
