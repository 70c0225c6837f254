"""One module per pipeline step. Workflow scripts only unpack `snakemake` and call these, so every step runs
(and is tested) without Snakemake too. Each step imports only what it runs, which is what lets a step's code
fingerprint (starlight.pipeline.code) change exactly when the code it runs changes."""
