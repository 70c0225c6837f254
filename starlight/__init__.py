"""starlight: do deep-network solutions form a star domain?

Subpackages by concern, in layers; each imports only from the layers below it:

1. `jobs`: one module per Snakemake rule, named as the rule (`train_star` runs `jobs/train_star.py`).
2. `pipeline` (config, params, fingerprints, the results layout, recovery) and `report` (tables, figures).
3. `training` (the SGD loop, the Starlight objective) and `measure` (BN, metrics, curves, barriers, ensembles).
4. `align` (weight matching), `models` (the zoo), `data` (the datasets), `io` (checkpoints, phase timing).

`slurm` holds what the SLURM executor plugin does not do; only the workflow and `pipeline.locks` import it, so no
job's code fingerprint covers it.
`tracking` (Weights & Biases, TensorBoard) is imported only by the workflow and the `publish` step, so no other
step's fingerprint covers it either.
"""
