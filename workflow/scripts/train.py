from starlight.jobs.train import train_job
from starlight.pipeline.params import run_options
from starlight.pipeline.runtime import setup_logging
from starlight.slurm.gpu_job import start_gpu_job
from starlight.tracking import live

setup_logging(snakemake.log[0])
start_gpu_job(snakemake.rule, snakemake.params.cfg["device"], snakemake.config["allow_cpu_fallback"])
w = snakemake.wildcards
options = run_options(snakemake.config, w.exp, "train")
# Tracking comes from the config, not the params: turning it on or off reruns nothing (docs/tracking.md).
with live(snakemake.config.get("tracking"), exp=w.exp, model=f"{w.role}-{w.seed}", role=w.role,
          config=snakemake.params.cfg) as on_epoch:
    train_job(snakemake.input.data, snakemake.params.cfg, w.role, int(w.seed), snakemake.output.checkpoint,
              snakemake.output.meta, snakemake.params.state, snakemake.threads, options["checkpoint_every"],
              on_epoch)
