"""Seconds to align a full-width CIFAR ResNet18 pair on 1 CPU thread: our engine ("matching") against the
repaired rebasin, measured side by side (interleaved, medians), with the weight distance ||θ_a − P θ_b||
each reaches (lower is better: both maximise <θ_a, P θ_b>).

Target: matching ≤ 1.0 s per pair (rebasin took 1.8–3.2 s on the development machine). Two pairs: two
random initialisations, and a related pair (θ_b = a random permutation of θ_a plus noise as large as the
weights), whose matching has a strong optimum, as trained pairs from related runs do. Each alignment traces
the model on 4 example images and checks the aligned model on them. Runs in about a minute.

Seconds are this process's CPU seconds (one thread), which a machine busy with other work inflates far
less than wall-clock seconds; the wall-clock medians are printed next to them. The last lines are
`align_resnet18_cifar: ratio=<CPU seconds of the slower pair / 1.0 s> target=1.0` and
`align_distance_vs_rebasin: ratio=<the largest distance(matching) / distance(rebasin) over the pairs> target=1.0`.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from starlight.align import align_with_permutations, apply_permutations, permutation_spec
from starlight.models import build_model
from starlight.pipeline.runtime import configure

TARGET_SECONDS = 1.0


def resnet18_cifar(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return build_model({"name": "resnet18_cifar"}, (3, 32, 32), 10)


@torch.no_grad()
def related(model: nn.Module, x: torch.Tensor, seed: int) -> nn.Module:
    """A random permutation of `model` with Gaussian noise of each weight's own scale added."""
    gen = torch.Generator().manual_seed(seed)
    spec = permutation_spec(model, x)
    perms = {g.name: torch.randperm(g.size, generator=gen) for g in spec.groups}
    state = apply_permutations(model.state_dict(), spec, perms)
    noisy = {k: v + v.std() * torch.randn(v.shape, generator=gen) if k.endswith("weight") and v.dim() > 1 else v
             for k, v in state.items()}
    out = resnet18_cifar(0)
    out.load_state_dict(noisy)
    return out


def distance(a: nn.Module, b: nn.Module) -> float:
    return sum((pa - pb).pow(2).sum() for pa, pb in zip(a.parameters(), b.parameters())).sqrt().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    configure(1)
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    reference = resnet18_cifar(0)
    pairs = {"random init": resnet18_cifar(1), "related": related(reference, x, seed=1)}
    methods = ("matching", "rebasin")
    print(f"{'pair':<12}{'method':<10}{'cpu s':>8}{'wall s':>8}{'groups':>8}{'distance':>10}{'unaligned':>11}")
    slowest, distance_ratio = 0.0, 0.0
    for pair, model in pairs.items():
        cpu, wall = {m: [] for m in methods}, {m: [] for m in methods}
        results = {}
        for _ in range(args.repeats):
            for method in methods:  # interleaved: A, B, A, B, ...
                c0, w0 = time.process_time(), time.perf_counter()
                results[method] = align_with_permutations(reference, model, x, method=method)
                cpu[method].append(time.process_time() - c0)
                wall[method].append(time.perf_counter() - w0)
        for method in methods:
            aligned, perms = results[method]
            print(f"{pair:<12}{method:<10}{statistics.median(cpu[method]):>8.3f}{statistics.median(wall[method]):>8.3f}"
                  f"{len(perms):>8}{distance(reference, aligned):>10.3f}{distance(reference, model):>11.3f}")
        slowest = max(slowest, statistics.median(cpu["matching"]))
        distance_ratio = max(distance_ratio, distance(reference, results["matching"][0])
                             / distance(reference, results["rebasin"][0]))
    print(f"align_resnet18_cifar: ratio={slowest / TARGET_SECONDS:.3f} target=1.0")
    # matching must reach the same weight distance as rebasin or a lower one, on every pair
    print(f"align_distance_vs_rebasin: ratio={distance_ratio:.4f} target=1.0")


if __name__ == "__main__":
    main()
