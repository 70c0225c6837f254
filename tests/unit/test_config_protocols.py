"""The config as given, before the schema: protocols applied (starlight/pipeline/protocols.py) and moved keys
refused with their new place (starlight/pipeline/migrate.py)."""

import pytest
import yaml
from conftest import ROOT

from starlight.pipeline import migrate, protocols

PROTOCOL = {"data": {"val_size": 5000, "augment": {"crop": True, "flip": True, "padding": 4}},
            "train": {"epochs": 200, "lr": 0.1, "betas": [0.9, 0.999]},
            "star": {"per_k": 1, "t_scheme": "uniform"},
            "barrier": {"grid_points": 21, "max_pairs": {"anchor_heldout": 25}}}


def test_an_experiments_own_keys_win_section_by_section():
    own = {"train": {"epochs": 300, "betas": [0.8, 0.9]}, "star": {"n_anchors": [5]}, "data": {"augment": None},
           "barrier": {"max_pairs": None}, "model": {"name": "vgg11"}}
    assert protocols.merge(PROTOCOL, own) == {
        "data": {"val_size": 5000},  # null drops the protocol's value: the schema's default applies
        "train": {"epochs": 300, "lr": 0.1, "betas": [0.8, 0.9]},  # a list replaces the protocol's
        "star": {"per_k": 1, "t_scheme": "uniform", "n_anchors": [5]},
        "barrier": {"grid_points": 21},
        "model": {"name": "vgg11"},
    }
    assert PROTOCOL["barrier"]["max_pairs"] == {"anchor_heldout": 25}  # the protocol itself is left as it was


def test_expand_applies_each_experiments_protocol_and_drops_the_protocols():
    config = {"protocols": {"p": PROTOCOL}, "data_root": "/data",
              "experiments": {"a": {"protocol": "p", "train": {"lr": 0.05}}, "b": {"train": {"lr": 0.2}}}}
    out = protocols.expand(config)
    assert set(out) == {"data_root", "experiments"}
    assert out["experiments"]["a"] == protocols.merge(PROTOCOL, {"train": {"lr": 0.05}})
    assert "protocol" not in out["experiments"]["a"]
    assert out["experiments"]["b"] == {"train": {"lr": 0.2}}  # no protocol: as given
    assert config["experiments"]["a"]["protocol"] == "p"  # the given config is not changed


def test_a_protocol_no_given_file_defines_names_the_file_that_does():
    config = {"experiments": {"vgg": {"protocol": "paper", "model": {"name": "vgg11"}}}}
    with pytest.raises(protocols.ProtocolError) as err:
        protocols.expand(config, ROOT / "config", ["config/paper/vgg11_cifar10.yaml"])
    assert str(err.value) == (
        "experiments.vgg.protocol: protocol 'paper' is defined in config/paper/protocol.yaml, which was not given; "
        "add it before the experiment's file: --configfile config/paper/protocol.yaml config/paper/vgg11_cifar10.yaml")
    with pytest.raises(protocols.ProtocolError, match="no config file defines protocol 'nowhere'"):
        protocols.expand({"experiments": {"e": {"protocol": "nowhere"}}}, ROOT / "config")


@pytest.mark.parametrize("config,message", [
    ({"protocols": [1], "experiments": {}}, "protocols: give a section of named protocols"),
    ({"experiments": {"e": {"protocol": 3}}}, r"experiments.e.protocol: give the name of a protocol, got 3"),
    ({"protocols": {"p": {"protocol": "q"}}, "experiments": {"e": {"protocol": "p"}}},
     "protocols.p: give a partial experiment"),
])
def test_bad_protocols_are_named(config, message):
    with pytest.raises(protocols.ProtocolError, match=message):
        protocols.expand(config)


def test_every_moved_key_is_named_with_its_new_place():
    config = {
        "protocols": {"p": {"barrier": {"bn_seed": 1}}},
        "experiments": {"e": {"barrier": {"align_seed": 1, "bn_subset": 300, "grid_points": 5},
                              "sweep": {"barrier.align_method": ["matching", "rebasin"],
                                        "barrier": [{"bn_subset": 500}]}}},
    }
    assert migrate.moved(config) == [
        "experiments.e.barrier.align_seed: moved to experiments.e.alignment.seed",
        "experiments.e.barrier.bn_subset: moved to experiments.e.bn.subset",
        "experiments.e.sweep.barrier.align_method: moved to experiments.e.sweep.alignment.method",
        "experiments.e.sweep.barrier: its values' bn_subset: moved to experiments.e.sweep.bn.subset",
        "protocols.p.barrier.bn_seed: moved to protocols.p.bn.seed",
    ]
    assert migrate.message(config).startswith("invalid config: settings that moved")


def test_the_shipped_configs_use_no_moved_key():
    for path in sorted((ROOT / "config").rglob("*.yaml")):
        assert migrate.message(yaml.safe_load(path.read_text())) is None, path
