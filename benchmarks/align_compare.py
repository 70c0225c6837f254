"""Both alignment methods on the same trained pairs: seconds per pair and the barriers after alignment.

Pairs (Fashion-MNIST, trained here with the default experiment's SGD settings, one CPU thread):
- mlp: MLP 784-128-10 (one hidden layer, where both methods solve the same assignment problem), full training set;
- cnn_bn: the zoo's CNN with BatchNorm (3 conv layers, width 16), on 10,000 training images;
- resnet18_cifar: the CIFAR ResNet18 at width 1/8 (residual streams), on 5,000 training images.
Barriers are measured as the pipeline does (`starlight.measure.barrier.curve`, 11 points, BN statistics
re-estimated on 2,000 training images), on 5,000 training and 5,000 test images. Lower loss barriers and
less negative accuracy barriers are better; the distance is ||θ_a − P θ_b|| (lower is better).
Takes about 4 minutes on one thread.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from starlight.align import align_with_permutations
from starlight.data import DATASETS, load_dataset, make_splits
from starlight.measure.barrier import barriers_from_curve, curve, grid
from starlight.measure.bn import bn_subset, recompute_bn_stats
from starlight.models import build_model, has_batchnorm
from starlight.pipeline.runtime import configure, seed_everything
from starlight.training.loop import train_classifier

TRAIN = {"batch_size": 128, "lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4,
         "schedule": "cosine", "warmup_steps": 0, "checkpoint_every": 0}
# name: (model config, training images (None: all), epochs, pairs)
CASES = {
    "mlp": ({"name": "mlp", "depth": 1, "width": 128, "batchnorm": False}, None, 5, 3),
    "cnn_bn": ({"name": "cnn", "depth": 3, "width": 16, "batchnorm": True}, 10000, 4, 2),
    "resnet18_cifar": ({"name": "resnet18_cifar", "width_multiplier": 1 / 8}, 5000, 3, 2),
}
METHODS = ("matching", "rebasin")


def distance(a: torch.nn.Module, b: torch.nn.Module) -> float:
    return sum((pa - pb).pow(2).sum() for pa, pb in zip(a.parameters(), b.parameters())).sqrt().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", nargs="*", default=list(CASES))
    args = parser.parse_args()
    configure(1)
    raw, spec = load_dataset("fashion_mnist"), DATASETS["fashion_mnist"].spec
    evaluation = make_splits(raw, spec, val_size=6000, split_seed=0, train_subset=5000, test_subset=5000)
    eval_splits = {"train": evaluation.train, "test": evaluation.test}
    print(f"{'model':<16}{'method':<10}{'pairs':>6}{'groups':>7}{'align s':>9}{'train loss':>11}{'test loss':>10}"
          f"{'test acc':>10}{'distance':>10}   (barriers: mean over pairs)")
    for case in args.cases:
        cfg, n_train, epochs, n_pairs = CASES[case]
        splits = make_splits(raw, spec, val_size=6000, split_seed=0, train_subset=n_train)
        bn_x = bn_subset(splits.train, 2000, 0)
        models = []
        for seed in range(2 * n_pairs):
            seed_everything(seed)
            model = build_model(cfg, tuple(splits.train.images.shape[1:]))
            train_classifier(f"{case}-{seed}", model, splits.train, {**TRAIN, "epochs": epochs}, seed)
            models.append(model.eval())
        results = {m: {"seconds": [], "barriers": [], "distance": [], "groups": 0} for m in METHODS}
        unaligned = []
        for a, b in zip(models[::2], models[1::2]):
            unaligned.append(barriers_from_curve(curve(a, b, eval_splits, grid(11), bn_x if has_batchnorm(a) else None)))
            for method in METHODS:  # interleaved: A, B per pair
                example = splits.train.head(256)
                t0 = time.process_time()
                aligned, perms = align_with_permutations(a, b, example, method=method)
                results[method]["seconds"].append(time.process_time() - t0)
                if has_batchnorm(aligned):
                    recompute_bn_stats(aligned, bn_x)
                points = curve(a, aligned.eval(), eval_splits, grid(11), bn_x if has_batchnorm(a) else None)
                results[method]["barriers"].append(barriers_from_curve(points))
                results[method]["distance"].append(distance(a, aligned))
                results[method]["groups"] = len(perms)
        rows = [("unaligned", {"seconds": [0.0], "barriers": unaligned, "distance": [distance(a, b) for a, b in
                                                                                  zip(models[::2], models[1::2])],
                               "groups": 0})] + [(m, results[m]) for m in METHODS]
        for method, r in rows:
            mean = {k: statistics.mean(b[k] for b in r["barriers"]) for k in r["barriers"][0]}
            print(f"{case:<16}{method:<10}{n_pairs:>6}{r['groups']:>7}{statistics.median(r['seconds']):>9.3f}"
                  f"{mean['train_loss_barrier']:>11.4f}{mean['test_loss_barrier']:>10.4f}"
                  f"{mean['test_acc_barrier']:>10.4f}{statistics.mean(r['distance']):>10.3f}")


if __name__ == "__main__":
    main()
