from pathlib import Path

from starlight.jobs.ensembles import gather_ensembles_job
from starlight.runtime import setup_logging

setup_logging(snakemake.log[0])
gather_ensembles_job(snakemake.wildcards.exp, list(snakemake.input), snakemake.output.table,
                     str(Path(snakemake.output.figure[0]).parent))
