"""Snakemake's HTML report of a run, built from inside one of its jobs (rule `publish`): the same command a user
types, `snakemake --report`, with the run's Snakefile, working directory and config.

The config is the one the run resolved (protocols applied, defaults filled in), written to a file of its own, so
the report describes the DAG that ran whatever config files and `--config` values built it. The report only reads
the finished results and Snakemake's records of them; `--nolock` lets it run beside the run that calls it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import yaml

TIMEOUT = 900  # seconds; a report of a few hundred files takes well under a minute


class ReportError(RuntimeError):
    """`snakemake --report` failed; the message holds the end of its output."""


def build_report(out: str | Path, snakefile: str | Path, config: dict, targets: Sequence[str] = (),
                 workdir: str | Path = ".") -> Path:
    """Write the report of the run in `workdir` to `out` (a .html file, or .zip for the report as a folder): of
    the jobs that make `targets` (the run's default target when none)."""
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="starlight-report-") as tmp:
        configfile = Path(tmp) / "config.yaml"
        configfile.write_text(yaml.safe_dump(config, sort_keys=False))
        command = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile), "--directory", str(workdir),
                   "--configfile", str(configfile), "--report", str(out), "--nolock", *targets]
        proc = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if proc.returncode != 0 or not out.exists():
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise ReportError(f"`snakemake --report {out}` failed (exit {proc.returncode}):\n{tail}")
    return out
