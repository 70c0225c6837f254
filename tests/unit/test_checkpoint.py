import os
import random

import pytest
import torch

from starlight.io.checkpoint import CheckpointError, load_into, save_model
from starlight.models import build_model

MLP = {"name": "mlp", "depth": 1, "width": 16, "batchnorm": False}


def test_roundtrip_is_exact(tmp_path):
    torch.manual_seed(0)
    model = build_model(MLP)
    save_model(model, MLP, tmp_path / "m.pt")
    loaded = load_into(build_model(MLP), tmp_path / "m.pt", MLP)
    for (k, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temporary file left behind


def test_plain_state_dict_is_accepted(tmp_path):
    """A bare state dict (no model config beside it) loads into a model of the right shape, weight for weight."""
    torch.manual_seed(0)
    model = build_model(MLP)
    torch.save(model.state_dict(), tmp_path / "plain.pt")
    torch.manual_seed(1)
    fresh = build_model(MLP)
    assert not torch.equal(fresh.state_dict()["net.1.weight"], model.state_dict()["net.1.weight"])
    loaded = load_into(fresh, tmp_path / "plain.pt")
    assert loaded.state_dict().keys() == model.state_dict().keys()
    for (k, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k
    x = torch.randn(4, 1, 28, 28)
    assert torch.equal(loaded.eval()(x), model.eval()(x))


def test_wrong_architecture_is_named(tmp_path):
    save_model(build_model(MLP), MLP, tmp_path / "m.pt")
    wider = {**MLP, "width": 32}
    with pytest.raises(CheckpointError, match="width: checkpoint 16 vs config 32"):
        load_into(build_model(wider), tmp_path / "m.pt", wider)


def test_wrong_shape_in_plain_state_dict_is_named(tmp_path):
    torch.save(build_model(MLP).state_dict(), tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="shape mismatch net.1.weight"):
        load_into(build_model({**MLP, "width": 32}), tmp_path / "plain.pt")


def test_truncated_checkpoint(tmp_path):
    path = tmp_path / "m.pt"
    save_model(build_model(MLP), MLP, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_into(build_model(MLP), path, MLP)


@pytest.mark.parametrize("seed", range(20))
def test_garbage_checkpoint(tmp_path, seed):
    # Random bytes are not a zip archive, so torch falls back to its legacy unpickler, which fails with
    # whatever exception the bytes happen to trigger (IndexError, KeyError, UnpicklingError, ...).
    path = tmp_path / "m.pt"
    path.write_bytes(random.Random(seed).randbytes(4096))
    with pytest.raises(CheckpointError, match=str(path)):
        load_into(build_model(MLP), path, MLP)


class _Payload:
    """Unpickling this would run a shell command."""

    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_pickle_payload_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": build_model(MLP).state_dict(), "x": _Payload()}, path)
    with pytest.raises(CheckpointError, match="refused by weights-only loading"):
        load_into(build_model(MLP), path, MLP)
    assert not (tmp_path / "pwned").exists()


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_into(build_model(MLP), tmp_path / "nope.pt", MLP)
