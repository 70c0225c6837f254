"""Start-up of GPU-rule jobs on the local SLURM cluster: one SLURM job per model against models grouped
3 per SLURM job, on config/tiny.yaml, runs interleaved A, B, A, B, medians.

Needs root and a running local cluster (`scripts/slurm-cluster.sh start`). For each rule the start-up is read
from its log: the first rule of a SLURM job logs the seconds from the job starting to its first line of work;
a later rule of a group job starts when the one before it has written its last line, so its start-up is the gap
between the two. Target: grouping cuts the start-up of every model but the first of each job by the outer
snakemake and SLURM's scheduling (about 40 %), and the tiny run's wall time.

Measured here (2 CPU cores, load average 1-3, `--repeats 1`, 2026-11-29):

    variant                      SLURM jobs  job start-up  later rule  start-up/model   wall
    A: a SLURM job per model              6          8.9s        nans           10.3s   115s
    B: 3 models per SLURM job             3          9.4s        6.6s            7.9s   120s

A SLURM job takes about 9 s from starting to its first line of work (about 20 s before the jobs imported less and
memory-mapped the data); in a group job each later model starts 6.6 s after the one before it, so grouping cuts
the start-up per model by a quarter. The wall time does not fall here: this cluster has 2 CPUs, so 2 jobs at a
time, and the grouped run has fewer jobs to run side by side.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
COMMON = ("--profile", "profiles/slurm", "--configfile", "config/tiny.yaml", "--config", "allow_cpu_fallback=True",
          "--slurm-init-seconds-before-status-checks", "5")
VARIANTS = {"A: a SLURM job per model": ("--group-components", "barriers=5", "models=1", "stars=1"),
            "B: 3 models per SLURM job": ("--group-components", "barriers=5", "models=3", "stars=1")}
STARTUP = re.compile(r"^(\S+ \S+) INFO start-up: ([\d.]+) s from SLURM job (\d+) starting")
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+) ")


def stamp(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def workflow_copy(base: Path, data: Path | None = None) -> Path:
    """A copy of the workflow in `base`, sharing the prepared dataset `data` if given."""
    base.mkdir(parents=True)
    for name in ("Snakefile", "workflow", "config", "envs", "profiles"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, base / name)
    if data:
        (base / "resources").mkdir()
        os.link(data, base / "resources" / "fashion_mnist.pt")
    return base


def startups(workdir: Path, rules: tuple[str, ...] = ("train", "train_star")) -> tuple[list[float], list[float]]:
    """(start-up of each SLURM job's first rule, start-up of each later rule of a group job) of a finished run."""
    by_job: dict[str, list[tuple[float, float, float]]] = {}
    for rule in rules:
        for log in (workdir / "results" / "tiny" / "logs" / rule).glob("*.log"):
            lines = log.read_text().splitlines()
            m = STARTUP.match(lines[0])
            last = max(stamp(s[1]) for line in lines if (s := STAMP.match(line)))
            by_job.setdefault(m[3], []).append((stamp(m[1]), float(m[2]), last))
    first, later = [], []
    for members in by_job.values():
        members.sort()
        first.append(members[0][1])
        later += [start - previous_end for (start, _, _), (_, _, previous_end) in zip(members[1:], members)]
    return first, later


def run(name: str, variant: tuple[str, ...], workdir: Path) -> dict:
    t0 = time.perf_counter()
    subprocess.run([SNAKEMAKE, *COMMON, *variant], cwd=workdir, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    first, later = startups(workdir)
    return {"wall": wall, "jobs": len(first), "first": first, "later": later}


def interleaved_runs(variants: dict[str, tuple[str, ...]], repeats: int, run) -> dict[str, list[dict]]:
    """`run(name, variant, workdir)` of each variant, interleaved A, B, A, B, each in a fresh copy of the workflow
    sharing one prepared dataset; each variant's results in order."""
    results: dict[str, list[dict]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as tmp:
        prep = workflow_copy(Path(tmp) / "prep")
        subprocess.run([SNAKEMAKE, "--configfile", "config/tiny.yaml", "--cores", "1", "resources/fashion_mnist.pt"],
                       cwd=prep, check=True, capture_output=True)
        data = prep / "resources" / "fashion_mnist.pt"
        for i in range(repeats):
            for name, variant in variants.items():
                workdir = workflow_copy(Path(tmp) / f"{i}-{name[0]}", data)
                results[name].append(run(name, variant, workdir))
                print(f"{name}, run {i + 1}: {results[name][-1]['wall']:.0f} s", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    results = interleaved_runs(VARIANTS, args.repeats, run)
    print(f"\n{'variant':28} {'SLURM jobs':>10} {'job start-up':>13} {'later rule':>11} {'start-up/model':>15} "
          f"{'wall':>6}")
    for name, runs in results.items():
        first = statistics.median(x for r in runs for x in r["first"])
        later = statistics.median([x for r in runs for x in r["later"]] or [float("nan")])
        per_model = statistics.median((sum(r["first"]) + sum(r["later"])) / 6 for r in runs)
        print(f"{name:28} {runs[0]['jobs']:>10} {first:>12.1f}s {later:>10.1f}s {per_model:>14.1f}s "
              f"{statistics.median(r['wall'] for r in runs):>5.0f}s")


if __name__ == "__main__":
    main()
