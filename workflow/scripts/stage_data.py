from starlight.jobs.stage_data import stage_data_job
from starlight.pipeline.runtime import setup_logging

setup_logging(snakemake.log[0])
stage_data_job(snakemake.output[0], snakemake.wildcards.dataset, snakemake.params.data_root,
           snakemake.params.allow_download)
