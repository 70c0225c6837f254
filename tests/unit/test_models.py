"""The model zoo on the CPU at tiny widths: shapes, stem/rest, one Starlight step, checkpoints, parameter counts
at full width (on the meta device), state-dict layouts and config errors."""

import copy

import pytest
import torch
import yaml
from conftest import ROOT

from starlight.data import ImageSet, TokenSet
from starlight.io.checkpoint import CheckpointError, load_into, save_model
from starlight.measure.barrier import curve, grid, interpolate_state
from starlight.measure.bn import recompute_bn_stats
from starlight.measure.metrics import evaluate
from starlight.models import MODEL_KEYS, MODELS, build_model, check_model_config, has_batchnorm, model_config
from starlight.training.star import StarPoint, anchor_params

CIFAR = (3, 32, 32)
TEXT = (30, 8)  # token ids: a vocabulary of 30 (0 the padding), texts of 8 tokens
# Every registered model at a tiny width; dropout on where a model has it, so its path is exercised too.
TINY = {
    "mlp": ({"name": "mlp", "depth": 2, "width": 16, "batchnorm": True}, CIFAR),
    "cnn": ({"name": "cnn", "depth": 2, "width": 4}, CIFAR),
    "resnet18_cifar": ({"name": "resnet18_cifar", "width_multiplier": 1 / 16}, CIFAR),
    "vgg11": ({"name": "vgg11", "width_multiplier": 1 / 16}, CIFAR),
    "vgg19": ({"name": "vgg19", "width_multiplier": 1 / 16}, CIFAR),
    "vgg11_bn": ({"name": "vgg11_bn", "width_multiplier": 1 / 16}, CIFAR),
    "vgg19_bn": ({"name": "vgg19_bn", "width_multiplier": 1 / 16}, CIFAR),
    "densenet40": ({"name": "densenet40", "width_multiplier": 1 / 6, "dropout": 0.2}, CIFAR),
    "wrn": ({"name": "wrn", "depth": 16, "widen_factor": 2, "width_multiplier": 1 / 4, "dropout": 0.3}, CIFAR),
    "resnet18_torch": ({"name": "resnet18_torch"}, (3, 64, 64)),  # torchvision's widths: full width only
    "text_bag": ({"name": "text_bag", "embed_dim": 6}, TEXT),
    "text_cnn": ({"name": "text_cnn", "embed_dim": 6, "filters": 3, "dropout": 0.2}, TEXT),
}
CASES = [(name, n) for name in TINY for n in ((7,) if name == "resnet18_torch" else (10, 100))]
CASE_IDS = [f"{name}-{n}" for name, n in CASES]


def test_every_registered_model_is_tested_and_declares_its_keys():
    assert set(TINY) == set(MODELS) == set(MODEL_KEYS)


def _build(name, n_classes, seed=0):
    cfg, shape = TINY[name]
    torch.manual_seed(seed)
    return build_model(cfg, shape, n_classes), cfg, shape


def _batch(shape, n_classes, size=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    if shape == TEXT:  # token ids, padding (0) included
        return torch.randint(0, TEXT[0], (size, TEXT[1]), generator=g), torch.randint(0, n_classes, (size,),
                                                                                      generator=g)
    return torch.randn(size, *shape, generator=g), torch.randint(0, n_classes, (size,), generator=g)


@pytest.mark.parametrize("name,n_classes", CASES, ids=CASE_IDS)
def test_forward_is_rest_of_stem(name, n_classes):
    model, _, shape = _build(name, n_classes)
    x, _ = _batch(shape, n_classes)
    for mode in ("eval", "train"):
        getattr(model, mode)()
        torch.manual_seed(5)  # the same dropout masks for both passes
        out = model(x)
        torch.manual_seed(5)
        z = model.stem(x)
        z_before = z.clone()
        assert torch.equal(model.rest(z), out), mode
        assert torch.equal(z, z_before), f"{mode}: rest() modified the stem's output in place"
        assert out.shape == (4, n_classes)


@pytest.mark.parametrize("name,n_classes", CASES, ids=CASE_IDS)
def test_one_starlight_step(name, n_classes):
    star, _, shape = _build(name, n_classes, seed=0)
    anchor, _, _ = _build(name, n_classes, seed=1)
    x, y = _batch(shape, n_classes)
    buffers_before = {k: v.clone() for k, v in star.named_buffers()}
    point = StarPoint(star.train())
    loss, logits = point.loss(anchor_params(star, anchor.state_dict()), 0.3, x, y)
    loss.backward()
    point.hand_over_gradients()
    scratch = dict(point.copy.named_buffers())
    assert logits.shape == (4, n_classes) and torch.isfinite(loss)
    for param_name, p in star.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), param_name
    assert any(p.grad.abs().sum() > 0 for p in star.parameters())
    for k, v in star.named_buffers():
        assert torch.equal(v, buffers_before[k]), f"the star's {k} changed"
    if has_batchnorm(star):  # BN ran in train mode, on the scratch buffers
        assert any(not torch.equal(scratch[k], buffers_before[k]) for k in scratch if k.endswith("running_mean"))


@pytest.mark.parametrize("name,n_classes", CASES, ids=CASE_IDS)
def test_checkpoint_roundtrip_is_bit_exact(name, n_classes, tmp_path):
    model, cfg, shape = _build(name, n_classes, seed=0)
    model.train()(_batch(shape, n_classes)[0])  # non-trivial BN statistics
    save_model(model, cfg, tmp_path / "m.pt")
    loaded = load_into(_build(name, n_classes, seed=1)[0], tmp_path / "m.pt", cfg)
    assert list(loaded.state_dict()) == list(model.state_dict())
    for (k, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert a.dtype == b.dtype and torch.equal(a, b), k
    x, _ = _batch(shape, n_classes)
    assert torch.equal(model.eval()(x), loaded.eval()(x))


def _image_set(shape, n_classes, size, seed):
    """Random uint8 images in an ImageSet, as the pipeline's splits hold them (token ids in a TokenSet)."""
    g = torch.Generator().manual_seed(seed)
    if shape == TEXT:
        return TokenSet(torch.randint(0, TEXT[0], (size, TEXT[1]), generator=g),
                        torch.randint(0, n_classes, (size,), generator=g))
    images = torch.randint(0, 256, (size, *shape), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, n_classes, (size,), generator=g)
    return ImageSet(images, labels, (0.5,) * shape[0], (0.25,) * shape[0])


@pytest.mark.parametrize("name", list(TINY))
def test_curve_through_stem_matches_each_interpolated_model(name):
    """barrier.curve lerps the stems' outputs; for every architecture that equals evaluating θ_t itself, with BN
    statistics re-estimated at every t."""
    n_classes = 7 if name == "resnet18_torch" else 10
    cfg, shape = TINY[name]
    model1, model2 = (build_model(cfg, shape, n_classes) for _ in range(2))
    data = _image_set(shape, n_classes, size=24, seed=2)
    bn_x = _image_set(shape, n_classes, size=24, seed=3).normalised() if has_batchnorm(model1) else None
    rows = curve(model1, model2, {"test": data}, grid(3), bn_x)
    for row, t in zip(rows, grid(3)):
        model = copy.deepcopy(model1)
        model.load_state_dict(interpolate_state(model1.state_dict(), model2.state_dict(), t))
        if bn_x is not None:
            recompute_bn_stats(model, bn_x)
        loss, _ = evaluate(model, data)
        assert row["loss"] == pytest.approx(loss, rel=1e-4), (t, row)


# Full-width parameter counts. Published: ResNet18 (CIFAR, pytorch-cifar) 11,173,962; torchvision resnet18
# 11,689,512 (its ResNet18_Weights meta). Derived (c_in·c_out·k² per conv, + c_out with bias; 2c per BN):
# vgg11: convs 1,792 + 73,856 + 295,168 + 590,080 + 1,180,160 + 3 × 2,359,808 = 9,220,480, head 512·10 + 10:
#   9,225,610; BN adds 2·(64 + 128 + 2·256 + 4·512) = 5,504: 9,231,114 (pytorch-cifar's VGG11).
# vgg19: 1,792 + 36,928 + 73,856 + 147,584 + 295,168 + 3 × 590,080 + 1,180,160 + 7 × 2,359,808 = 20,024,384,
#   + 5,130 = 20,029,514; BN adds 2·(2·64 + 2·128 + 4·256 + 8·512) = 11,008: 20,040,522.
# densenet40 (k = 12, 3 input channels): stem 3·24·9 = 648; a dense layer on c channels 2c + 108c = 110c, the
#   blocks see Σc = 1,080, 2,808, 4,536 (from 24, 168, 312 channels, +12 per layer): 110 · 8,424 = 926,640;
#   transitions 2c + c² at 168 and 312: 28,560 + 97,968; final BN 912; head 456·10 + 10 = 4,570: 1,059,298
#   (the DenseNet paper's "1.0M").
# wrn-d-k (the WRN paper's 2.7M for 16-4, 8.9M for 40-4, 36.5M for 28-10) is checked against wrn_parameters.
def wrn_parameters(depth, k, n_classes):
    n, total, c_in = (depth - 4) // 6, 3 * 16 * 9, 16
    for c in (16 * k, 32 * k, 64 * k):
        for i in range(n):
            total += 2 * c_in + 9 * c_in * c + 2 * c + 9 * c * c + (c_in * c if c_in != c else 0)
            c_in = c
    return total + 2 * c_in + c_in * n_classes + n_classes


FULL_WIDTH = [
    ({"name": "resnet18_cifar"}, CIFAR, 10, 11_173_962),
    ({"name": "resnet18_cifar"}, CIFAR, 100, 11_220_132),
    ({"name": "resnet18_torch"}, (3, 224, 224), 1000, 11_689_512),
    ({"name": "vgg11"}, CIFAR, 10, 9_225_610),
    ({"name": "vgg11_bn"}, CIFAR, 10, 9_231_114),
    ({"name": "vgg19"}, CIFAR, 10, 20_029_514),
    ({"name": "vgg19_bn"}, CIFAR, 10, 20_040_522),
    ({"name": "densenet40"}, CIFAR, 10, 1_059_298),
    ({"name": "wrn", "depth": 16, "widen_factor": 4}, CIFAR, 10, wrn_parameters(16, 4, 10)),
    ({"name": "wrn", "depth": 28, "widen_factor": 10}, CIFAR, 10, wrn_parameters(28, 10, 10)),
    ({"name": "wrn", "depth": 40, "widen_factor": 4}, CIFAR, 100, wrn_parameters(40, 4, 100)),
    # AG News's shape (vocabulary 100,000, length 128): 100,000·64 embeddings + 64·4 + 4 (the reference's
    # SimpleTextClassifier); 100,000·100 embeddings + 100·100·(3 + 4 + 5) + 3·100 convs + 300·4 + 4 (its TextCNN)
    ({"name": "text_bag"}, (100_000, 128), 4, 6_400_260),
    ({"name": "text_cnn"}, (100_000, 128), 4, 10_121_504),
]


@pytest.mark.parametrize("cfg,shape,n_classes,expected", FULL_WIDTH,
                         ids=[f"{c['name']}{c.get('depth', '')}-{n}" for c, _, n, _ in FULL_WIDTH])
def test_parameter_count_at_full_width(cfg, shape, n_classes, expected):
    with torch.device("meta"):
        model = build_model(cfg, shape, n_classes)
    assert sum(p.numel() for p in model.parameters()) == expected


def test_wrn_parameter_formula_agrees_with_the_published_sizes():
    assert round(wrn_parameters(16, 4, 10) / 1e5) == 27
    assert round(wrn_parameters(40, 4, 10) / 1e5) == 89
    assert round(wrn_parameters(28, 10, 10) / 1e5) == 365


def test_resnet18_torch_is_torchvisions_resnet18():
    torchvision = pytest.importorskip("torchvision")
    ours = build_model({"name": "resnet18_torch"}, (3, 64, 64), 7)
    theirs = torchvision.models.resnet18(weights=None, num_classes=7)
    assert isinstance(ours, torchvision.models.ResNet)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 3, 64, 64)
    assert torch.equal(ours.eval()(x), theirs.eval()(x))


def test_model_config_keeps_only_the_keys_a_model_reads():
    schema_filled = {"depth": 1, "width": 128, "batchnorm": False}
    assert model_config({"name": "resnet18_cifar", **schema_filled}) == {"name": "resnet18_cifar",
                                                                         "width_multiplier": 1.0}
    assert model_config({"name": "mlp", **schema_filled, "dropout": 0.5}) == {"name": "mlp", **schema_filled}
    assert model_config({"name": "wrn", "depth": 28, "widen_factor": 10, "width": 7}) == {
        "name": "wrn", "depth": 28, "widen_factor": 10, "width_multiplier": 1.0, "dropout": 0.0}


def test_checkpoint_check_compares_only_what_the_model_reads(tmp_path):
    cfg = {"name": "resnet18_cifar", "width_multiplier": 0.125, "depth": 1, "width": 128}
    model = build_model(cfg, CIFAR, 10)
    save_model(model, cfg, tmp_path / "m.pt")
    load_into(build_model(cfg, CIFAR, 10), tmp_path / "m.pt", {**cfg, "depth": 3, "dropout": 0.5, "width": 9})
    narrower = {**cfg, "width_multiplier": 0.0625}
    with pytest.raises(CheckpointError, match=r"m\.pt has a different architecture "
                                              r"\(width_multiplier: checkpoint 0.125 vs config 0.0625\)"):
        load_into(build_model(narrower, CIFAR, 10), tmp_path / "m.pt", narrower)
    with pytest.raises(CheckpointError, match="name: checkpoint 'resnet18_cifar' vs config 'vgg11'"):
        load_into(build_model({"name": "vgg11"}, CIFAR, 10), tmp_path / "m.pt", {"name": "vgg11"})


@pytest.mark.parametrize("cfg,shape,message", [
    ({"name": "wrn", "depth": 20}, CIFAR, "model.depth=20: wrn needs (depth − 4) % 6 == 0"),
    ({"name": "wrn", "depth": 4}, CIFAR, "model.depth=4: wrn needs depth ≥ 10"),
    ({"name": "wrn"}, CIFAR, "model.depth is required for wrn"),
    ({"name": "wrn", "depth": 16, "widen_factor": 2.5}, CIFAR, "model.widen_factor=2.5: wrn needs an integer"),
    ({"name": "resnet50"}, CIFAR, "model.name='resnet50': unknown model; expected one of mlp, cnn, resnet18_cifar"),
    ({"name": "vgg11", "width_multipler": 0.5}, CIFAR, "model.width_multipler: unknown key"),
    ({"name": "vgg11", "width_multiplier": 0}, CIFAR, "model.width_multiplier=0: vgg11 needs width_multiplier > 0"),
    ({"name": "vgg11_bn", "width_multiplier": "wide"}, CIFAR, "model.width_multiplier='wide': vgg11_bn needs a"),
    ({"name": "densenet40", "dropout": 1.0}, CIFAR, "model.dropout=1.0: densenet40 needs 0 ≤ dropout < 1"),
    ({"name": "mlp", "depth": 17}, CIFAR, "model.depth=17: mlp needs 1 ≤ depth ≤ 16"),
    ({"name": "cnn", "depth": 5}, (1, 28, 28), "model.depth=5: cnn needs images of at least 32×32"),
    ({"name": "vgg19"}, (1, 28, 28), "model.name='vgg19': vgg19 needs images of at least 32×32 (5 2×2 max-pools)"),
    ({"name": "resnet18_torch", "width_multiplier": 0.5}, (3, 64, 64),
     "model.width_multiplier=0.5: resnet18_torch is torchvision's resnet18 with its fixed widths"),
    ({"name": "resnet18_torch"}, (1, 28, 28), "resnet18_torch takes 3-channel (RGB) images"),
])
def test_bad_model_config_is_named(cfg, shape, message):
    for check in (lambda: build_model(cfg, shape, 10), lambda: check_model_config(cfg, shape, 10)):
        with pytest.raises(ValueError) as info:
            check()
        assert message in str(info.value)


def test_check_model_config_catches_a_model_that_does_not_fit_its_input(monkeypatch):
    class Misfit(torch.nn.Module):  # a 5-feature head on flattened images: any real image fails
        def __init__(self):
            super().__init__()
            self.head = torch.nn.Linear(5, 10)

        def forward(self, x):
            return self.head(torch.flatten(x, 1))

    monkeypatch.setitem(MODELS, "misfit", lambda cfg, shape, n: Misfit())
    monkeypatch.setitem(MODEL_KEYS, "misfit", {})
    with pytest.raises(ValueError, match=r"model.name='misfit': the model does not fit inputs of shape \(3, 32, 32\)"):
        check_model_config({"name": "misfit"}, CIFAR, 10)
    check_model_config({"name": "vgg11"}, CIFAR, 10)  # a fitting model passes


def test_schema_knows_every_model_and_key():
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    model = schema["$defs"]["experiment"]["properties"]["model"]["properties"]
    assert set(model["name"]["enum"]) == set(MODELS)
    assert set(model) == {"name"} | {key for keys in MODEL_KEYS.values() for key in keys}
    assert "maximum" not in model["depth"]  # per-model limits live in the builders (wrn-40 is valid)


def test_config_check_names_the_model_key():
    from snakemake.utils import validate

    from starlight.pipeline.experiment import ConfigError, check

    config = yaml.safe_load((ROOT / "config/tiny.yaml").read_text())
    validate(config, str(ROOT / "workflow/schemas/config.schema.yaml"), set_default=True)
    exp = config["experiments"]["tiny"]
    check("tiny", exp)
    exp["model"] = {**exp["model"], "name": "vgg11"}  # Fashion-MNIST is 28×28: too small for five pools
    with pytest.raises(ConfigError, match=r"experiments\.tiny\.model\.name='vgg11': vgg11 needs images of at least"):
        check("tiny", exp)
