"""starlight: do deep-network solutions form a star domain?

Modules, one idea each: data (Fashion-MNIST, splits), models (MLP, CNN), train (the SGD loop with
resumable state), star (the Starlight objective), align (weight matching via rebasin, BN buffers
included), bn (BN statistics), barrier (curves and barriers), metrics, checkpoint (atomic, weights-only
I/O), experiment (what a config implies), aggregate and plots (tables and figures), jobs (one function
per pipeline step), runtime (device, threads, seeds, logging), locks (stale Snakemake locks).
"""
