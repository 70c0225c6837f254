from starlight.jobs.barrier import barrier_job
from starlight.runtime import setup_logging, start_gpu_job

setup_logging(snakemake.log[0])
start_gpu_job(snakemake.rule, snakemake.params.cfg["device"], snakemake.config["allow_cpu_fallback"])
w = snakemake.wildcards
barrier_job(snakemake.input.data, snakemake.params.cfg, w.pair_type, w.model1, w.model2, snakemake.input.model1,
            snakemake.input.model2, snakemake.output.curve, snakemake.output.barriers, snakemake.threads)
