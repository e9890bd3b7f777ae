from prunebench import pipeline
from prunebench.runtime import run_step

run_step(pipeline.select_each, snakemake.log[0], snakemake.threads,
         scores_path=snakemake.input.scores, fractions=snakemake.params.fractions, outs=list(snakemake.output),
         split_path=snakemake.input.get("split"), proxy_dir=snakemake.params.proxy_dir)
