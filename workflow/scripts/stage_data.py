from starlight.jobs.data import stage_data
from starlight.runtime import setup_logging

setup_logging(snakemake.log[0])
stage_data(snakemake.output[0], snakemake.wildcards.dataset, snakemake.params.data_root,
           snakemake.params.allow_download)
