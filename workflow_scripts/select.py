from prunebench import pipeline
from prunebench.runtime import run_step

run_step(pipeline.select, snakemake.log[0], snakemake.threads, plugins=snakemake.config.get("plugins", []),
         scores_path=snakemake.input.scores, fraction=float(snakemake.wildcards.fraction), out=snakemake.output[0],
         split_path=snakemake.input.get("split"), proxy_dir=snakemake.params.proxy_dir)
