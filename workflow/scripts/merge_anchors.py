from starlight.jobs.merge_anchors import merge_anchors_job
from starlight.pipeline.runtime import setup_logging
from starlight.slurm.gpu_job import start_gpu_job

setup_logging(snakemake.log[0])
start_gpu_job(snakemake.rule, snakemake.params.cfg["device"], snakemake.config["allow_cpu_fallback"])
merge_anchors_job(snakemake.input.data, snakemake.params.cfg, f"merged-k{snakemake.wildcards.k}",
                  list(snakemake.input.anchors), snakemake.output.checkpoint, snakemake.output.meta,
                  snakemake.threads)
