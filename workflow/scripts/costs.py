from starlight.jobs.costs import costs_job
from starlight.pipeline.runtime import setup_logging

setup_logging(snakemake.log[0])
costs_job(snakemake.params.benchmarks, snakemake.params.logs, snakemake.output[0])
