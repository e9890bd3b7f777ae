from prunebench import pipeline
from prunebench.runtime import run_step

run_step(pipeline.score, snakemake.log[0], snakemake.threads,
         method=snakemake.params.method, label=snakemake.wildcards.method, params=snakemake.params.method_params,
         plan=snakemake.params.plan, split_path=snakemake.input.split, proxy_dir=snakemake.params.proxy_dir,
         seed=int(snakemake.wildcards.seed), out=snakemake.output[0], data_dir=snakemake.input.get("data"),
         device=snakemake.params.device)
