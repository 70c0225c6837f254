import copy

import pandas as pd
import pytest
import torch

from starlight.align import align
from starlight.data import ImageSet
from starlight.io.checkpoint import save_model
from starlight.jobs.ensemble import METHODS, ensemble_job
from starlight.measure.barrier import interpolate_state
from starlight.measure.bn import recompute_bn_stats
from starlight.measure.ensembles import (
    evaluate_ensemble,
    evaluate_ensembles,
    log_mean_probs,
    segment_model,
    segment_models,
    segment_points,
)
from starlight.measure.metrics import evaluate
from starlight.models import build_model
from starlight.training.loop import train_classifier
from starlight.training.star import train_star

TRAIN = {"epochs": 3, "batch_size": 64, "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4,
         "schedule": "cosine"}
MLP = {"name": "mlp", "depth": 1, "width": 32}
BN_MLP = {"name": "mlp", "depth": 2, "width": 16, "batchnorm": True}
N_ANCHORS, SAMPLES = 3, 8


def experiment(model_cfg: dict, samples: int = SAMPLES, seed: int = 0) -> dict:
    """An experiment as a job gets it: the data of the `small_splits` fixture, BN and alignment settings."""
    return {"dataset": "fashion_mnist", "device": "cpu", "deterministic": False,
            "data": {"val_size": 500, "split_seed": 0, "train_subset": 2000, "test_subset": 1000},
            "model": model_cfg, "alignment": {"method": "matching", "seed": 0}, "bn": {"subset": 500, "seed": 0},
            "ensembles": {"samples": samples, "seed": seed}}


@pytest.fixture(scope="module")
def trained(small_splits, tmp_path_factory):
    """Three SGD anchors and a star trained on them (anchors re-aligned onto it every epoch), saved as checkpoints."""
    folder = tmp_path_factory.mktemp("ensembles")
    anchors = []
    for seed in range(N_ANCHORS):
        torch.manual_seed(seed)
        model = build_model(MLP)
        train_classifier(f"anchor-{seed}", model, small_splits.train, TRAIN, seed)
        save_model(model, MLP, folder / f"anchor-{seed}.pt")
        anchors.append(model.eval())
    example = small_splits.train.head(256)

    def realign(star_model, state, basis):
        anchor = build_model(MLP)
        anchor.load_state_dict(state)
        return align(star_model, anchor, example, seed=0).state_dict(), None

    torch.manual_seed(100)
    star = build_model(MLP)
    train_star("star-0", star, [a.state_dict() for a in anchors], small_splits.train, TRAIN, 100, realign=realign)
    save_model(star, MLP, folder / "star-0.pt")
    return {"folder": folder, "star": star.eval(), "anchors": anchors}


def run_job(dataset_file, folder, exp, tag):
    out = folder / f"{tag}.csv"
    ids = [f"anchor-{i}" for i in range(N_ANCHORS)]
    ensemble_job(str(dataset_file), exp, "star-0", str(folder / "star-0.pt"), ids,
                 [str(folder / f"{a}.pt") for a in ids], str(out))
    return pd.read_csv(out, keep_default_na=False)


@pytest.fixture(scope="module")
def rows(trained, dataset_file):
    return run_job(dataset_file, trained["folder"], experiment(MLP), "mlp")


def test_one_row_per_method_with_what_it_is(rows):
    assert list(rows["method"]) == ["star", *["anchor"] * N_ANCHORS, "anchors_ensemble",
                                    "star_and_anchors_ensemble", "segment_ensemble"]
    assert list(rows["model"]) == ["", "anchor-0", "anchor-1", "anchor-2", "", "", ""]
    assert list(rows["n_models"]) == [1, 1, 1, 1, N_ANCHORS, N_ANCHORS + 1, SAMPLES]
    assert (rows["star"] == "star-0").all() and (rows["n_test_eval"] == 1000).all() and (rows["n_bn"] == 0).all()
    assert list(rows["description"]) == [METHODS[m] for m in rows["method"]]
    assert {"code", "torch", "rebasin"} <= set(rows.columns) and rows["code"].str.len().eq(16).all()


def test_single_model_rows_equal_evaluate(rows, trained, small_splits):
    by_model = rows.set_index(["method", "model"])
    models = {("star", ""): trained["star"], **{("anchor", f"anchor-{i}"): m for i, m in enumerate(trained["anchors"])}}
    x, y = small_splits.test.normalised(), small_splits.test.labels
    for key, model in models.items():
        loss, acc = evaluate(model, small_splits.test)
        # evaluate sums logsumexp and target logits separately in float32 and subtracts: ~1e-6 relative error
        assert by_model.loc[key, "test_nll"] == pytest.approx(loss, rel=1e-5), key
        assert by_model.loc[key, "test_acc"] == acc, key
        with torch.no_grad():
            exact = torch.nn.functional.cross_entropy(model(x).double(), y).item()
        assert by_model.loc[key, "test_nll"] == pytest.approx(exact, rel=1e-7), key


def test_an_ensemble_of_one_model_is_that_model(trained, small_splits):
    for model in (trained["star"], *trained["anchors"]):
        nll, acc = evaluate_ensemble([model], small_splits.test, batch_size=300)
        loss, ref_acc = evaluate(model, small_splits.test)
        assert nll == pytest.approx(loss, rel=1e-5) and acc == ref_acc


def test_averaged_probabilities_against_a_hand_written_reference(trained, small_splits):
    test = small_splits.test
    small = ImageSet(test.images[:70], test.labels[:70], test.mean, test.std)
    models = [trained["star"], *trained["anchors"]]
    x, y = small.normalised(), small.labels
    with torch.no_grad():
        probs = sum(torch.softmax(m(x).double(), 1) for m in models) / len(models)
        mean_logits = sum(m(x).double() for m in models) / len(models)
    ref_nll = -torch.log(probs[torch.arange(70), y]).mean().item()
    ref_acc = (probs.argmax(1) == y).double().mean().item()
    nll, acc = evaluate_ensemble(models, small, batch_size=32)  # 32 + 32 + 6: a ragged last batch
    assert nll == pytest.approx(ref_nll, rel=1e-5) and acc == ref_acc
    # the test can tell averaged probabilities from averaged logits
    logit_nll = torch.nn.functional.cross_entropy(mean_logits, y).item()
    assert abs(logit_nll - ref_nll) > 100 * abs(nll - ref_nll)
    # several ensembles in one pass: each as if evaluated alone
    named = evaluate_ensembles(models, {"all": [0, 1, 2, 3], "pair": [3, 1], "one": [2]}, small, batch_size=32)
    assert named["all"] == (nll, acc)
    assert named["pair"] == pytest.approx(evaluate_ensemble([models[3], models[1]], small))
    assert named["one"] == pytest.approx(evaluate(models[2], small), rel=1e-5)
    # log space: members certain of different classes still give a finite NLL
    confident = [torch.tensor([[200.0, 0.0]]), torch.tensor([[0.0, 200.0]])]
    assert torch.allclose(log_mean_probs(confident).exp(), torch.tensor([[0.5, 0.5]]))


def test_anchors_ensemble_beats_single_anchors_on_nll(rows):
    anchors = rows[rows["method"] == "anchor"]
    ensemble = rows.set_index("method").loc["anchors_ensemble"]
    # ≤ the mean always holds (−log is convex: Jensen); the gap is the anchors' disagreement
    assert ensemble["test_nll"] < anchors["test_nll"].mean() - 0.01
    # beating the best member takes distinct solutions: three SGD runs from different seeds are
    assert ensemble["test_nll"] < anchors["test_nll"].min()


def test_segment_points_are_a_pure_function_of_the_seed():
    points = segment_points(3, 200, seed=7)
    assert points == segment_points(3, 200, seed=7)
    assert points != segment_points(3, 200, seed=8)
    assert {i for i, _ in points} == {0, 1, 2} and all(0.0 <= t <= 1.0 for _, t in points)
    assert 0.4 < sum(t for _, t in points) / len(points) < 0.6
    with pytest.raises(ValueError, match="ensembles.samples=0"):
        segment_points(3, 0, seed=0)


def test_segment_models_are_a_pure_function_of_the_seed(trained):
    star, anchors = trained["star"], trained["anchors"]
    before = copy.deepcopy(star.state_dict())
    points, models = segment_models(star, anchors, 5, seed=1)
    again_points, again = segment_models(star, anchors, 5, seed=1)
    other_points, other = segment_models(star, anchors, 5, seed=2)
    assert points == again_points and points != other_points
    for a, b, c in zip(models, again, other):
        sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
        assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    for (i, t), model in zip(points, models):  # each at its (1−t)·θ_star + t·θ_anchor
        expected = interpolate_state(star.state_dict(), anchors[i].state_dict(), t)
        assert all(torch.equal(v, expected[k]) for k, v in model.state_dict().items())
    assert all(torch.equal(v, before[k]) for k, v in star.state_dict().items())  # the star is left alone


def test_segment_models_with_bn_get_statistics_of_their_own(small_splits):
    torch.manual_seed(0)
    star, anchors = build_model(BN_MLP).eval(), [build_model(BN_MLP).eval() for _ in range(2)]
    for i, anchor in enumerate(anchors):  # stored statistics far from anything the data gives
        anchor.net[2].running_mean.fill_(5.0 + i)
        anchor.net[2].running_var.fill_(30.0)
    bn_x = small_splits.train.head(300)
    points, models = segment_models(star, anchors, 4, seed=0, bn_x=bn_x)
    means = []
    for (i, t), model in zip(points, models):
        # the first BN layer sees W_t x + b_t: its statistics are exactly those of that layer's output on bn_x
        params = interpolate_state(star.state_dict(), anchors[i].state_dict(), t)
        z = (bn_x.flatten(1).double() @ params["net.1.weight"].double().T + params["net.1.bias"].double())
        assert torch.allclose(model.net[2].running_mean.double(), z.mean(0), atol=1e-5)
        assert torch.allclose(model.net[2].running_var.double(), z.var(0), rtol=1e-4)
        # and every BN layer matches re-estimating a fresh copy of the interpolated model
        fresh = copy.deepcopy(star)
        fresh.load_state_dict(params)
        recompute_bn_stats(fresh, bn_x)
        assert all(torch.equal(v, fresh.state_dict()[k]) for k, v in model.state_dict().items())
        assert not model.training
        means.append(model.net[5].running_mean)
    assert all(not torch.equal(means[0], m) for m in means[1:])
    with pytest.raises(ValueError, match="BatchNorm"):
        segment_model(star, anchors[0], 0.5)


def test_bn_job_does_not_depend_on_stored_statistics(small_splits, dataset_file, tmp_path):
    """Star and anchors are evaluated, like every segment model, with statistics re-estimated on the BN subset."""
    for seed in range(3):
        torch.manual_seed(seed)
        model = build_model(BN_MLP)
        train_classifier(f"m{seed}", model, small_splits.train, {**TRAIN, "epochs": 1}, seed)
        save_model(model, BN_MLP, tmp_path / f"stored-{seed}.pt")
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.add_(3.0)
                m.running_var.mul_(20.0)
        save_model(model, BN_MLP, tmp_path / f"off-{seed}.pt")
    results = {}
    for tag in ("stored", "off"):
        out = tmp_path / f"{tag}.csv"
        ensemble_job(str(dataset_file), experiment(BN_MLP, samples=3), "star-0", str(tmp_path / f"{tag}-0.pt"),
                     ["anchor-0", "anchor-1"], [str(tmp_path / f"{tag}-{s}.pt") for s in (1, 2)], str(out))
        results[tag] = pd.read_csv(out, keep_default_na=False)
    numbers = ["test_acc", "test_nll"]
    assert results["stored"][numbers].equals(results["off"][numbers])
    assert (results["stored"]["n_bn"] == 500).all() and (results["stored"]["test_acc"] > 0.5).all()


def test_bad_settings_are_named(trained, dataset_file, tmp_path):
    folder = trained["folder"]
    for exp, message in ((experiment(MLP, samples=0), "ensembles.samples=0"),
                         (experiment(MLP, seed=-1), "ensembles.seed=-1"),
                         ({**experiment(MLP), "ensembles": None}, "ensembles.samples=None"),
                         ({**experiment(MLP), "alignment": {}}, "alignment.seed=None")):
        with pytest.raises(ValueError, match=message):
            run_job(dataset_file, folder, exp, "bad")
    with pytest.raises(TypeError, match="ensembles=.*needs a section"):
        run_job(dataset_file, folder, {**experiment(MLP), "ensembles": [8, 0]}, "bad")
    with pytest.raises(ValueError, match="one id per anchor checkpoint"):
        ensemble_job(str(dataset_file), experiment(MLP), "star-0", str(folder / "star-0.pt"), ["anchor-0"],
                     [str(folder / "anchor-0.pt"), str(folder / "anchor-1.pt")], str(tmp_path / "x.csv"))
