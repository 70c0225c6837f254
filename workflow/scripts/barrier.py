from starlight.jobs.barrier import barrier_job
from starlight.pipeline.runtime import setup_logging
from starlight.slurm.gpu_job import start_gpu_job

setup_logging(snakemake.log[0])
start_gpu_job(snakemake.rule, snakemake.params.cfg["device"], snakemake.config["allow_cpu_fallback"])
pairs = [(pair_type, model2, ckpt, stem) for (pair_type, model2), ckpt, stem
         in zip(snakemake.params.pairs, snakemake.input.models2, snakemake.params.stems, strict=True)]
barrier_job(snakemake.input.data, snakemake.params.cfg, snakemake.wildcards.model1, snakemake.input.model1, pairs,
            snakemake.output.batch, snakemake.threads)
