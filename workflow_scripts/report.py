from pathlib import Path

from prunebench import pipeline
from prunebench.runtime import run_step

run_step(pipeline.report, snakemake.log[0], snakemake.threads,
         results_path=snakemake.input.results, out_dir=Path(snakemake.output.html).parent,
         config=snakemake.params.config, benchmarks=list(snakemake.input.benchmarks),
         subsets=list(snakemake.input.subsets), splits=list(snakemake.input.splits),
         proxy_runs=snakemake.params.proxy_runs)
