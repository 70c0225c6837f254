"""Idle gaps between SLURM jobs on the local cluster: the seconds from a job's end to the submission of the next,
on config/tiny.yaml through profiles/slurm, runs interleaved A, B, A, B.

    A: the plugin's pacing: first status check after 40 s (its default), then 10 s more at each check that
       finds no finished job, up to 180 s (the workflow's steady_status_checks turned off in A's copy)
    B: the profile as shipped: a status check every 10 s (starlight/slurm/pacing.py)

Needs root and a running local cluster (`scripts/slurm-cluster.sh start`). The times come from the cluster's
job-completion log (whole seconds; `pacing.submission_gaps`); the squeue calls per minute are 60 / interval while
jobs are queued or running. Target: every gap of B under 15 s.

    .venv/bin/python benchmarks/slurm_gaps.py [--repeats 1]

Measured here (2 CPU cores under a load of about 4, the local cluster of scripts/slurm-cluster.sh,
`--repeats 1`, 2026-12-07):

    variant                              SLURM jobs  gaps  median gap  max gap   wall
    A: plugin pacing (40 s, back-off)             6     4          9s      17s   165s
    B: profile (steady 10 s)                      6     4          7s       8s   124s
    slurm_gaps: max_gap=8s target=<15s meets target

B asks SLURM 6 times a minute while jobs run; A starts at 1.5 a minute and falls to 1 every 3 minutes.
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from slurm_startup import SNAKEMAKE, interleaved_runs

from starlight.slurm.pacing import submission_gaps
from starlight.slurm.queries import config, jobcomp_records

COMMON = ("--profile", "profiles/slurm", "--configfile", "config/tiny.yaml", "--config", "allow_cpu_fallback=True")
VARIANTS = {"A: plugin pacing (40 s, back-off)": ("--slurm-init-seconds-before-status-checks", "40"),
            "B: profile (steady 10 s)": ()}
STEADY = "pacing.steady_status_checks()"
TARGET = 15.0


def plugin_pacing(workdir: Path) -> None:
    """A's copy of the workflow: the plugin's own growing interval."""
    rules = workdir / "workflow" / "rules" / "slurm.smk"
    text = rules.read_text()
    assert STEADY in text, f"{rules} no longer calls {STEADY}"
    rules.write_text(text.replace(STEADY, "False"))


def run(name: str, variant: tuple[str, ...], workdir: Path) -> dict:
    if name.startswith("A"):
        plugin_pacing(workdir)
    t0 = time.perf_counter()
    proc = subprocess.run([SNAKEMAKE, *COMMON, *variant], check=False, cwd=workdir, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{name}: snakemake failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    time.sleep(2)  # the controller writes the job-completion log as jobs end
    records = [r for r in jobcomp_records(config()) if r.get("WorkDir") == str(workdir)]
    gaps = [gap for _, gap in submission_gaps(records)]
    return {"wall": wall, "jobs": len(records), "gaps": gaps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    results = interleaved_runs(VARIANTS, args.repeats, run)
    print(f"\n{'variant':36} {'SLURM jobs':>10} {'gaps':>5} {'median gap':>11} {'max gap':>8} {'wall':>6}")
    for name, runs in results.items():
        gaps = [g for r in runs for g in r["gaps"]]
        print(f"{name:36} {statistics.median(r['jobs'] for r in runs):>10.0f} {len(gaps):>5} "
              f"{statistics.median(gaps):>10.0f}s {max(gaps):>7.0f}s {statistics.median(r['wall'] for r in runs):>5.0f}s")
    worst = max(g for r in results["B: profile (steady 10 s)"] for g in r["gaps"])
    print(f"slurm_gaps: max_gap={worst:.0f}s target=<{TARGET:.0f}s {'meets' if worst < TARGET else 'misses'} target")


if __name__ == "__main__":
    main()
