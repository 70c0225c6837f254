"""Target 1: a Starlight step costs close to a plain step with the same optimizer.

A step is what training runs per batch (`starlight.training.loop.sgd_step`): loss, backward, update. The plain step
trains a model on its own loss; the Starlight step writes θ_t = lerp(θ_star, θ_anchor, t) into the star's
interpolated copy (anchor and t drawn as in training), runs forward and backward there and hands the gradients,
times (1−t), to the star. Both use the same optimizer settings, batches, model and initialisation, and are timed
interleaved in one process (benchmarks/harness.py).

Targets: ≤ 1.10 for the MLPs (the default's 784-128-128-128-10; 784-512-512-10), ≤ 1.05 for the BN CNN (depth 3, width
32) and resnet18_cifar at width 1/4 (32×32×3 inputs), where the step's convolutions dwarf the interpolation.

    .venv/bin/python benchmarks/star_step.py                      # every model
    .venv/bin/python benchmarks/star_step.py --model mlp512 --device cuda
    .venv/bin/python benchmarks/star_step.py --model resnet18_cifar --width-multiplier 1 --device cuda
"""

from __future__ import annotations

import random

import torch
from harness import clock_of, header, interleaved, paired_ratio, parser, result_line, setup, table

from starlight.models import build_model
from starlight.training.loop import sgd_step
from starlight.training.optim import make_optimizer, training_loss
from starlight.training.star import StarPoint, anchor_params, sample_t

TRAIN = {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4, "schedule": "cosine"}
# name: (model section, input shape, target, steps per timed block on the CPU)
MODELS = {
    "mlp": ({"name": "mlp", "depth": 3, "width": 128}, (1, 28, 28), 1.10, 20),
    "mlp512": ({"name": "mlp", "depth": 2, "width": 512}, (1, 28, 28), 1.10, 5),
    "cnn": ({"name": "cnn", "depth": 3, "width": 32, "batchnorm": True}, (1, 28, 28), 1.05, 1),
    "resnet18_cifar": ({"name": "resnet18_cifar", "width_multiplier": 0.25}, (3, 32, 32), 1.05, 1),
}
REPS = {"mlp": 50, "mlp512": 30, "cnn": 11, "resnet18_cifar": 7}


def steps(name: str, args, device: torch.device) -> tuple[dict, float]:
    model_cfg, shape, target, block = MODELS[name]
    if args.width_multiplier is not None and "width_multiplier" in model_cfg:
        model_cfg = {**model_cfg, "width_multiplier": args.width_multiplier}
    if device.type == "cuda":
        block *= 10  # GPU steps are short: time blocks of them
    torch.manual_seed(0)
    plain_model = build_model(model_cfg, shape).to(device).train()
    star_model = build_model(model_cfg, shape).to(device).train()
    star_model.load_state_dict(plain_model.state_dict())
    anchors = [anchor_params(star_model, build_model(model_cfg, shape).to(device).state_dict()) for _ in range(2)]
    batches = [(torch.randn(args.batch_size, *shape, device=device),
                torch.randint(0, 10, (args.batch_size,), device=device)) for _ in range(4)]
    plain_opt = make_optimizer(list(plain_model.parameters()), TRAIN)
    star_opt = make_optimizer(list(star_model.parameters()), TRAIN)
    point = StarPoint(star_model)
    rng = random.Random(0)

    def plain_loss(x, y, _rng):
        logits = plain_model(x)
        return training_loss(logits, y), logits

    def star_loss(x, y, draw):
        return point.loss(anchors[draw.randrange(len(anchors))], sample_t("uniform", draw), x, y)

    def plain():
        for i in range(block):
            x, y = batches[i % len(batches)]
            sgd_step(plain_loss, x, y, rng, plain_opt, list(plain_model.parameters()), TRAIN)

    def star():
        for i in range(block):
            x, y = batches[i % len(batches)]
            sgd_step(star_loss, x, y, rng, star_opt, point.star_params, TRAIN, point.hand_over_gradients)

    times = interleaved({"plain": plain, "starlight": star}, args.reps or REPS[name], device, warmup=2,
                        clock=clock_of(args))
    return {k: [t / block for t in v] for k, v in times.items()}, target


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--model", choices=list(MODELS), action="append", help="repeatable (default: all)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--width-multiplier", type=float, default=None, help="for resnet18_cifar (default 1/4)")
    args = p.parse_args()
    device = setup(args)
    header(args, "Starlight step ÷ plain step, same optimizer, batch and model (per step)")
    lines = []
    for name in args.model or list(MODELS):
        times, target = steps(name, args, device)
        print(f"\n## {name}\n{table(times)}")
        lines.append(result_line(f"star_step/{name}", paired_ratio(times, "starlight", "plain"), target))
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
