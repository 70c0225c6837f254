from starlight.jobs.prepare_data import prepare_data_job
from starlight.pipeline.runtime import setup_logging

setup_logging(snakemake.log[0])
prepare_data_job(snakemake.input[0], snakemake.output[0], snakemake.wildcards.dataset)
