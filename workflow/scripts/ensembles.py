from pathlib import Path

from starlight.jobs.ensembles import ensembles_job
from starlight.pipeline.runtime import setup_logging

setup_logging(snakemake.log[0])
ensembles_job(snakemake.wildcards.exp, list(snakemake.input), snakemake.output.table,
                     str(Path(snakemake.output.figure[0]).parent))
