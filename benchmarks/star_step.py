"""Cost of one Starlight step (functional θ_t via torch.lerp + functional_call) relative to a plain SGD step.

Target: about 1.2x a plain step on the default MLP; the flat-vector alternative (concatenate all
parameters, copy them into a second model every step) measured 1.55x.
"""

import argparse
import time

import torch
import torch.nn.functional as F

from starlight.models import build_model
from starlight.runtime import configure
from starlight.star import star_loss


def time_steps(step, n: int, device) -> float:
    for _ in range(10):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--depth", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()
    configure(1)
    device = torch.device(args.device)
    cfg = {"name": "mlp", "depth": args.depth, "width": args.width}
    torch.manual_seed(0)
    model, anchor = build_model(cfg).to(device), build_model(cfg).to(device)
    anchor_p = {k: v.detach() for k, v in anchor.named_parameters()}
    scratch = {k: v.clone() for k, v in model.named_buffers()}
    x = torch.randn(args.batch_size, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (args.batch_size,), device=device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)

    def plain():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def star():
        loss, _ = star_loss(model, anchor_p, 0.3, x, y, scratch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    t_plain = time_steps(plain, args.steps, device)
    t_star = time_steps(star, args.steps, device)
    print(f"{'step':<10}{'ms':>10}{'ratio':>10}")
    print(f"{'plain':<10}{t_plain * 1e3:>10.3f}{1.0:>10.2f}")
    print(f"{'starlight':<10}{t_star * 1e3:>10.3f}{t_star / t_plain:>10.2f}")


if __name__ == "__main__":
    main()
