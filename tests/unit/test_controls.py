"""The controls of the star's claim: the quality-matched control's budget search, merged anchors, path metrics,
and the reference code's protocol options (per-epoch schedule, re-alignment before the first epoch)."""

import math

import pytest
import torch
from planting import chain_groups, plant

from starlight.align import align
from starlight.align.merge import average_states, merge_many
from starlight.measure.barrier import path_metrics
from starlight.measure.metrics import evaluate
from starlight.models import build_model
from starlight.pipeline import experiment as xp
from starlight.training.control import Probe, next_budget, search_budget, within
from starlight.training.loop import train_classifier
from starlight.training.optim import make_scheduler
from starlight.training.star import train_star

TRAIN = {"epochs": 3, "batch_size": 64, "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4,
         "schedule": "cosine"}
MLP = {"name": "mlp", "depth": 2, "width": 32}


def power_law(steps: int) -> float:
    """A loss that falls with the budget as a trained model's does: 2.3 at no training, 0.17 at 4,000 steps."""
    return 0.15 + 2.15 / (1 + steps / 40)


@pytest.mark.parametrize(("target", "most"), [(0.2445, 4), (0.19, 4), (0.5, 5), (1.0, 6)])
def test_the_search_lands_within_tolerance_in_few_trainings(target, most):
    trained = []

    def train_to(steps):
        trained.append(steps)
        return power_law(steps)

    chosen, probes = search_budget(train_to, target, full=4000, tolerance=0.02, max_trainings=8)
    assert within(chosen.loss, target, 0.02), (chosen, probes)
    assert [p.steps for p in probes] == trained and len(trained) <= most, trained
    assert len(set(trained)) == len(trained)  # no budget trained twice


def test_a_star_better_than_the_full_budget_keeps_the_full_budget_unmatched():
    chosen, probes = search_budget(power_law, 0.1, full=4000, tolerance=0.02, max_trainings=8)
    assert chosen.steps == 4000 and not within(chosen.loss, 0.1, 0.02)
    assert [p.steps for p in probes] == [2000, 4000]


def test_an_interrupted_search_continues_where_it_stopped():
    first, probes = search_budget(power_law, 0.2445, full=4000, tolerance=0.02, max_trainings=2)
    assert len(probes) == 2 and not within(first.loss, 0.2445, 0.02)
    again = []
    chosen, all_probes = search_budget(lambda s: again.append(s) or power_law(s), 0.2445, 4000, 0.02, 8, probes)
    assert all_probes[:2] == probes and again == [p.steps for p in all_probes[2:]]
    assert within(chosen.loss, 0.2445, 0.02)
    # one more call with a finished search trains nothing
    assert search_budget(lambda s: pytest.fail("trained again"), 0.2445, 4000, 0.02, 8, all_probes)[0] == chosen


def test_next_budget_interpolates_in_log_log_inside_the_bracket():
    lo, hi = Probe(1000, power_law(1000)), Probe(2000, power_law(2000))
    target = power_law(1400)
    budget = next_budget([lo, hi], target, 4000)
    assert 1100 <= budget <= 1900 and abs(budget - 1400) < 100
    assert next_budget([Probe(10, 0.5), Probe(11, 0.3)], 0.4, 4000) is None  # adjacent steps: nothing between


def test_training_on_a_budget_of_steps_stops_there_and_anneals(small_splits):
    torch.manual_seed(0)
    model = build_model(MLP)
    steps_per_epoch = small_splits.train.steps_per_epoch(TRAIN["batch_size"])
    budget = steps_per_epoch + 5
    history = train_classifier("control", model, small_splits.train, TRAIN, 0, steps=budget)
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[-1]["lr"] == pytest.approx(0.0, abs=1e-12)  # the cosine spans the budget and ends at zero
    full = train_classifier("anchor", build_model(MLP), small_splits.train, TRAIN, 0)
    assert len(full) == 3 and full[-1]["loss"] < history[-1]["loss"]


def test_merging_permuted_copies_gives_back_the_model(small_splits):
    torch.manual_seed(0)
    model = build_model(MLP).eval()
    copies = [model] + [plant(model, chain_groups(model), seed) for seed in (1, 2, 3)]
    example = small_splits.train.head(64)
    assert not torch.equal(copies[1].state_dict()["net.1.weight"], model.state_dict()["net.1.weight"])
    merged, how = merge_many(copies, lambda ref, m: align(ref, m, example), rounds=5)
    x = small_splits.test.normalised()[:200]
    assert torch.allclose(merged(x), model(x), atol=1e-5)
    assert how["converged"] and how["rounds"] <= 2


def test_merging_independent_models_beats_their_plain_average(small_splits):
    models = []
    for seed in range(3):
        torch.manual_seed(seed)
        m = build_model(MLP)
        train_classifier(f"anchor-{seed}", m, small_splits.train, TRAIN, seed)
        models.append(m.eval())
    example = small_splits.train.head(256)
    merged, how = merge_many(models, lambda ref, m: align(ref, m, example), rounds=10)
    naive = build_model(MLP)
    naive.load_state_dict(average_states([m.state_dict() for m in models]))
    merged_loss, naive_loss = evaluate(merged, small_splits.test)[0], evaluate(naive, small_splits.test)[0]
    assert merged_loss < naive_loss - 0.1, (merged_loss, naive_loss)
    assert how["rounds"] >= 1
    one, how_one = merge_many(models[:1], lambda ref, m: pytest.fail("one model needs no alignment"), rounds=10)
    assert torch.equal(one.state_dict()["net.1.weight"], models[0].state_dict()["net.1.weight"])
    assert how_one == {"rounds": 0, "converged": True}


def test_path_metrics_see_what_the_chord_hides():
    # a worse model1 (loss 1.0) to a good model2 (0.2): the path never rises above model1, so the barrier is 0,
    # yet its highest loss (0.9 in the middle... the endpoint 1.0) is far above model2's
    losses = {0.0: 1.0, 0.5: 0.9, 1.0: 0.2}
    rows = [{"t": t, "split": split, "loss": v, "accuracy": 1 - v / 2} for t, v in losses.items()
            for split in ("train", "test")]
    m = path_metrics(rows)
    assert m["train_path_max_loss"] == 1.0 and m["train_path_excess_loss"] == 0.0
    assert m["test_path_min_acc"] == 0.5 and m["test_path_excess_acc"] == 0.0
    rows = [{**r, "loss": 1.5} if r["t"] == 0.5 else r for r in rows]
    rows = [{**r, "accuracy": 0.2} if r["t"] == 0.5 else r for r in rows]
    m = path_metrics(rows)
    assert m["train_path_max_loss"] == 1.5 and m["train_path_excess_loss"] == pytest.approx(0.5)
    assert m["train_path_min_acc"] == 0.2 and m["train_path_excess_acc"] == pytest.approx(0.2 - 0.5)


def experiment(**controls):
    return {"anchors": {"count": 4, "seed_start": 0}, "heldout": {"count": 2, "seed_start": 100},
            "star": {"n_anchors": [2, 4], "per_k": 2, "seed_start": 200},
            "controls": {"quality_matched": True, "merged": True, "seed_start": 300, **controls},
            "barrier": {}}


def test_controls_and_merged_models_have_their_pairs_and_their_k():
    exp = experiment()
    pairs = xp.all_pairs(exp)
    assert pairs["control_heldout"][:2] == [("control-k2-0", "heldout-100"), ("control-k2-0", "heldout-101")]
    assert len(pairs["control_heldout"]) == 4 * 2  # one control per star (2 k x 2 replicates)
    assert pairs["merged_heldout"] == [(f"merged-k{k}", h) for k in (2, 4) for h in ("heldout-100", "heldout-101")]
    assert pairs["merged_anchor"] == [("merged-k2", "anchor-0"), ("merged-k2", "anchor-1")] + [
        ("merged-k4", f"anchor-{i}") for i in range(4)]
    assert [xp.n_anchors_of(exp, m) for m in ("star-k4-1", "control-k4-1", "merged-k2", "anchor-0")] == [4, 4, 2, None]
    assert xp.control_seed(exp, xp.star(exp, "star-k4-1")) == 301
    assert [p[0] for p in xp.pairs(exp)][:3] == ["star_heldout"] * 3  # the existing pairs come first, unchanged
    off = experiment(quality_matched=False, merged=False)
    assert not any(xp.all_pairs(off)[t] for t in ("control_heldout", "merged_heldout", "merged_anchor"))


def test_the_controls_seed_range_is_checked_against_the_others():
    exp = experiment(seed_start=201)  # 201 is the second star replicate's seed
    ranges = xp.ConfigError
    with pytest.raises(ranges, match=r"seed ranges of star \(200..201\) and controls \(201..202\) overlap"):
        xp.check("e", {**exp, "dataset": "fashion_mnist", "data": {}, "model": MLP,
                       "train": {"batch_size": 64}, "barrier": {}})


def test_the_per_epoch_schedule_holds_the_rate_for_each_epoch():
    params = [torch.nn.Parameter(torch.zeros(1))]
    rates = {}
    for per_epoch in (False, True):
        opt = torch.optim.SGD(params, lr=0.1)
        sched = make_scheduler(opt, {"schedule": "cosine", "schedule_per_epoch": per_epoch}, 40, steps_per_epoch=10)
        rates[per_epoch] = []
        for _ in range(40):
            rates[per_epoch].append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
    per_epoch = rates[True]
    for epoch in range(4):  # the reference code's CosineAnnealingLR(T_max=epochs), stepped once per epoch
        expected = 0.05 * (1 + math.cos(math.pi * epoch / 4))
        assert per_epoch[10 * epoch: 10 * epoch + 10] == pytest.approx([expected] * 10)
    assert rates[False][:10] != pytest.approx(per_epoch[:10]) and rates[False][0] == per_epoch[0]
    assert rates[False][15] == pytest.approx(0.05 * (1 + math.cos(math.pi * 15 / 40)))


def test_realigning_before_training_permutes_the_anchors_onto_the_initial_star(small_splits):
    anchors = []
    for seed in range(2):
        torch.manual_seed(seed)
        m = build_model(MLP)
        train_classifier(f"anchor-{seed}", m, small_splits.train, {**TRAIN, "epochs": 1}, seed)
        anchors.append(m.state_dict())
    calls = []

    def realign(star, state, basis):
        calls.append(len(calls))
        model = build_model(MLP)
        model.load_state_dict(state)
        return align(star, model, small_splits.train.head(64)).state_dict(), "permuted"

    cfg = {**TRAIN, "epochs": 1}
    for first in (False, True):
        calls.clear()
        bases = [None, None]
        torch.manual_seed(10)
        train_star("star", build_model(MLP), anchors, small_splits.train, cfg, 10, realign=realign, bases=bases,
                   realign_first=first)
        # one epoch: never re-aligned after it (the last); before it only when asked
        assert calls == ([0, 1] if first else []) and bases == (["permuted"] * 2 if first else [None, None])
