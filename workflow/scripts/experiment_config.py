from starlight.jobs.sweep import config_job
from starlight.runtime import setup_logging

setup_logging(snakemake.log[0])
config_job(snakemake.wildcards.sweep, snakemake.params.experiment, snakemake.output[0])
