"""The SLURM plugin's per-job logs of the last few runs, and none older.

The plugin writes each SLURM job's log to `.snakemake/slurm_logs/<rule or group>/<wildcards>/<job id>.log`,
deletes it when the job succeeds (unless `--slurm-keep-successful-logs`) and, at the end of a run that ends
normally, deletes logs older than `--slurm-delete-logfiles-older-than` days. The logs of failed jobs and of killed
runs pile up. `keep_last_runs` keeps those of the last `runs` runs (the config's `slurm_log_runs`): each run that
submits to SLURM records when it started in `<log dir>/runs.txt`, and a log last written before the oldest of
the kept runs started is deleted, with the folders it leaves empty. Until `runs` runs are recorded nothing is
deleted: older logs may belong to runs made before the record began.
"""

from __future__ import annotations

from pathlib import Path

RUNS = "runs.txt"


def _starts(log_dir: Path) -> list[float]:
    try:
        return [float(line) for line in (log_dir / RUNS).read_text().split()]
    except (OSError, ValueError):
        return []


def keep_last_runs(log_dir: Path, runs: int, started: float) -> list[Path]:
    """Record a run that started at `started`, and delete the logs under `log_dir` written before the oldest of the
    last `runs` runs (this one included) started. Returns the deleted logs."""
    if runs < 1:
        raise ValueError(f"slurm_log_runs={runs!r}: keep the logs of at least 1 run")
    log_dir.mkdir(parents=True, exist_ok=True)
    starts = [*_starts(log_dir), started][-runs:]
    (log_dir / RUNS).write_text("".join(f"{s:.3f}\n" for s in starts))
    if len(starts) < runs:  # fewer runs recorded than kept: the logs before the first record may be theirs
        return []
    deleted = []
    for path in sorted(log_dir.rglob("*.log")):
        try:
            if path.stat().st_mtime < starts[0]:
                path.unlink()
                deleted.append(path)
        except OSError:  # gone already, or not ours to delete: leave it
            continue
    for folder in sorted((p for p in log_dir.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    return deleted


def log_dir(setting: str | Path | None, workdir: str | Path) -> Path:
    """Where the plugin writes its logs: `--slurm-logdir` (relative to the working directory) or
    `.snakemake/slurm_logs`."""
    return Path(workdir) / (setting or Path(".snakemake") / "slurm_logs")
