"""ImageNet's streamed path on a tiny ImageFolder of PNGs written by a fixture: the registry entry's own code with
a spec sized for the fixture (3 classes, 32-pixel crops), DataLoader workers included."""

from dataclasses import replace

import pytest
import torch
from conftest import IMAGENET_CLASSES
from PIL import Image
from torchvision.transforms import functional as TF1

from starlight.data import DATASETS, DataError, data_input, data_settings, epoch_order
from starlight.data.folder import FolderSet

IMAGENET = DATASETS["imagenet"]
TINY = replace(IMAGENET, spec=replace(IMAGENET.spec, shape=(3, 32, 32), n_classes=3, train_size=18, test_size=6,
                                      val_size=3))


def splits(root, **data_cfg):
    cfg = {"num_workers": 2, **data_cfg}
    return TINY.load_splits(TINY.locate(str(root)), replace(data_settings("imagenet", cfg), spec=TINY.spec,
                                                              val_size=cfg.get("val_size", 3)))


def eval_pixels(path):
    """The standard evaluation transform, done with torchvision's functional API: shorter side to 37 (32·256/224),
    centre crop 32, as uint8 [3,32,32]."""
    image = TF1.center_crop(TF1.resize(Image.open(path).convert("RGB"), 37), 32)
    return TF1.pil_to_tensor(image)


def denormalise(x, spec):
    mean, std = torch.tensor(spec.mean).view(3, 1, 1), torch.tensor(spec.std).view(3, 1, 1)
    return ((x * std + mean) * 255).round().to(torch.uint8)


def test_layout_sizes_and_labels(imagenet_root):
    s = splits(imagenet_root)
    assert isinstance(s.train, FolderSet) and (len(s.train), len(s.val), len(s.test)) == (15, 3, 6)
    assert s.spec.mean == (0.485, 0.456, 0.406)
    assert sorted(s.test.labels.tolist()) == [0, 0, 1, 1, 2, 2]
    for path, label in s.train.samples + s.test.samples:
        assert f"/{IMAGENET_CLASSES[label]}/" in path
    # the seeded train/val split: disjoint, together the whole train/ folder, another seed another split
    assert not {p for p, _ in s.train.samples} & {p for p, _ in s.val.samples}
    other = splits(imagenet_root, split_seed=1)
    assert {p for p, _ in other.val.samples} != {p for p, _ in s.val.samples}


def test_evaluation_transform_and_order(imagenet_root):
    s = splits(imagenet_root)
    batches = list(s.test.batches(4))
    assert [x.shape for x, _ in batches] == [(4, 3, 32, 32), (2, 3, 32, 32)]
    x, y = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    assert x.dtype == torch.float32 and torch.equal(y, s.test.labels)
    for image, (path, _) in zip(x, s.test.samples):
        assert torch.equal(denormalise(image, s.spec), eval_pixels(path))
    assert torch.equal(s.test.head(2), x[:2])
    assert torch.equal(s.test.normalised(torch.tensor([5, 0])), x[[5, 0]])


def test_training_epochs_are_a_pure_function_of_seed_and_epoch(imagenet_root):
    s = splits(imagenet_root)
    first = list(s.train.epoch(4, seed=1, epoch=0))
    assert [len(y) for _, y in first] == [4, 4, 4, 3] == [4, 4, 4, 3][: s.train.steps_per_epoch(4)]
    again = list(s.train.epoch(4, seed=1, epoch=0))
    single_process = list(replace(s.train, num_workers=0).epoch(4, seed=1, epoch=0))
    other_epoch = list(s.train.epoch(4, seed=1, epoch=1))
    for (xa, ya), (xb, yb), (xc, yc) in zip(first, again, single_process):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
        assert torch.equal(xa, xc) and torch.equal(ya, yc)  # the number of workers changes nothing
    assert not all(torch.equal(a, b) for (a, _), (b, _) in zip(first, other_epoch))
    assert sorted(torch.cat([y for _, y in first]).tolist()) == sorted(s.train.labels.tolist())


def test_random_resized_crop_and_flip_switches(imagenet_root):
    plain = [eval_pixels(p) for p, _ in splits(imagenet_root).train.samples]

    def epoch_pixels(**augment):
        s = splits(imagenet_root, augment=augment)
        order = epoch_order(len(s.train), seed=1, epoch=0)
        return [(denormalise(x, s.spec), plain[i]) for (x, _), i in
                zip((item for xb, yb in s.train.epoch(5, 1, 0) for item in zip(xb, yb)), order.tolist())]

    # crop off, flip on: every image is the evaluation crop or its mirror, and both occur
    pairs = epoch_pixels(crop=False, flip=True)
    mirrored = [torch.equal(x, p.flip(-1)) for x, p in pairs]
    assert all(torch.equal(x, p) or m for (x, p), m in zip(pairs, mirrored))
    assert 0 < sum(mirrored) < len(pairs)
    # both off: exactly the evaluation transform
    assert all(torch.equal(x, p) for x, p in epoch_pixels(crop=False, flip=False))
    # RandomResizedCrop (the ImageNet default): not the evaluation crop, not a mirror of it
    assert not any(torch.equal(x, p) or torch.equal(x, p.flip(-1)) for x, p in epoch_pixels())


def test_seeded_subset_view(imagenet_root):
    train = splits(imagenet_root).train
    sub = train.subset(5, seed=0)
    assert isinstance(sub, FolderSet) and len(sub) == 5 and set(sub.samples) <= set(train.samples)
    assert sub.samples == sorted(sub.samples, key=train.samples.index)  # original order kept
    assert sub.samples == train.subset(5, seed=0).samples != train.subset(5, seed=1).samples
    assert train.subset(None, 0) is train and train.subset(100, 0) is train
    assert sub.normalised().shape == (5, 3, 32, 32)


def test_missing_or_malformed_folders_are_named(imagenet_root, tmp_path):
    with pytest.raises(DataError, match="no `data_root` set.*imagenet/train/<class>.*data_roots: {imagenet: "
                                        "<folder>}.*never downloaded"):
        IMAGENET.check_available(None, allow_download=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=f"holds no ImageNet folders .*{empty}"):
        IMAGENET.check_available(str(empty), False)
    # the real entry expects 1000 classes: checked before the workflow starts, and when the job lists the files
    with pytest.raises(DataError, match="has 3 class folders, ImageNet has 1000"):
        IMAGENET.check_available(str(imagenet_root), False)
    TINY.check_available(str(imagenet_root), False)
    with pytest.raises(DataError, match="has 3 class folders, ImageNet has 1000"):
        IMAGENET.load_splits(IMAGENET.locate(str(imagenet_root)), data_settings("imagenet", {"num_workers": 0}))
    (imagenet_root / "imagenet" / "val" / IMAGENET_CLASSES[0]).rename(imagenet_root / "imagenet" / "val" / "other")
    with pytest.raises(DataError, match="class folders that differ"):
        splits(imagenet_root)


def test_workflow_input_is_the_folder(imagenet_root, tmp_path):
    found = data_input("imagenet", {}, data_roots={"imagenet": str(imagenet_root / "imagenet")})
    assert found.path == str(imagenet_root / "imagenet") and "has 3 class folders" in found.problem
    found = data_input("imagenet", {}, data_root=str(imagenet_root))  # a shared torchvision-style root
    assert found.path == str(imagenet_root / "imagenet") and "has 3 class folders" in found.problem
    missing = data_input("imagenet", {}, data_root=str(tmp_path / "nowhere"))
    assert missing.path is None and "does not exist" in missing.problem
