# Starlight: is there one "star" model linearly connected, after permutation alignment, to every solution?
# The rules live in workflow/rules/, their scripts in workflow/scripts/, all logic in the starlight package.


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/controls.smk"
include: "workflow/rules/barrier.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/ensembles.smk"
include: "workflow/rules/tracking.smk"


# Light rules run where snakemake runs, also under --profile profiles/slurm.
localrules:
    all,
    stage_data,
    prepare_data,
    aggregate,
    figures,
    costs,
    sweep,
    ensembles,
    experiment_config,
    publish,


rule all:
    default_target: True
    input:
        all_outputs(),


# Checks before submitting, job names, failure report for SLURM runs: after the rules, which it checks.
include: "workflow/rules/slurm.smk"
