"""State-dict layouts of the public code the models follow, and importing checkpoints saved by that code:
pytorch-cifar's `{"net": ..., "acc": ..., "epoch": ...}` with DataParallel's `module.` prefix, other wrappers,
PyTorch < 0.4.1 BN layers without a batch counter, and the errors when a file does not fit."""

import pytest
import torch

from starlight.io.checkpoint import CheckpointError, load_into
from starlight.models import build_model
from starlight.pipeline.pretrained import files as pretrained_files

CIFAR = (3, 32, 32)
TINY_RESNET = {"name": "resnet18_cifar", "width_multiplier": 1 / 16}

# kuangliu/pytorch-cifar models/resnet.py, ResNet18, in its state-dict order.
RESNET18_CIFAR_LAYERS = [
    "conv1", "bn1",
    "layer1.0.conv1", "layer1.0.bn1", "layer1.0.conv2", "layer1.0.bn2",
    "layer1.1.conv1", "layer1.1.bn1", "layer1.1.conv2", "layer1.1.bn2",
    "layer2.0.conv1", "layer2.0.bn1", "layer2.0.conv2", "layer2.0.bn2", "layer2.0.shortcut.0", "layer2.0.shortcut.1",
    "layer2.1.conv1", "layer2.1.bn1", "layer2.1.conv2", "layer2.1.bn2",
    "layer3.0.conv1", "layer3.0.bn1", "layer3.0.conv2", "layer3.0.bn2", "layer3.0.shortcut.0", "layer3.0.shortcut.1",
    "layer3.1.conv1", "layer3.1.bn1", "layer3.1.conv2", "layer3.1.bn2",
    "layer4.0.conv1", "layer4.0.bn1", "layer4.0.conv2", "layer4.0.bn2", "layer4.0.shortcut.0", "layer4.0.shortcut.1",
    "layer4.1.conv1", "layer4.1.bn1", "layer4.1.conv2", "layer4.1.bn2",
    "linear",
]
BN_ENTRIES = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _kind(layer: str) -> str:
    last = layer.rsplit(".", 1)[-1]
    if last.startswith("bn") or layer.endswith("shortcut.1"):
        return "bn"
    return "linear" if last in ("linear", "fc", "classifier") else "conv"


def expand(layers, kinds=None) -> list[str]:
    """Layer names -> state-dict keys: a conv has a weight, a BN five entries, a linear layer weight and bias."""
    entries = {"conv": ("weight",), "conv_bias": ("weight", "bias"), "bn": BN_ENTRIES, "linear": ("weight", "bias")}
    return [f"{layer}.{e}" for layer in layers for e in entries[(kinds or {}).get(layer) or _kind(layer)]]


def resnet18_cifar_shapes(m: float, n_classes: int) -> dict[str, tuple[int, ...]]:
    """Each layer's weight shape in pytorch-cifar's ResNet18 with channels 64·m, 128·m, 256·m, 512·m."""
    w = {s: max(1, round(64 * 2 ** (s - 1) * m)) for s in range(1, 5)}
    shapes = {"conv1": (w[1], 3, 3, 3), "bn1": (w[1],)}
    for s in range(1, 5):
        for b in range(2):
            c_in = w[s - 1] if s > 1 and b == 0 else w[s]
            shapes |= {f"layer{s}.{b}.conv1": (w[s], c_in, 3, 3), f"layer{s}.{b}.bn1": (w[s],),
                       f"layer{s}.{b}.conv2": (w[s], w[s], 3, 3), f"layer{s}.{b}.bn2": (w[s],)}
            if c_in != w[s]:
                shapes |= {f"layer{s}.{b}.shortcut.0": (w[s], c_in, 1, 1), f"layer{s}.{b}.shortcut.1": (w[s],)}
    return shapes | {"linear": (n_classes, w[4])}


def pytorch_cifar_state_dict(m: float, n_classes: int, seed: int) -> dict[str, torch.Tensor]:
    """A trained-looking state dict in pytorch-cifar's ResNet18 layout, written from the layout alone."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for layer, shape in resnet18_cifar_shapes(m, n_classes).items():
        if _kind(layer) == "bn":
            state |= {f"{layer}.weight": torch.rand(shape, generator=g) + 0.5,
                      f"{layer}.bias": torch.randn(shape, generator=g),
                      f"{layer}.running_mean": torch.randn(shape, generator=g),
                      f"{layer}.running_var": torch.rand(shape, generator=g) + 0.5,
                      f"{layer}.num_batches_tracked": torch.tensor(78_200)}
        else:
            state[f"{layer}.weight"] = torch.randn(shape, generator=g) * 0.1
            if _kind(layer) == "linear":
                state[f"{layer}.bias"] = torch.randn(shape[:1], generator=g)
    return state


@pytest.fixture(scope="module")
def pytorch_cifar_folder(tmp_path_factory):
    """Three checkpoints as pytorch-cifar's main.py saves them from a DataParallel model."""
    folder = tmp_path_factory.mktemp("pytorch-cifar")
    states = []
    for seed in range(3):
        state = pytorch_cifar_state_dict(1 / 16, 10, seed)
        torch.save({"net": {f"module.{k}": v for k, v in state.items()}, "acc": 94.5 + seed, "epoch": 199},
                   folder / f"ckpt-{seed}.pt")
        states.append(state)
    return folder, states


def test_resnet18_cifar_keys_are_pytorch_cifars():
    assert list(resnet18_cifar_shapes(1, 10)) == RESNET18_CIFAR_LAYERS
    with torch.device("meta"):
        model = build_model({"name": "resnet18_cifar"}, CIFAR, 10)
    state = model.state_dict()
    assert list(state) == expand(RESNET18_CIFAR_LAYERS)
    assert len(state) == 122
    for layer, shape in resnet18_cifar_shapes(1, 10).items():
        assert tuple(state[f"{layer}.weight"].shape) == shape, layer


def test_pretrained_folder_in_pytorch_cifar_layout_imports_unchanged(pytorch_cifar_folder):
    folder, states = pytorch_cifar_folder
    exp = {"model": TINY_RESNET, "anchors": {"count": 3, "seed_start": 0, "pretrained": str(folder)}}
    files = pretrained_files(exp, "anchors")
    assert [f.name for f in files] == ["ckpt-0.pt", "ckpt-1.pt", "ckpt-2.pt"]
    for path, expected in zip(files, states):
        model = load_into(build_model(exp["model"], CIFAR, 10), path, exp["model"])
        loaded = model.state_dict()
        assert list(loaded) == list(expected)
        for k, v in expected.items():
            assert torch.equal(loaded[k], v), k
        assert torch.isfinite(model.eval()(torch.randn(2, *CIFAR))).all()


@pytest.mark.parametrize("wrap", [
    lambda sd: {"state_dict": sd, "epoch": 3},
    lambda sd: {"model": sd, "optimizer": {"lr": 0.1}},
    lambda sd: {"model_state_dict": sd},
    lambda sd: {f"module.{k}": v for k, v in sd.items()},
    lambda sd: sd,
], ids=["state_dict", "model", "model_state_dict", "module-prefix", "plain"])
def test_common_wrappers_are_unwrapped(tmp_path, wrap):
    state = pytorch_cifar_state_dict(1 / 16, 10, seed=7)
    torch.save(wrap(state), tmp_path / "m.pt")
    loaded = load_into(build_model(TINY_RESNET, CIFAR, 10), tmp_path / "m.pt", TINY_RESNET).state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())


def test_bn_layers_without_a_batch_counter_load(tmp_path):
    """PyTorch < 0.4.1 (early pytorch-cifar checkpoints) saved no num_batches_tracked."""
    state = pytorch_cifar_state_dict(1 / 16, 10, seed=3)
    torch.save({"net": {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}}, tmp_path / "old.pt")
    loaded = load_into(build_model(TINY_RESNET, CIFAR, 10), tmp_path / "old.pt").state_dict()
    assert loaded["bn1.num_batches_tracked"] == 0
    assert torch.equal(loaded["layer4.1.bn2.running_var"], state["layer4.1.bn2.running_var"])


def test_checkpoints_that_do_not_fit_are_named(tmp_path):
    state = pytorch_cifar_state_dict(1 / 16, 10, seed=0)
    torch.save({"net": {k: v for k, v in state.items() if not k.startswith("linear.")}, "acc": 90.0},
               tmp_path / "headless.pt")
    with pytest.raises(CheckpointError, match=r"headless\.pt does not fit the configured model "
                                              r"\(missing linear\.bias, linear\.weight\)"):
        load_into(build_model(TINY_RESNET, CIFAR, 10), tmp_path / "headless.pt")
    with pytest.raises(CheckpointError, match=r"headless\.pt does not fit .*shape mismatch conv1\.weight: "
                                              r"checkpoint \(4, 3, 3, 3\) vs model \(8, 3, 3, 3\)"):
        load_into(build_model({**TINY_RESNET, "width_multiplier": 1 / 8}, CIFAR, 10), tmp_path / "headless.pt")
    torch.save({"acc": 90.0, "epoch": 12}, tmp_path / "scores.pt")
    with pytest.raises(CheckpointError, match=r"scores\.pt holds no state dict of tensors \(top-level keys: acc, "
                                              r"epoch\); expected a state dict, or one under 'net'"):
        load_into(build_model(TINY_RESNET, CIFAR, 10), tmp_path / "scores.pt")


def _meta_keys(cfg, n_classes=10):
    with torch.device("meta"):
        return list(build_model(cfg, CIFAR, n_classes).state_dict())


def test_vgg_layouts_are_pytorch_cifars():
    # pytorch-cifar models/vgg.py: [conv, BN, ReLU] per channel entry, a max-pool per "M", in one `features`.
    bn_convs = [0, 4, 8, 11, 15, 18, 22, 25]
    layers = [f"features.{i + j}" for i in bn_convs for j in (0, 1)] + ["classifier"]
    kinds = {f"features.{i}": "conv_bias" for i in bn_convs} | {f"features.{i + 1}": "bn" for i in bn_convs}
    assert _meta_keys({"name": "vgg11_bn"}) == expand(layers, kinds)
    # without BN: [conv, ReLU] per channel entry
    plain_convs = [0, 3, 6, 8, 11, 13, 16, 18]
    kinds = {f"features.{i}": "conv_bias" for i in plain_convs}
    assert _meta_keys({"name": "vgg11"}) == expand([f"features.{i}" for i in plain_convs] + ["classifier"], kinds)
    assert len(_meta_keys({"name": "vgg19_bn"})) == 16 * 7 + 2 and len(_meta_keys({"name": "vgg19"})) == 16 * 2 + 2


def test_wrn_layout_is_xternalz():
    block = ["bn1", "conv1", "bn2", "conv2"]
    layers = (["conv1"]
              + [f"block1.layer.0.{m}" for m in block] + ["block1.layer.0.convShortcut"]  # 16 -> 32 channels
              + [f"block1.layer.1.{m}" for m in block]
              + [f"block2.layer.0.{m}" for m in block] + ["block2.layer.0.convShortcut"]
              + [f"block2.layer.1.{m}" for m in block]
              + [f"block3.layer.0.{m}" for m in block] + ["block3.layer.0.convShortcut"]
              + [f"block3.layer.1.{m}" for m in block]
              + ["bn1", "fc"])
    assert _meta_keys({"name": "wrn", "depth": 16, "widen_factor": 2}) == expand(layers)
    # k = 1: the first group keeps 16 channels at stride 1, so its first block adds its input unchanged
    assert "block1.layer.0.convShortcut.weight" not in _meta_keys({"name": "wrn", "depth": 16, "widen_factor": 1})


def test_densenet40_layout_is_andreasveits():
    def block(b):
        return [f"block{b}.layer.{i}.{m}" for i in range(12) for m in ("bn1", "conv1")]

    layers = ["conv1", *block(1), "trans1.bn1", "trans1.conv1", *block(2), "trans2.bn1", "trans2.conv1", *block(3),
              "bn1", "fc"]
    assert _meta_keys({"name": "densenet40"}) == expand(layers)
    with torch.device("meta"):
        model = build_model({"name": "densenet40"}, CIFAR, 10)
    assert model.trans1.conv1.weight.shape == (168, 168, 1, 1)  # compression 1: 24 + 12·12 channels kept
    assert model.trans2.conv1.weight.shape == (312, 312, 1, 1)
    assert model.fc.weight.shape == (10, 456)
