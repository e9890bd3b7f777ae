from prunebench import pipeline
from prunebench.runtime import run_step

run_step(pipeline.make_split, snakemake.log[0], snakemake.threads,
         data_dir=snakemake.input.data, split=snakemake.params.split,
         seed=int(snakemake.wildcards.seed), out=snakemake.output[0])
