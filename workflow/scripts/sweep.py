from starlight.jobs.sweep import sweep_job
from starlight.pipeline.runtime import setup_logging

setup_logging(snakemake.log[0])
sweep_job(snakemake.wildcards.sweep, snakemake.params.variants, list(snakemake.input.barriers),
          snakemake.params.paper, snakemake.output.table, snakemake.output.markdown, snakemake.output.figures,
          snakemake.params.bootstrap)
