from starlight.jobs.barrier import barrier_job
from starlight.runtime import setup_logging

setup_logging(snakemake.log[0])
w = snakemake.wildcards
barrier_job(snakemake.input.data, snakemake.params.cfg, w.pair_type, w.model1, w.model2, snakemake.input.model1,
            snakemake.input.model2, snakemake.output.curve, snakemake.output.barriers, snakemake.threads)
