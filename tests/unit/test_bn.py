"""BN statistics: exact per-sample pooling, whatever the batch split; no batch of one, in re-estimation or training."""

import pytest
import torch
from torch import nn

from starlight.data import ImageSet
from starlight.measure.bn import recompute_bn_stats
from starlight.models import build_model
from starlight.training.loop import train_classifier

TRAIN = {"epochs": 1, "batch_size": 128, "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4,
         "schedule": "cosine"}


def first_bn_input(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """What the first BN layer sees: the output of the layer before it, which no batch statistics touch."""
    return model.stem(x)


@pytest.mark.parametrize("n,batch_size", [(2100, 500), (501, 500), (2100, 97), (300, 1000)])
@pytest.mark.parametrize("cfg", [{"name": "mlp", "depth": 2, "width": 16, "batchnorm": True},
                                 {"name": "cnn", "depth": 2, "width": 4, "batchnorm": True}], ids=["mlp", "cnn"])
def test_first_layer_gets_the_exact_mean_and_variance(cfg, n, batch_size):
    """2100 = 4·500 + 100: a per-batch average would weigh the last 100 images as 1/5 instead of 100/2100.
    501 = 500 + 1 used to crash (a batch of one has no batch statistics)."""
    torch.manual_seed(0)
    model = build_model(cfg)
    x = 2.0 * torch.randn(n, 1, 28, 28) + torch.linspace(0, 3, n).view(n, 1, 1, 1)  # drifts along the set
    recompute_bn_stats(model, x, batch_size=batch_size)
    with torch.no_grad():
        z = first_bn_input(model, x).double()
    dims = [d for d in range(z.dim()) if d != 1]
    bn = next(m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm))
    assert torch.allclose(bn.running_mean.double(), z.mean(dims), rtol=1e-5, atol=1e-5)
    assert torch.allclose(bn.running_var.double(), z.var(dims, unbiased=True), rtol=1e-5, atol=1e-5)
    assert not model.training


def test_statistics_do_not_depend_on_stored_ones_or_on_the_batch_split():
    torch.manual_seed(0)
    cfg = {"name": "mlp", "depth": 1, "width": 8, "batchnorm": True}
    a, b = build_model(cfg), build_model(cfg)
    b.load_state_dict(a.state_dict())
    b.net[2].running_mean.fill_(7.0)
    b.net[2].running_var.fill_(0.01)
    x = torch.randn(1000, 1, 28, 28)
    recompute_bn_stats(a, x, batch_size=1000)
    recompute_bn_stats(b, x, batch_size=333)
    # Equal up to the float32 rounding of each batch's own statistics (BN computes them in float32; measured
    # 0.6e-6 to 1.3e-6 relative for the variance, depending on the thread count), far below what weighting batches
    # of different sizes equally would change.
    assert torch.allclose(a.net[2].running_mean, b.net[2].running_mean, atol=1e-6)
    assert torch.allclose(a.net[2].running_var, b.net[2].running_var, rtol=1e-5)


def test_a_single_image_is_refused_with_a_clear_error():
    model = build_model({"name": "mlp", "depth": 1, "width": 8, "batchnorm": True})
    with pytest.raises(ValueError, match="at least 2 images"):
        recompute_bn_stats(model, torch.randn(1, 1, 28, 28))


def test_training_set_one_more_than_a_batch_trains_a_bn_model(small_splits):
    """129 images in batches of 128 left a last batch of one, and BatchNorm in train mode refused it."""
    train = small_splits.train
    subset = ImageSet(train.images[:129], train.labels[:129], train.mean, train.std)
    assert subset.steps_per_epoch(128) == 1
    assert [len(y) for _, y in subset.epoch(128, seed=0, epoch=0)] == [129]
    torch.manual_seed(0)
    model = build_model({"name": "mlp", "depth": 1, "width": 8, "batchnorm": True})
    history = train_classifier("m", model, subset, TRAIN, seed=0)
    assert len(history) == 1 and history[0]["loss"] > 0


def test_dropout_does_not_make_the_statistics_random():
    """Only BN layers run in train mode while statistics are re-estimated: dropout stays off."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 16), nn.Dropout(0.5), nn.Linear(16, 16), nn.BatchNorm1d(16))
    x = torch.randn(600, 1, 28, 28)
    torch.manual_seed(1)
    first = recompute_bn_stats(model, x).state_dict()["4.running_mean"].clone()
    torch.manual_seed(2)
    second = recompute_bn_stats(model, x).state_dict()["4.running_mean"]
    assert torch.equal(first, second)
    assert not model[2].training
