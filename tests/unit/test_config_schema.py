"""The schema (workflow/schemas/config.schema.yaml) as snakemake's `validate` applies it: the train keys are defined
once and referred to by `train` and `star.train`, and the defaults are filled in where the schema gives them."""

import copy

import pytest
import yaml
from conftest import ROOT
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")
TINY = {"experiments": {"e": {"anchors": {"count": 2, "seed_start": 0}, "heldout": {"count": 1, "seed_start": 10},
                              "star": {"n_anchors": [2], "train": {"lr": 0.05}}}}}


def validated(edit=None) -> dict:
    config = copy.deepcopy(TINY)
    if edit:
        edit(config["experiments"]["e"])
    validate(config, SCHEMA)
    return config["experiments"]["e"]


def test_train_gets_its_defaults_and_star_train_only_what_it_overrides():
    exp = validated()
    assert exp["train"] == {"epochs": 10, "batch_size": 128, "lr": 0.1, "momentum": 0.9, "nesterov": True,
                            "weight_decay": 5.0e-4, "optimizer": "sgd", "schedule": "cosine", "warmup_steps": 0,
                            "label_smoothing": 0.0, "grad_clip": None, "checkpoint_every": 1}
    assert exp["star"]["train"] == {"lr": 0.05}  # a key left out is the experiment's
    assert exp["alignment"] == {"method": "matching", "seed": 0}
    assert exp["bn"] == {"subset": 2000, "seed": 0}
    assert "bn_subset" not in exp["barrier"] and "align_seed" not in exp["barrier"]


@pytest.mark.parametrize("edit,message", [
    (lambda e: e.setdefault("train", {}).update(epochs="ten"), "'ten' is not of type 'integer'"),
    (lambda e: e["star"]["train"].update(epochs="ten"), "'ten' is not of type 'integer'"),
    (lambda e: e["star"]["train"].update(optimizer="rmsprop"), "'rmsprop' is not one of"),
    (lambda e: e["star"]["train"].update(lrr=0.1), "'lrr' was unexpected"),
    (lambda e: e.setdefault("train", {}).update(lrr=0.1), "'lrr' was unexpected"),
])
def test_both_train_sections_check_the_same_keys(edit, message):
    with pytest.raises(WorkflowError, match=message):
        validated(edit)


def test_the_defaults_config_states_the_schemas_alignment_and_bn():
    """config/config.yaml writes out the alignment and BN settings it runs with: the schema's defaults."""
    (exp,) = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["experiments"].values()
    assert (exp["alignment"], exp["bn"]) == (validated()["alignment"], validated()["bn"])
