from starlight.jobs.publish import publish_job
from starlight.pipeline.runtime import setup_logging

setup_logging(snakemake.log[0])
# The tracking section comes from the config, not the params: it is in no rule's params, so it reruns nothing.
publish_job(snakemake.config["tracking"], snakemake.wildcards.sweep, list(snakemake.params.variants),
            snakemake.output[0])
