from starlight.jobs.costs import costs_job
from starlight.runtime import setup_logging

setup_logging(snakemake.log[0])
costs_job(snakemake.params.results, snakemake.output[0])
