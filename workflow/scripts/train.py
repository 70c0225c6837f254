from starlight.jobs.train import train_job
from starlight.runtime import setup_logging

setup_logging(snakemake.log[0])
train_job(snakemake.input.data, snakemake.params.cfg, snakemake.wildcards.role, int(snakemake.wildcards.seed),
          snakemake.output.checkpoint, snakemake.output.meta, snakemake.params.state, snakemake.threads)
