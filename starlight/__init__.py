"""starlight: do deep-network solutions form a star domain?

Modules, one idea each. Subpackages with a plain registry dict: models (one file per architecture),
data (one file per source format; spec, splits), align (weight matching), jobs (one module per pipeline
step). Modules: train (the SGD loop with resumable state), star (the Starlight objective), bn (BN
statistics), barrier (curves and barriers), metrics, checkpoint (atomic, weights-only I/O), experiment
(what a config implies), aggregate and plots (tables and figures), runtime (device, threads, seeds,
logging), locks (stale Snakemake locks), slurm (checks, job names and failure reports around SLURM jobs).
"""
