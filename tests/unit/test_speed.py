"""The GPU training options (bf16 autocast, channels_last, torch.compile) on the CPU: each trains to the same losses
as plain float32 within the tolerance its arithmetic allows, leaves the model as it was, and refuses bad values."""

import pytest
import torch

from starlight.data import ImageSet
from starlight.models import build_model
from starlight.training.loop import train_classifier
from starlight.training.speed import Speed
from starlight.training.star import train_star

TRAIN = {"epochs": 2, "batch_size": 64, "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4,
         "schedule": "cosine"}
CNN = {"name": "cnn", "depth": 2, "width": 8, "batchnorm": True}
# Relative tolerance on every per-epoch training loss, option on vs off, after 2 epochs (16 steps):
# bf16 keeps 8 bits of mantissa (2^-8 ≈ 0.4 % per rounding); the others only reorder float32 sums.
TOLERANCE = {"precision": 0.05, "channels_last": 1e-4, "compile": 1e-4}
OPTIONS = {"precision": "bf16", "channels_last": True, "compile": True}


@pytest.fixture(scope="module")
def train_set(small_splits):
    s = small_splits.train
    return ImageSet(s.images[:512], s.labels[:512], s.mean, s.std)


def _train(train_set, extra, trainer="classifier"):
    torch.manual_seed(0)
    model = build_model(CNN).to(train_set.device)
    cfg = {**TRAIN, **extra}
    if trainer == "classifier":
        history = train_classifier("m", model, train_set, cfg, seed=0)
    else:
        anchors = []
        for seed in (1, 2):
            torch.manual_seed(seed)
            anchors.append(build_model(CNN).state_dict())
        torch.manual_seed(0)
        model = build_model(CNN).to(train_set.device)
        history = train_star("s", model, anchors, train_set, cfg, seed=0)
    return model, [h["loss"] for h in history]


@pytest.fixture(scope="module")
def reference(train_set):
    return {trainer: _train(train_set, {}, trainer) for trainer in ("classifier", "star")}


@pytest.mark.parametrize("trainer", ["classifier", "star"])
@pytest.mark.parametrize("option", list(OPTIONS))
def test_option_trains_to_the_same_losses(train_set, reference, option, trainer):
    model, losses = _train(train_set, {option: OPTIONS[option]}, trainer)
    ref_model, ref_losses = reference[trainer]
    assert losses == pytest.approx(ref_losses, rel=TOLERANCE[option]), (losses, ref_losses)
    assert losses[-1] < losses[0]  # and it learns
    # the model leaves training as an ordinary module: same keys, contiguous weights, float32
    assert list(model.state_dict()) == list(ref_model.state_dict())
    for k, v in model.state_dict().items():
        assert v.is_contiguous() and v.dtype == ref_model.state_dict()[k].dtype, k


# On a GPU cuDNN picks other kernels for each layout and may run convolutions in TF32: looser, still tight.
CUDA_TOLERANCE = {"precision": 0.05, "channels_last": 1e-2, "compile": 1e-2}


@pytest.mark.cuda
@pytest.mark.parametrize("trainer", ["classifier", "star"])
@pytest.mark.parametrize("option", list(OPTIONS))
def test_option_trains_to_the_same_losses_on_the_gpu(train_set, option, trainer):
    gpu_set = train_set.to("cuda")
    model, losses = _train(gpu_set, {option: OPTIONS[option]}, trainer)
    _, ref_losses = _train(gpu_set, {}, trainer)
    assert losses == pytest.approx(ref_losses, rel=CUDA_TOLERANCE[option]), (losses, ref_losses)
    assert all(v.is_cuda and v.is_contiguous() for v in model.state_dict().values())


def test_options_off_change_nothing(train_set, reference):
    """Keys set to their off values train bit-identically to keys absent."""
    _, losses = _train(train_set, {"precision": "fp32", "channels_last": False, "compile": False})
    assert losses == reference["classifier"][1]


def test_channels_last_runs_convolutions_in_nhwc():
    model = Speed(channels_last=True).prepare(build_model(CNN))
    conv = model.features[4].weight  # the second conv: 8 input channels (with one, both layouts coincide)
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    x = Speed(channels_last=True).inputs(torch.randn(2, 1, 28, 28))
    assert x.is_contiguous(memory_format=torch.channels_last)
    Speed(channels_last=True).release(model)
    assert model.features[4].weight.is_contiguous()


def test_bf16_autocast_computes_in_bf16():
    model = build_model(CNN)
    with Speed(precision="bf16").autocast(torch.device("cpu")):
        out = model.features[0](torch.randn(2, 1, 28, 28))
    assert out.dtype == torch.bfloat16


@pytest.mark.parametrize("cfg,message", [({"precision": "fp16"}, "train.precision='fp16'"),
                                         ({"compile": "yes"}, "train.compile='yes'"),
                                         ({"channels_last": 1}, "train.channels_last=1")])
def test_bad_values_name_the_key(cfg, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Speed.of(cfg)


def _validated(train: dict) -> dict:
    from conftest import ROOT
    from snakemake.utils import validate

    populations = {"anchors": {"count": 2, "seed_start": 0}, "heldout": {"count": 1, "seed_start": 100}}
    cfg = {"experiments": {"x": {"train": dict(train), "star": {"train": dict(train)}, **populations}}}
    validate(cfg, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    return cfg["experiments"]["x"]


def test_schema_takes_the_options_and_adds_none_by_default():
    exp = _validated({"precision": "bf16", "channels_last": True, "compile": True})
    assert Speed.of(exp["train"]) == Speed("bf16", True, True) == Speed.of(exp["star"]["train"])
    plain = _validated({})
    assert not set(plain["train"]) & {"precision", "channels_last", "compile"}  # rerun params stay as they were


@pytest.mark.parametrize("key,value,message", [("precision", "fp16", "'fp16' is not one of"),
                                               ("channels_last", "yes", "'yes' is not of type 'boolean'"),
                                               ("compile", 1, "1 is not of type 'boolean'")])
def test_schema_refuses_bad_values(key, value, message):
    with pytest.raises(Exception, match=message) as err:
        _validated({key: value})
    assert f"'{key}'" in str(err.value)
