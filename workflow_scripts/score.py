from pathlib import Path

from prunebench import pipeline
from prunebench.runtime import run_step

proxy_dir = Path(snakemake.input.proxy[0]).parent if snakemake.input.get("proxy") else None
run_step(pipeline.score, snakemake.log[0], snakemake.threads,
         method=snakemake.wildcards.method, params=snakemake.params.method_params,
         plan=snakemake.params.plan, split_path=snakemake.input.split, proxy_dir=proxy_dir,
         seed=int(snakemake.wildcards.seed), out=snakemake.output[0])
