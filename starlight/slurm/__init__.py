"""Running the workflow's jobs on a SLURM cluster: what Snakemake's SLURM plugin does not check or say.

Modules: queries (squeue, scontrol, sinfo, the job-completion log), guard (jobs of an earlier run still queued or
running), preflight (limits and partitions checked before submitting), names (jobs named by rule and wildcards),
report (what went wrong with failed jobs), pacing (how soon a finished job is noticed), kept_logs (the SLURM logs of the last runs).
"""
