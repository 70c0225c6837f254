from pathlib import Path

from starlight.jobs.ensemble import ensemble_job
from starlight.pipeline.runtime import setup_logging
from starlight.slurm.gpu_job import start_gpu_job

setup_logging(snakemake.log[0])
start_gpu_job(snakemake.rule, snakemake.params.cfg["device"], snakemake.config["allow_cpu_fallback"])
anchors = list(snakemake.input.anchors)
ensemble_job(snakemake.input.data, snakemake.params.cfg, snakemake.wildcards.star, snakemake.input.star,
             [Path(p).stem for p in anchors], anchors, snakemake.output[0], snakemake.threads)
