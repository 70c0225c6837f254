from starlight.jobs.experiment_config import experiment_config_job
from starlight.pipeline.runtime import setup_logging

setup_logging(snakemake.log[0])
experiment_config_job(snakemake.wildcards.sweep, snakemake.params.experiment, snakemake.output[0])
