"""What tracing costs the `rebasin` method: a full-width CIFAR ResNet18 pair aligned by `rebasin_align` with
its graph traced on the whole example batch (as it was) and on one example (as it is, `TRACE_EXAMPLES = 1`),
timed side by side in one process (interleaved, medians; benchmarks/harness.py).

The batch is the 256 training images the pipeline's jobs pass to alignment (`--batch`). torchview records the
graph from one forward pass, so the batch only makes the trace slower: both candidates must find the same
permutations and the same aligned weights, which the script checks before timing. The coordinate descent itself
(about 1.2 s on one thread) is the same in both, so it bounds the ratio from below. Measured on one thread
(CPU seconds): 7.49 s traced on 256 images, 1.35 s on one (ratio 0.18).
Target: one example ≤ 0.5 × the whole batch. Runs in about a minute on one thread.

    .venv/bin/python benchmarks/align_trace.py
    .venv/bin/python benchmarks/align_trace.py --batch 64 --reps 5

The last line is `align_rebasin_trace: ratio=<seconds traced on one example / seconds traced on the batch>
target=0.50`.
"""

from __future__ import annotations

import torch
from harness import clock_of, header, interleaved, paired_ratio, parser, result_line, setup, table
from torch import nn

from starlight.align import rebasin
from starlight.models import build_model

TARGET = 0.5


def resnet18_cifar(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return build_model({"name": "resnet18_cifar"}, (3, 32, 32), 10)


def traced_on(examples: int, reference: nn.Module, model: nn.Module, x: torch.Tensor):
    """`rebasin_align` with its graph traced on the first `examples` images of `x`."""
    def run():
        saved, rebasin.TRACE_EXAMPLES = rebasin.TRACE_EXAMPLES, examples
        try:
            return rebasin.rebasin_align(reference, model, x)
        finally:
            rebasin.TRACE_EXAMPLES = saved
    return run


def same_result(a: tuple[nn.Module, dict], b: tuple[nn.Module, dict]) -> bool:
    (model_a, perms_a), (model_b, perms_b) = a, b
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    return (perms_a.keys() == perms_b.keys() and all(torch.equal(perms_a[k], perms_b[k]) for k in perms_a)
            and all(torch.equal(state_a[k], state_b[k]) for k in state_a))


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--batch", type=int, default=256, help="example images passed to the alignment (default: 256)")
    args = p.parse_args()
    device = setup(args)
    reps = args.reps or 3
    header(args, f"rebasin_align on a full-width resnet18_cifar pair, traced on {args.batch} images vs on 1")
    x = torch.randn(args.batch, 3, 32, 32, generator=torch.Generator().manual_seed(0)).to(device)
    reference, model = resnet18_cifar(0).to(device).eval(), resnet18_cifar(1).to(device).eval()
    candidates = {f"traced on {args.batch} (before)": traced_on(args.batch, reference, model, x),
                  "traced on 1 (now)": traced_on(1, reference, model, x)}
    batch, one = candidates
    results = {name: run() for name, run in candidates.items()}
    if not same_result(results[batch], results[one]):
        raise SystemExit("tracing on one example changed the permutations or the aligned weights")
    print(f"# same permutations ({len(results[one][1])} groups) and aligned weights either way")
    times = interleaved(candidates, reps, device, warmup=0, clock=clock_of(args))  # the check above warmed up
    print(table(times, unit="s", factor=1.0))
    print(result_line("align_rebasin_trace", paired_ratio(times, one, batch), TARGET))


if __name__ == "__main__":
    main()
