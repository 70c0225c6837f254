"""The pipeline's machinery, between the Snakemake rules and the science: the experiment config and its sweeps
(`experiment`, `sweep`), the protocols several experiments share (`protocols`) and the keys that moved
(`migrate`), each rule's params and code fingerprint (`params`, `code`), the results layout (`paths`),
what every job shares (`job`, `runtime`), reuse and recovery of finished work (`memo`, `recovery`), pretrained
anchors (`pretrained`) and the lock against a second run (`locks`). Imports `training` and `measure`, never
`jobs` or `report`."""
