from pathlib import Path

from starlight.jobs.figures import figures_job
from starlight.pipeline.runtime import setup_logging

setup_logging(snakemake.log[0])
figures_job(snakemake.wildcards.exp, snakemake.input.barriers, snakemake.input.curves,
            str(Path(snakemake.output[0]).parent))
