"""Target 3: pipeline overhead. The compute share of a run's jobs, from the phases line every job logs
(starlight/io/phases.py): compute ÷ (start-up + load + compute + write), summed over the jobs, on the wall clock (the
process CPU clock beside it). Target: ≥ 0.70 for the default run and for a 20 × 20 anchor–held-out barrier stage.

It reads runs already made (a run takes longer than a benchmark should):

    snakemake --cores 2                                              # the default run: results/fashion_mlp
    snakemake --configfile benchmarks/barrier_stage.yaml --cores 2   # the barrier stage: results/barrier_stage
    .venv/bin/python benchmarks/pipeline_share.py --run default=results/fashion_mlp \\
        --run barrier_stage=results/barrier_stage/logs/barrier/anchor-*.log

Each `--run NAME=PATH...` takes a results folder or log files (shell globs expand to several); prints
`pipeline/NAME: share=X target=0.70`.
"""

from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from starlight.io.phases import PHASES, run_phases

TARGET = 0.70


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", action="append", required=True, metavar="NAME=PATH",
                   help="a results folder or a glob of log files; repeatable")
    args = p.parse_args()
    lines = []
    for spec in args.run:
        name, _, pattern = spec.partition("=")
        paths = sorted(glob.glob(pattern)) or [pattern]
        missing = [path for path in paths if not Path(path).exists()]
        if missing:
            raise SystemExit(f"--run {spec}: {missing[0]} does not exist (make the run first; see --help)")
        out = run_phases(*paths)
        if not out["jobs"]:
            raise SystemExit(f"--run {spec}: no job log with a phases line there")
        print(f"\n## {name}: {out['jobs']} jobs")
        print(f"{'phase':<10}{'wall s':>10}{'cpu s':>10}")
        for k in PHASES:
            print(f"{k:<10}{out['wall'][k]:>10.2f}{out['cpu'][k]:>10.2f}")
        share = out["compute_share"]
        print(f"compute share: {share['wall']:.3f} of wall time, {share['cpu']:.3f} of CPU time")
        lines.append(f"pipeline/{name}: share={share['wall']:.3f} cpu_share={share['cpu']:.3f} target={TARGET:.2f}")
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
