from starlight.jobs.train import train_job
from starlight.params import run_options
from starlight.runtime import setup_logging

setup_logging(snakemake.log[0])
w = snakemake.wildcards
options = run_options(snakemake.config, w.exp, "train")
train_job(snakemake.input.data, snakemake.params.cfg, w.role, int(w.seed), snakemake.output.checkpoint,
          snakemake.output.meta, snakemake.params.state, snakemake.threads, options["checkpoint_every"])
