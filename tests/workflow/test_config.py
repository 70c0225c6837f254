"""Bad configs fail before any job runs, through the real snakemake command line, naming the key."""

import pytest
import yaml
from conftest import copy_workflow, run_snakemake

TINY = {
    "experiments": {
        "tiny": {
            "model": {"name": "mlp", "depth": 1, "width": 8},
            "anchors": {"count": 2, "seed_start": 0},
            "heldout": {"count": 1, "seed_start": 100},
            "star": {"n_anchors": [2], "seed_start": 200},
        }
    }
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("wf"))


def dry_run(workdir, cfg):
    path = workdir / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return run_snakemake(workdir, "-n", "--configfile", str(path), check=False)


def edit(section, key, value):
    cfg = yaml.safe_load(yaml.safe_dump(TINY))
    target = cfg["experiments"]["tiny"]
    if section:
        target = target.setdefault(section, {})
    target[key] = value
    return cfg


def test_valid_config_plans_jobs(workdir):
    proc = dry_run(workdir, TINY)
    assert proc.returncode == 0, proc.stderr
    assert "train_star" in proc.stdout and "barrier" in proc.stdout


@pytest.mark.parametrize(
    "section,key,value,message",
    [
        ("train", "lrr", 0.1, "'lrr' was unexpected"),
        (None, "modle", {}, "'modle' was unexpected"),
        ("train", "epochs", "ten", "'ten' is not of type 'integer'"),
        ("train", "lr", 0.0, "0.0 is less than or equal to the minimum of 0"),
        ("train", "lr", -1.0, "less than or equal to the minimum of 0"),
        ("star", "t_constant", 1.5, "1.5 is greater than the maximum of 1"),
        ("star", "t_scheme", "cubic", "'cubic' is not one of"),
        ("alignment", "method", "git", "'git' is not one of"),
        ("bn", "subset", 1, "1 is less than the minimum of 2"),
        ("star", "train", {"lrr": 0.1}, "'lrr' was unexpected"),
        ("model", "name", "resnet", "'resnet' is not one of"),
        (None, "dataset", "svhn", "'svhn' is not one of"),
        ("anchors", "count", 0, "0 is less than the minimum of 1"),
        ("train", "optimizer", "rmsprop", "'rmsprop' is not one of"),
        ("train", "label_smoothing", 1.0, "1.0 is greater than or equal to the maximum of 1"),
    ],
)
def test_schema_errors_name_the_key(workdir, section, key, value, message):
    proc = dry_run(workdir, edit(section, key, value))
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert message in out, out[-3000:]
    if section:
        assert f"['{section}']" in out or key in out
    assert not (workdir / "results").exists()


def test_moved_keys_are_refused_with_their_new_place(workdir):
    """Alignment and BN re-estimation have sections of their own: a config still using the barrier's old keys is
    refused before the schema, every moved key named with its new place, as a message, not a traceback."""
    cfg = edit("barrier", "align_seed", 1)
    cfg["experiments"]["tiny"]["barrier"]["bn_subset"] = 300
    proc = dry_run(workdir, cfg)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert "experiments.tiny.barrier.align_seed: moved to experiments.tiny.alignment.seed" in out, out[-3000:]
    assert "experiments.tiny.barrier.bn_subset: moved to experiments.tiny.bn.subset" in out
    assert "Traceback" not in out and "WorkflowError" not in out
    assert not (workdir / "results").exists()


def test_a_protocol_no_file_defines_is_refused(workdir):
    proc = dry_run(workdir, edit(None, "protocol", "nowhere"))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out, out[-3000:]
    assert "experiments.tiny.protocol: no config file defines protocol 'nowhere'" in out, out[-3000:]


@pytest.mark.parametrize(
    "section,key,value,message",
    [
        ("star", "n_anchors", [3], "star.n_anchors: a star on 3 anchors needs 3 anchors, but anchors.count is 2"),
        ("barrier", "max_pairs", {"anchor_heldout": 5}, "barrier.max_pairs.anchor_heldout=5 is more than the 2"),
        ("heldout", "seed_start", 1, "seed ranges of anchors (0..1) and heldout (1..1) overlap"),
        ("model", "name", "vgg11", "model.name='vgg11': vgg11 needs images of at least 32×32 (5 2×2 max-pools)"),
    ],
)
def test_cross_field_errors_name_the_key(workdir, section, key, value, message):
    proc = dry_run(workdir, edit(section, key, value))
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr, (proc.stdout + proc.stderr)[-3000:]


def test_model_limits_are_the_builders(workdir):
    """The schema has no depth maximum: wrn-40 is valid, and wrn's own rule is checked before any job."""
    cfg = edit("model", "depth", 40)
    cfg["experiments"]["tiny"]["model"]["name"] = "wrn"
    proc = dry_run(workdir, cfg)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    cfg["experiments"]["tiny"]["model"]["depth"] = 20
    proc = dry_run(workdir, cfg)
    assert proc.returncode != 0
    assert "experiments.tiny.model.depth=20: wrn needs (depth − 4) % 6 == 0" in proc.stdout + proc.stderr


def with_top(key, value):
    cfg = yaml.safe_load(yaml.safe_dump(TINY))
    cfg[key] = value
    return cfg


def assert_data_missing_is_named(workdir, cfg, message):
    """A dry run plans and warns; a real run stops before its first job with the same message."""
    proc = dry_run(workdir, cfg)
    assert proc.returncode == 0 and message in proc.stdout + proc.stderr
    proc = run_snakemake(workdir, "--configfile", str(workdir / "bad.yaml"), "--cores", "1", check=False)
    assert proc.returncode != 0 and message in proc.stdout + proc.stderr
    assert not (workdir / "results").exists() and not (workdir / "resources").exists()


def test_missing_data_root_is_named(workdir, tmp_path):
    assert_data_missing_is_named(workdir, with_top("data_root", str(tmp_path / "nowhere")),
                                 f"data_root '{tmp_path / 'nowhere'}' does not exist")


def test_empty_data_root_is_named(workdir, tmp_path):
    assert_data_missing_is_named(workdir, with_top("data_root", str(tmp_path)), "holds no Fashion-MNIST raw files")


def test_pretrained_folder_with_too_few_models(workdir, tmp_path):
    torch = pytest.importorskip("torch")
    from starlight.models import build_model

    torch.save(build_model(TINY["experiments"]["tiny"]["model"]).state_dict(), tmp_path / "only.pt")
    proc = dry_run(workdir, edit("anchors", "pretrained", str(tmp_path)))
    assert proc.returncode != 0
    assert "anchors.pretrained: folder" in proc.stdout + proc.stderr
    assert "holds 1 checkpoint(s) (*.pt) but anchors.count is 2" in proc.stdout + proc.stderr


def test_pretrained_folder_that_does_not_exist(workdir, tmp_path):
    proc = dry_run(workdir, edit("heldout", "pretrained", str(tmp_path / "nope")))
    assert proc.returncode != 0
    assert "heldout.pretrained: folder" in proc.stdout + proc.stderr and "does not exist" in proc.stdout + proc.stderr


def _pretrained_folder(path, seeds):
    torch = pytest.importorskip("torch")
    from starlight.models import build_model

    path.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        torch.manual_seed(seed)
        torch.save(build_model(TINY["experiments"]["tiny"]["model"]).state_dict(), path / f"model-{seed}.pt")
    return path


def both_pretrained(anchors, heldout):
    cfg = edit("anchors", "pretrained", str(anchors))
    cfg["experiments"]["tiny"]["heldout"]["pretrained"] = str(heldout)
    return cfg


def test_anchors_and_heldout_from_the_same_folder_are_refused(workdir, tmp_path):
    folder = _pretrained_folder(tmp_path / "models", [0, 1, 2])
    proc = dry_run(workdir, both_pretrained(folder, folder))
    assert proc.returncode != 0
    assert "anchors.pretrained and heldout.pretrained are the same folder" in proc.stdout + proc.stderr


def test_the_same_model_in_two_folders_is_refused(workdir, tmp_path):
    anchors = _pretrained_folder(tmp_path / "anchors", [0, 1])
    heldout = _pretrained_folder(tmp_path / "heldout", [1])  # a copy of anchor model-1 under another folder
    proc = dry_run(workdir, both_pretrained(anchors, heldout))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"heldout.pretrained file '{heldout / 'model-1.pt'}' is the same model as anchors.pretrained file " \
           f"'{anchors / 'model-1.pt'}' (identical content)" in out, out[-3000:]


def test_the_same_model_twice_in_one_folder_is_refused(workdir, tmp_path):
    anchors = _pretrained_folder(tmp_path / "anchors", [0])
    (anchors / "model-9.pt").write_bytes((anchors / "model-0.pt").read_bytes())
    proc = dry_run(workdir, edit("anchors", "pretrained", str(anchors)))
    assert proc.returncode != 0
    assert "is the same model as anchors.pretrained file" in proc.stdout + proc.stderr


def test_distinct_pretrained_folders_plan(workdir, tmp_path):
    proc = dry_run(workdir, both_pretrained(_pretrained_folder(tmp_path / "a", [0, 1]),
                                            _pretrained_folder(tmp_path / "h", [2])))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]


@pytest.mark.parametrize("key,value,message", [
    ("train_subset", 59001, ("data.train_subset=59001 is larger than the train split of fashion_mnist "
                             "(59000 images after val_size)")),
    ("test_subset", 10001, "data.test_subset=10001 is larger than the test split of fashion_mnist (10000 images)"),
])
def test_a_subset_larger_than_its_split_is_refused(workdir, key, value, message):
    cfg = edit("data", key, value)
    cfg["experiments"]["tiny"]["data"]["val_size"] = 1000
    proc = dry_run(workdir, cfg)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr, (proc.stdout + proc.stderr)[-3000:]
