import copy
import re
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

from starlight.pipeline import experiment as xp
from starlight.pipeline import migrate, params, paths, pretrained, protocols
from starlight.pipeline import recovery, sweep
from starlight.data import DATASETS, DataError, data_input, data_settings, root_for
from starlight.pipeline.locks import EarlierJobsRunning, prepare_rerun
from starlight.tracking import settings as tracking_settings

min_version("9.0")


# A --configfile replaces the default experiments instead of merging into them.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


def stop(message):
    """End the run before any job with `message` as it is: a refusal or a bad input, not a crash, so no
    traceback and no `WorkflowError in file ...` line; the exit status is 1."""
    logger.error(message)
    sys.exit(1)


def _as_given(path):
    """A config file's path as a command gives it: relative to the working directory when
    inside it (snakemake hands the workflow absolute paths)."""
    path, here = Path(path), Path.cwd()
    return str(path.relative_to(here)) if path.is_relative_to(here) else str(path)


def _expanded_config():
    """The config as given, its moved keys refused (starlight/pipeline/migrate.py) and its
    protocols applied (starlight/pipeline/protocols.py), before the schema, which knows
    neither."""
    moved = migrate.message(config)
    if moved:
        stop(moved)
    try:
        return protocols.expand(
            config,
            Path(workflow.basedir) / "config",
            [_as_given(path) for path in workflow.overwrite_configfiles],
        )
    except protocols.ProtocolError as err:
        stop(f"invalid config: {err}")


# In place: the rules' scripts read the same dict.
_EXPANDED = _expanded_config()
config.clear()
config.update(_EXPANDED)
validate(config, "../schemas/config.schema.yaml")

# Tracking that cannot work (its package missing, W&B online without credentials) stops the run before any job.
TRACKING_PROBLEMS = tracking_settings.problems(config["tracking"])
if TRACKING_PROBLEMS:
    stop("invalid config: " + "\n".join(TRACKING_PROBLEMS))


def _checked_experiments():
    """{variant name: its config} of every experiment's variants (starlight/pipeline/sweep.py), and
    {experiment: its variant names}; each variant checked before any job runs."""
    variants, sweeps = {}, {}
    for name, exp in config["experiments"].items():
        exp = copy.deepcopy(exp)
        try:
            sweep.check(f"experiments.{name}", exp)
            expanded = sweep.variants(name, exp)
            for variant in expanded:
                try:
                    data_settings(variant.exp["dataset"], variant.exp["data"])
                except DataError as err:
                    raise xp.ConfigError(f"experiments.{variant.name}: {err}") from err
                xp.check(variant.name, variant.exp, contents=workflow.is_main_process)
        except (xp.ConfigError, sweep.SweepError) as err:
            stop(f"invalid config: {err}")
        variants |= {v.name: v.exp for v in expanded}
        sweeps[name] = expanded
    return variants, sweeps


EXPERIMENTS, SWEEPS = _checked_experiments()


def _data_inputs():
    """What each experiment's jobs read. Missing data is a warning, so a dry run still plans; a real run stops
    before its first job with the same message (onstart)."""
    return {
        name: data_input(
            exp["dataset"],
            exp["data"],
            config["data_root"],
            config["data_roots"],
            config["allow_download"],
        )
        for name, exp in EXPERIMENTS.items()
    }


DATA_INPUTS = _data_inputs()
MISSING_DATA = sorted({d.problem for d in DATA_INPUTS.values() if d.problem})
if MISSING_DATA and workflow.is_main_process:
    logger.warning("Data missing (a real run stops here):\n" + "\n".join(MISSING_DATA))


def stop_if_data_missing():
    """Called first by the workflow's one `onstart` handler (workflow/rules/slurm.smk)."""
    if MISSING_DATA:
        stop("data missing:\n" + "\n".join(MISSING_DATA))


# A run killed with SIGKILL leaves its locks behind: rerunning the same command must just work, but not
# while SLURM still runs the killed run's jobs (they would run twice).
EARLIER_RUN = None
if workflow.is_main_process:
    try:
        EARLIER_RUN = prepare_rerun(
            wait=config["wait_for_slurm_jobs"],
            dryrun=workflow.output_settings.dryrun,
            say=logger.warning,
        )
    except EarlierJobsRunning as err:
        stop(str(err))
    if EARLIER_RUN.removed_locks:
        logger.warning(
            "Removed the locks of a snakemake run that is no longer running."
        )


MODEL_ROLES = "anchor|heldout"
STAR_ID = r"star-k\d+(-[A-Za-z0-9_.,=+]+)*?-\d+"
CONTROL_ID = STAR_ID.replace("star", "control", 1)
MODEL_ID = rf"((anchor|heldout)-\d+|{STAR_ID}|{CONTROL_ID}|merged-k\d+)"


wildcard_constraints:
    exp="|".join(re.escape(name) for name in EXPERIMENTS),
    sweep="|".join(re.escape(name) for name in SWEEPS),
    role=MODEL_ROLES,
    seed=r"\d+",
    star=STAR_ID,
    control=CONTROL_ID,
    k=r"\d+",
    pair_type="|".join(xp.PAIR_TYPES),
    model1=MODEL_ID,
    model2=MODEL_ID,


def exp_cfg(wildcards):
    return EXPERIMENTS[wildcards.exp]


def dataset_file(wildcards):
    """resources/<stem>.pt (made by prepare_data), or a streamed dataset's folder ([] while it is missing)."""
    return DATA_INPUTS[wildcards.exp].path or []


def stem_dataset(stem):
    """The dataset of a prepared file's stem (the data rules' `dataset` wildcard)."""
    return stem.split("-", 1)[0]


def data_root_of(wildcards):
    """The root stage_data reads a prepared file's dataset from."""
    return root_for(
        stem_dataset(wildcards.dataset), config["data_root"], config["data_roots"]
    )


# The prepared files' stems: an in-memory dataset's name, plus the synthetic dataset's settings.
PREPARED_STEM = (
    "(" + "|".join(n for n, d in DATASETS.items() if d.materialised) + r")(-[\w+]+)*"
)


def pretrained_source(wildcards):
    """[the checkpoint to import] for a model of a `pretrained` population, else []."""
    source = pretrained.file_of(exp_cfg(wildcards), wildcards.role, int(wildcards.seed))
    return [source] if source else []


# What each job's outputs depend on, its code included (starlight/pipeline/params.py): a change reruns exactly the
# jobs it can change, and what depends on them.
# The rules' scripts, `workflow/scripts/<rule>.py`: each rule's code fingerprint covers its script too.
SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"


def train_params(wildcards):
    return params.train_params(
        exp_cfg(wildcards), wildcards.role, int(wildcards.seed), SCRIPTS
    )


def star_params(wildcards):
    return params.star_params(exp_cfg(wildcards), wildcards.star, SCRIPTS)


def control_params(wildcards):
    return params.control_params(exp_cfg(wildcards), wildcards.control, SCRIPTS)


def merge_params(wildcards):
    return params.merge_params(exp_cfg(wildcards), SCRIPTS)


def barrier_params(wildcards):
    return params.barrier_params(exp_cfg(wildcards), wildcards.model1, SCRIPTS)


def ensemble_params(wildcards):
    return params.ensemble_params(exp_cfg(wildcards), SCRIPTS)


def code(step):
    """The code fingerprint of step (rule) `step`, whose outputs depend on nothing else in the experiment's
    config."""
    return lambda wildcards: params.code(step, exp_cfg(wildcards), SCRIPTS)


def data_code(step):
    return lambda wildcards: params.code(
        step, {"dataset": stem_dataset(wildcards.dataset)}, SCRIPTS
    )


def config_code(step):
    """The code fingerprint of a step that reads the whole config, not one experiment's."""
    return lambda wildcards: params.code(step, None, SCRIPTS)


def star_anchor_checkpoints(wildcards):
    exp = exp_cfg(wildcards)
    star = xp.star(exp, wildcards.star)
    return [paths.model(wildcards.exp, a) for a in xp.anchor_ids(exp)[: star.n_anchors]]


def experiment_pairs(exp):
    return xp.pairs(EXPERIMENTS[exp])


def pair_files(wildcards, kind):
    return [
        paths.pair_file(wildcards.exp, pair, kind)
        for pair in experiment_pairs(wildcards.exp)
    ]


def batch_pairs(exp, model1):
    """[pair_type, model2] of every pair of `model1`, in the experiment's order: one barrier job's batch."""
    return [[t, m2] for t, m1, m2 in experiment_pairs(exp) if m1 == model1]


def batch_files(wildcards):
    """The barrier jobs of an experiment: one per model that is model1 of a pair."""
    model1s = dict.fromkeys(m1 for _, m1, _ in experiment_pairs(wildcards.exp))
    return [paths.batch(wildcards.exp, m1) for m1 in model1s]


def sweep_variants(name):
    """What the sweep table needs to know of each variant of experiment `name`."""
    return [
        {
            "name": v.name,
            "axis": v.axis,
            "value": sweep.value_text(v.value) if v.axis else None,
            "counts": sweep.nested_counts(v.exp),
            "seed_start": v.exp["heldout"]["seed_start"],
            "star_base": xp.base_star_columns(SWEEPS[name][0].exp),
            "axis_base": {
                axis: sweep.value_text(sweep.get(SWEEPS[name][0].exp, axis))
                for axis in {u.axis for u in SWEEPS[name] if u.axis}
            },
        }
        for v in SWEEPS[name]
    ]


def experiment_results(exp):
    """An experiment's tables and figures: the outputs of all its jobs but the cost table."""
    outs = [paths.table(exp, name) for name in ("barriers", "summary", "curves")]
    outs += [
        paths.figure(exp, fig, ext)
        for fig in ("curves", "barriers", "path_loss")
        for ext in ("png", "svg")
    ]
    if EXPERIMENTS[exp]["ensembles"]["enabled"]:
        outs.append(paths.table(exp, "ensembles"))
    return outs


def experiment_outputs(wildcards):
    """What the cost table of an experiment waits for: every other job of it has run."""
    return experiment_results(wildcards.exp)


def sweep_results(name):
    """What an experiment's own folder holds across its variants: the table (rule `sweep`) and the config record."""
    return [paths.sweep_file(name, f) for f in ("table.csv", "table.md", "config.yaml")]


def all_outputs():
    outs = []
    for exp in EXPERIMENTS:
        outs += experiment_results(exp) + [paths.table(exp, "costs")]
    for name in SWEEPS:
        outs += sweep_results(name)
        if tracking_settings.backends(config["tracking"]):
            outs.append(paths.published(name))
    return outs


def publish_inputs(wildcards):
    """Every result of the experiment and its variants: publish runs once they are all written."""
    outs = sweep_results(wildcards.sweep)
    for v in SWEEPS[wildcards.sweep]:
        outs += experiment_results(v.name) + [paths.table(v.name, "costs")]
    return outs


# A model whose training finished is restored from the archive rather than trained again (starlight/pipeline/recovery.py),
# unless this run forces jobs to run: its jobs read the mark the main process leaves (onstart: once the DAG's
# settings are known, before the first job).
def mark_forced_run():
    settings = workflow.dag_settings
    if workflow.is_main_process and settings is not None:
        recovery.mark_forced(
            bool(settings.forceall or settings.forcerun or settings.forcetargets)
        )
