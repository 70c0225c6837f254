"""Augmentation of in-memory training batches: the pixels are a crop of the zero-padded image and/or its mirror,
each switch does what it says, and the draws are a pure function of (seed, epoch)."""

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from starlight.data import Augment, ImageSet, data_settings, epoch_order

MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def images(n=64, shape=(3, 12, 10), seed=0):
    """Random pixels in 1..255, so a zero-padded border can never be mistaken for image content."""
    return torch.randint(1, 256, (n, *shape), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def reference(image, top, left, flip, pad):
    """torchvision's per-image pad + crop (+ mirror), the transform our batched gather claims to equal."""
    h, w = image.shape[1:]
    out = TF.crop(TF.pad(image, [pad]), top, left, h, w)
    return TF.horizontal_flip(out) if flip else out


def matches(source, out, pad, flips):
    """The (top, left, flip) that turn `source` into `out`, searched exhaustively."""
    return [(top, left, flip) for top in range(2 * pad + 1) for left in range(2 * pad + 1) for flip in flips
            if torch.equal(reference(source, top, left, flip, pad), out)]


@pytest.mark.parametrize("pad,flip", [(4, False), (4, True), (2, True), (0, True)])
def test_batched_gather_equals_per_image_pad_crop_flip(pad, flip):
    x = images()
    augment = Augment(pad, flip)
    draws = augment.draw(len(x), torch.Generator().manual_seed(3))
    out = augment.apply(x, draws)
    assert out.dtype == torch.uint8 and out.shape == x.shape
    for i in range(len(x)):
        top, left, mirrored = draws[i].tolist()
        assert torch.equal(out[i], reference(x[i], top, left, bool(mirrored), pad))
    if pad:  # every offset occurs, and the padding shows up as zero pixels
        assert set(draws[:, 0].tolist()) <= set(range(2 * pad + 1)) and draws[:, :2].min() == 0
        assert draws[:, :2].max() == 2 * pad and (out == 0).any()
    else:
        assert (draws[:, :2] == 0).all() and (out > 0).all()
    assert bool(draws[:, 2].any()) == flip and not draws[:, 2].all()  # flips: some, not all (or none)


def unaugmented(x, labels):
    return ImageSet(x, labels, MEAN, STD)


@pytest.mark.parametrize("pad,flip", [(4, True), (4, False), (0, True)])
def test_epoch_batches_are_crops_and_flips_of_their_images(pad, flip):
    x, labels = images(40), torch.arange(40)
    plain = unaugmented(x, labels)
    augmented = ImageSet(x, labels, MEAN, STD, Augment(pad, flip))
    seen_flips, seen_offsets = set(), set()
    for (xa, ya), (xp, yp) in zip(augmented.epoch(16, 5, 2), plain.epoch(16, 5, 2)):
        assert torch.equal(ya, yp)  # the data order does not depend on the augmentation
        pixels = (xa * 0.25 + 0.5) * 255  # undo the normalisation
        for out, label in zip(pixels.round().to(torch.uint8), ya):
            found = matches(x[label], out, pad, (False, True) if flip else (False,))
            assert len(found) == 1, f"image {label}: {found}"
            seen_offsets.add(found[0][:2])
            seen_flips.add(found[0][2])
    assert seen_flips == ({False, True} if flip else {False})
    assert len(seen_offsets) > 10 if pad else seen_offsets == {(0, 0)}


def test_draws_are_a_pure_function_of_seed_and_epoch():
    x, labels = images(50), torch.arange(50)
    data = ImageSet(x, labels, MEAN, STD, Augment(4, True))
    first = [b for b, _ in data.epoch(16, 1, 3)]
    again = [b for b, _ in ImageSet(x.clone(), labels, MEAN, STD, Augment(4, True)).epoch(16, 1, 3)]
    other_epoch = [b for b, _ in data.epoch(16, 1, 4)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other_epoch))
    # the global RNG plays no part: drawing from it in between changes nothing
    torch.rand(1000)
    assert all(torch.equal(a, b) for a, b in zip(first, (b for b, _ in data.epoch(16, 1, 3))))
    ys = torch.cat([y for _, y in data.epoch(16, 1, 3)])
    assert torch.equal(ys, epoch_order(50, 1, 3))


def test_evaluation_bn_and_alignment_data_are_never_augmented():
    x, labels = images(30), torch.arange(30)
    data, plain = ImageSet(x, labels, MEAN, STD, Augment(4, True)), unaugmented(x, labels)
    for (xa, ya), (xp, yp) in zip(data.batches(7), plain.batches(7)):
        assert torch.equal(xa, xp) and torch.equal(ya, yp)
    idx = torch.tensor([3, 1, 4])
    assert torch.equal(data.normalised(idx), plain.normalised(idx))
    assert torch.equal(data.head(5), plain.head(5))
    assert torch.equal(data.subset(10, 0).normalised(), plain.subset(10, 0).normalised())


def test_switches_and_dataset_defaults():
    assert data_settings("fashion_mnist", {}).augment is None  # the default experiment is not augmented
    assert data_settings("synthetic", {}).augment is None
    assert data_settings("cifar10", {}).augment == Augment(4, True)
    assert data_settings("cifar100", {"augment": {"crop": False}}).augment == Augment(0, True)
    assert data_settings("cifar10", {"augment": {"flip": False, "padding": 2}}).augment == Augment(2, False)
    assert data_settings("cifar10", {"augment": {"crop": False, "flip": False}}).augment is None
    assert data_settings("synthetic", {"augment": {"crop": True}}).augment == Augment(4, False)
