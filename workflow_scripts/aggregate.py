from prunebench import pipeline
from prunebench.runtime import run_step

run_step(pipeline.aggregate, snakemake.log[0], snakemake.threads,
         result_paths=list(snakemake.input),
         parquet_out=snakemake.output.parquet, csv_out=snakemake.output.csv)
