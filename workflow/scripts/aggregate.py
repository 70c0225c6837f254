from starlight.jobs.aggregate import aggregate_job
from starlight.pipeline.runtime import setup_logging

setup_logging(snakemake.log[0])
aggregate_job(snakemake.wildcards.exp, list(snakemake.params.barriers), list(snakemake.params.curves),
              snakemake.output.barriers, snakemake.output.curves, snakemake.output.summary,
              snakemake.params.star_columns)
