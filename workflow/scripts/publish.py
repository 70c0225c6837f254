import os
from pathlib import Path

from starlight.jobs.publish import publish_job
from starlight.pipeline.runtime import setup_logging

setup_logging(snakemake.log[0])
# The tracking section comes from the config, not the params: it is in no rule's params, so it reruns nothing.
# The report is built by `snakemake --report` with this workflow's Snakefile, two folders up from this script
# (scriptdir is `workflow/rules/../scripts`).
publish_job(snakemake.config, snakemake.wildcards.sweep, list(snakemake.params.variants), *snakemake.output,
            snakefile=Path(os.path.normpath(snakemake.scriptdir)).parents[1] / "Snakefile")
