from starlight.jobs.star import star_job
from starlight.runtime import setup_logging, start_gpu_job

setup_logging(snakemake.log[0])
start_gpu_job(snakemake.rule, snakemake.params.cfg["device"], snakemake.config["allow_cpu_fallback"])
star_job(snakemake.input.data, snakemake.params.cfg, f"star-{snakemake.wildcards.index}", list(snakemake.input.anchors),
         snakemake.output.checkpoint, snakemake.output.meta, snakemake.params.state, snakemake.threads)
