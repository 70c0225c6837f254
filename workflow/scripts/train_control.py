from starlight.jobs.train_control import train_control_job
from starlight.pipeline.runtime import setup_logging
from starlight.slurm.gpu_job import start_gpu_job

setup_logging(snakemake.log[0])
start_gpu_job(snakemake.rule, snakemake.params.cfg["device"], snakemake.config["allow_cpu_fallback"])
train_control_job(snakemake.input.data, snakemake.params.cfg, snakemake.wildcards.control, snakemake.input.star,
                  snakemake.output.checkpoint, snakemake.output.meta, snakemake.params.state, snakemake.threads)
