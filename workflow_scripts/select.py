from prunebench import pipeline
from prunebench.runtime import run_step

splits = snakemake.input.get("splits")  # only samplers that read signals get them
run_step(pipeline.select_each, snakemake.log[0], snakemake.threads,
         scores_paths=list(snakemake.input.scores), fractions=snakemake.params.fractions, outs=list(snakemake.output),
         split_paths=list(splits) if splits else None, proxy_dirs=snakemake.params.proxy_dirs)
