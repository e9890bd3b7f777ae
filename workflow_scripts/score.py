from prunebench import pipeline
from prunebench.runtime import run_step

run_step(pipeline.score_each, snakemake.log[0], snakemake.threads,
         method=snakemake.params.method, label=snakemake.wildcards.method, params=snakemake.params.method_params,
         plan=snakemake.params.plan, seeds=snakemake.params.seeds, split_paths=list(snakemake.input.splits),
         proxy_dirs=snakemake.params.proxy_dirs, outs=list(snakemake.output), data_dir=snakemake.input.get("data"),
         device=snakemake.params.device)
