"""Does `deterministic: true` give identical weights in two runs? Two short runs, each in its own process (cuBLAS
reads CUBLAS_WORKSPACE_CONFIG when it starts), train two anchors and a star on them (resnet18_cifar on synthetic
CIFAR-shaped data, BN statistics re-estimated as the jobs do) and save every tensor; the parent compares them
bit for bit. `--no-deterministic` shows what the flag buys (on a GPU the runs then usually differ).

    .venv/bin/python benchmarks/determinism.py --device cuda
    .venv/bin/python benchmarks/determinism.py                  # the CPU is deterministic anyway: a path check
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from harness import parser

from starlight.data import ImageSet
from starlight.measure.bn import recompute_bn_stats
from starlight.models import build_model
from starlight.pipeline.runtime import configure
from starlight.training.loop import train_classifier
from starlight.training.star import train_star

TRAIN = {"epochs": 2, "batch_size": 64, "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4,
         "schedule": "cosine", "warmup_steps": 0}


def child(args) -> None:
    configure(args.threads, deterministic=args.deterministic)
    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (args.images, 3, 32, 32), generator=g, dtype=torch.uint8)
    data = ImageSet(images, torch.randint(0, 10, (args.images,), generator=g), (0.5,) * 3, (0.25,) * 3).to(device)
    model_cfg = {"name": "resnet18_cifar", "width_multiplier": args.width_multiplier}
    out = {}
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = build_model(model_cfg, (3, 32, 32)).to(device)
        train_classifier(f"anchor-{seed}", model, data, TRAIN, seed)
        out[f"anchor-{seed}"] = recompute_bn_stats(model, data.head(256)).state_dict()
    torch.manual_seed(7)
    star = build_model(model_cfg, (3, 32, 32)).to(device)
    train_star("star", star, [out["anchor-0"], out["anchor-1"]], data, TRAIN, seed=7)
    out["star"] = recompute_bn_stats(star, data.head(256)).state_dict()
    torch.save({name: {k: v.cpu() for k, v in sd.items()} for name, sd in out.items()}, args.child)


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--images", type=int, default=1024)
    p.add_argument("--width-multiplier", type=float, default=None, help="default: 1 on a GPU, 1/8 on the CPU")
    p.add_argument("--deterministic", action="store_true", default=True)
    p.add_argument("--no-deterministic", dest="deterministic", action="store_false")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.width_multiplier is None:
        args.width_multiplier = 1.0 if args.device.startswith("cuda") else 0.125
    if args.child:
        child(args)
        return
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: CUDA is not available on this machine")
    print(f"# two runs, deterministic={args.deterministic}, device {args.device}, resnet18_cifar width "
          f"{args.width_multiplier}, {args.images} images, {TRAIN['epochs']} epochs (2 anchors and a star)")
    with tempfile.TemporaryDirectory() as tmp:
        runs = [Path(tmp) / f"run{i}.pt" for i in range(2)]
        for run in runs:
            flag = "--deterministic" if args.deterministic else "--no-deterministic"
            subprocess.run([sys.executable, __file__, "--child", str(run), "--device", args.device, "--threads",
                            str(args.threads), "--images", str(args.images), "--width-multiplier",
                            str(args.width_multiplier), flag], check=True)
        a, b = (torch.load(run, weights_only=True) for run in runs)
    differing = [f"{name}.{k}" for name in a for k in a[name] if not torch.equal(a[name][k], b[name][k])]
    n = sum(len(sd) for sd in a.values())
    for name in differing[:10]:
        print(f"differs: {name}")
    print(f"determinism/resnet18_cifar: identical={not differing} tensors={n} differing={len(differing)}")
    if args.deterministic and differing:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
