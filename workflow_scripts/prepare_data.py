from prunebench import pipeline
from prunebench.runtime import run_step

run_step(pipeline.prepare_data, snakemake.log[0], snakemake.threads,
         dataset=snakemake.params.dataset, out_dir=snakemake.output[0], workers=snakemake.threads)
