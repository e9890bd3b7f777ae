from prunebench import pipeline
from prunebench.runtime import run_step

run_step(pipeline.train_targets, snakemake.log[0], snakemake.threads,
         data_dir=snakemake.input.data, subset_paths=list(snakemake.input.subsets),
         split_paths=list(snakemake.input.splits), seeds=snakemake.params.seeds, target=snakemake.params.target,
         arch=snakemake.wildcards.arch, device=snakemake.params.device, proxy_arch=snakemake.params.proxy_arch,
         outs=list(snakemake.output), packing=int(snakemake.resources.packing), crop_size=snakemake.params.crop_size)
