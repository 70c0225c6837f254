import copy

from snakemake.utils import min_version, validate

from starlight import experiment as xp
from starlight.data import DataError, dataset
from starlight.locks import EarlierJobsRunning, prepare_rerun

min_version("9.0")


# A --configfile replaces the default experiments instead of merging into them.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


validate(config, "../schemas/config.schema.yaml")


def _checked_experiments():
    out = {}
    for name, exp in config["experiments"].items():
        exp = copy.deepcopy(exp)
        try:
            if config["data_root"]:
                dataset(exp["dataset"]).check_root(config["data_root"])
            xp.check(name, exp)
        except (DataError, xp.ConfigError) as err:
            raise WorkflowError(f"invalid config: {err}")
        out[name] = exp
    return out


EXPERIMENTS = _checked_experiments()

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
        raise WorkflowError(str(err))
    if EARLIER_RUN.removed_locks:
        logger.warning(
            "Removed the locks of a snakemake run that is no longer running."
        )
RESULTS = "results"
MODEL_ROLES = "anchor|heldout"


wildcard_constraints:
    exp="|".join(EXPERIMENTS),
    role=MODEL_ROLES,
    seed=r"\d+",
    index=r"\d+",
    pair_type="|".join(xp.PAIR_TYPES),
    model1=r"(anchor|heldout|star)-\d+",
    model2=r"(anchor|heldout|star)-\d+",


def exp_cfg(wildcards):
    return EXPERIMENTS[wildcards.exp]


def dataset_file(wildcards):
    return f"resources/{exp_cfg(wildcards)['dataset']}.pt"


def model_path(exp, model_id, ext="pt"):
    return f"{RESULTS}/{exp}/models/{model_id}.{ext}"


def canonical(value):
    """Params with keys in sorted order: Snakemake compares params by their text, and the same
    config written with its keys in another order must not rerun anything."""
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def bn_params(exp):
    return {k: exp["barrier"][k] for k in ("bn_subset", "bn_seed")}


def pretrained_source(wildcards):
    """[the checkpoint to import] for a model of a `pretrained` population, else []."""
    source = xp.pretrained_file(exp_cfg(wildcards), wildcards.role, int(wildcards.seed))
    return [source] if source else []


def model_params(exp):
    keys = ("dataset", "device", "deterministic", "data", "model", "train")
    return canonical({k: exp[k] for k in keys} | {"barrier": bn_params(exp)})


def train_params(wildcards):
    """Only what changes an anchor/held-out model: editing anything else does not retrain it."""
    exp = exp_cfg(wildcards)
    source = xp.pretrained_file(exp, wildcards.role, int(wildcards.seed))
    return model_params(exp) | {"pretrained": source}


def star_params(wildcards):
    """This star's own settings: its k and seed, not the whole list of stars."""
    exp = exp_cfg(wildcards)
    star = xp.star(exp, int(wildcards.index))
    shared = {
        k: v
        for k, v in exp["star"].items()
        if k not in ("n_anchors", "per_k", "seed_start")
    }
    return canonical(
        model_params(exp)
        | {
            "train": xp.star_train_config(exp),
            "star": shared | {"n_anchors": star.n_anchors, "seed": star.seed},
            "barrier": bn_params(exp) | {"align_seed": exp["barrier"]["align_seed"]},
        }
    )


def star_anchor_checkpoints(wildcards):
    exp = exp_cfg(wildcards)
    star = xp.star(exp, int(wildcards.index))
    return [model_path(wildcards.exp, a) for a in xp.anchor_ids(exp)[: star.n_anchors]]


def barrier_params(wildcards):
    exp = exp_cfg(wildcards)
    keys = ("dataset", "device", "deterministic", "data", "model")
    barrier = {
        k: v for k, v in exp["barrier"].items() if k not in ("max_pairs", "pair_seed")
    }
    n_anchors = None
    if wildcards.model1.startswith("star-"):
        n_anchors = xp.star(exp, int(wildcards.model1.split("-")[1])).n_anchors
    return canonical(
        {k: exp[k] for k in keys} | {"barrier": barrier, "n_anchors": n_anchors}
    )


def pair_stem(exp, pair_type, model1, model2):
    return f"{RESULTS}/{exp}/pairs/{pair_type}/{model1}__{model2}"


def experiment_pairs(exp):
    return xp.pairs(EXPERIMENTS[exp])


def pair_files(wildcards, kind):
    return [
        f"{pair_stem(wildcards.exp, *pair)}.{kind}.csv"
        for pair in experiment_pairs(wildcards.exp)
    ]


def all_outputs():
    outs = []
    for exp in EXPERIMENTS:
        outs += [
            f"{RESULTS}/{exp}/{name}.csv" for name in ("barriers", "summary", "curves")
        ]
        outs += [
            f"{RESULTS}/{exp}/figures/{fig}.{ext}"
            for fig in ("curves", "barriers")
            for ext in ("png", "svg")
        ]
    return outs
