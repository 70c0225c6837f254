"""Side-by-side timing for the speed targets: two (or more) candidates measured in one process, interleaved.

Shared machines are noisy: a candidate timed for a minute and then another for the next minute measures the
load as much as the code. Here every repetition times each candidate once, in turn (A, B, A, B, …), after a
warm-up; a ratio is the median of the per-repetition ratios (each from two neighbouring measurements), and
every table shows the medians and the load average while it ran. On CUDA each measurement is bracketed by
`torch.cuda.synchronize()`, so it times the kernels, not their launch, on the wall clock. On the CPU the default
clock is the process's CPU time (`time.process_time`, all its threads): on a shared machine whose load exceeds
its cores, wall time mostly measures how long the scheduler kept the process waiting, while CPU time measures
the work (`--clock wall` for the wall clock).

Every script ends with one line per target, `name: ratio=X target=Y`, which `gpu.sh` and BENCHMARKS.md collect.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python benchmarks/<script>.py` from a checkout
    sys.path.insert(0, str(ROOT))

import torch


def parser(description: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads, as a pipeline job uses (default: 1)")
    p.add_argument("--reps", type=int, default=None, help="interleaved repetitions (default: per script)")
    p.add_argument("--clock", choices=("auto", "cpu", "wall"), default="auto",
                   help="auto: CPU time of the process on the CPU, wall time on CUDA")
    return p


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def clock_of(args: argparse.Namespace) -> str:
    if args.clock != "auto":
        return args.clock
    return "wall" if args.device.startswith("cuda") else "cpu"


def setup(args: argparse.Namespace) -> torch.device:
    """Threads and device as a pipeline job sets them; a clear error when CUDA is asked for and absent."""
    from starlight.pipeline.runtime import configure

    configure(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: CUDA is not available on this machine")
    return device


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def interleaved(candidates: dict[str, Callable[[], object]], reps: int, device: torch.device,
                warmup: int = 1, clock: str = "wall") -> dict[str, list[float]]:
    """Seconds per call of each candidate, `reps` times each, interleaved A, B, A, B, … after `warmup` calls."""
    now = CLOCKS[clock]
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    sync(device)
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(reps):
        for name, fn in candidates.items():
            sync(device)
            t0 = now()
            fn()
            sync(device)
            times[name].append(now() - t0)
    return times


def paired_ratio(times: dict[str, list[float]], numerator: str, denominator: str, scale: float = 1.0) -> float:
    """Median over repetitions of numerator_i / (scale · denominator_i)."""
    return statistics.median(a / (scale * b) for a, b in zip(times[numerator], times[denominator]))


def table(times: dict[str, list[float]], unit: str = "ms", factor: float = 1e3) -> str:
    rows = [f"{'candidate':<28}{'median ' + unit:>14}{'min ' + unit:>12}{'max ' + unit:>12}"]
    for name, ts in times.items():
        rows.append(f"{name:<28}{statistics.median(ts) * factor:>14.3f}{min(ts) * factor:>12.3f}"
                    f"{max(ts) * factor:>12.3f}")
    return "\n".join(rows)


def result_line(name: str, ratio: float, target: float) -> str:
    return f"{name}: ratio={ratio:.3f} target={target:.2f}"


def header(args: argparse.Namespace, what: str) -> None:
    print(f"# {what}")
    print(f"# device {args.device}, {args.threads} thread(s), {clock_of(args)} clock, torch {torch.__version__}, "
          f"load average at start {load_average()}")
