from starlight.jobs.data import prepare_data
from starlight.runtime import setup_logging

setup_logging(snakemake.log[0])
prepare_data(snakemake.input[0], snakemake.output[0], snakemake.wildcards.dataset)
