from starlight.jobs.train import train_job
from starlight.runtime import setup_logging, start_gpu_job

setup_logging(snakemake.log[0])
start_gpu_job(snakemake.rule, snakemake.params.cfg["device"], snakemake.config["allow_cpu_fallback"])
train_job(snakemake.input.data, snakemake.params.cfg, snakemake.wildcards.role, int(snakemake.wildcards.seed),
          snakemake.output.checkpoint, snakemake.output.meta, snakemake.params.state, snakemake.threads)
