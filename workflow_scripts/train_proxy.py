from prunebench import pipeline
from prunebench.runtime import run_step

run_step(pipeline.train_proxy, snakemake.log[0], snakemake.threads,
         data_dir=snakemake.input.data, split_path=snakemake.input.split,
         proxy=snakemake.params.proxy, seed=int(snakemake.wildcards.seed), device=snakemake.params.device,
         out_dir=snakemake.params.out_dir, repeat=int(snakemake.wildcards.get("repeat", 0)),
         crop_size=snakemake.params.crop_size)
