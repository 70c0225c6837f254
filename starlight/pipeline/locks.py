"""Stale Snakemake locks: a run killed with SIGKILL (or a lost login session) leaves `.snakemake/locks`
behind, and the same command then refuses to start until `--unlock`. A lock is stale when no snakemake
process works in this directory on this machine any more, and no SLURM job of that run is still queued or
running (starlight.slurm.guard)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..slurm.guard import EarlierJobsRunning, check_earlier_jobs
from ..slurm.queries import SlurmJob


def snakemake_processes(workdir: str | Path, exclude: set[int] = frozenset()) -> list[int]:
    """Pids of live snakemake runs (other than `exclude`) whose working directory is `workdir`. The snakemake a
    SLURM (or other remote) job runs for its own rule (`--mode remote`) holds no lock and does not count."""
    workdir = os.path.realpath(workdir)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude:
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(entry / "cwd")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # gone, or not ours to read
            continue
        if state == "Z":
            continue
        names = [os.path.basename(a.decode(errors="replace")) for a in argv[:3]]
        spawned = b"--mode" in argv and argv[argv.index(b"--mode") + 1:][:1] != [b"default"]
        if "snakemake" in names and not spawned and os.path.realpath(cwd) == workdir:
            found.append(int(entry.name))
    return found


def clear_stale_locks(workdir: str | Path = ".") -> list[Path]:
    """Remove the locks of `workdir` if no other snakemake process on this machine works there.

    Returns the removed lock files. Does nothing where /proc is unavailable. Two snakemake runs of one
    folder from two machines are not detected; run one at a time.
    """
    lockdir = Path(workdir) / ".snakemake" / "locks"
    proc = Path("/proc")
    if not lockdir.is_dir() or not proc.is_dir() or not (proc / str(os.getpid())).exists():
        return []
    locks = [p for p in lockdir.iterdir() if p.is_file()]
    if not locks or snakemake_processes(workdir, exclude={os.getpid()}):
        return []
    for p in locks:
        p.unlink(missing_ok=True)
    return locks


@dataclass
class Rerun:
    """What `prepare_rerun` did: the lock files it removed, the earlier run's SLURM jobs it waited for."""

    removed_locks: list[Path] = field(default_factory=list)
    waited_for: list[SlurmJob] = field(default_factory=list)

    @property
    def waited_since(self) -> float | None:
        """When the first job waited for was submitted: what it wrote is newer."""
        return min(job.submitted for job in self.waited_for) if self.waited_for else None


def prepare_rerun(workdir: str | Path = ".", wait: bool = False, dryrun: bool = False,
                  say: Callable[[str], None] = print) -> Rerun:
    """What a run does before anything else: if no snakemake works in `workdir` on this machine, ask SLURM whether
    jobs of an earlier run of it are still queued or running; stop with their list (`EarlierJobsRunning`), or with
    `wait` wait for them to end; then remove the stale locks. A dry run only warns and keeps the locks.
    """
    if snakemake_processes(workdir, exclude={os.getpid()}):
        return Rerun()  # a live run here holds its locks and its jobs
    lockdir = Path(workdir) / ".snakemake" / "locks"
    killed_run = lockdir.is_dir() and any(lockdir.iterdir())
    try:
        waited = check_earlier_jobs(workdir, wait=wait and not dryrun, say=say, warn_unanswered=killed_run)
    except EarlierJobsRunning as err:
        if not dryrun:
            raise
        say(str(err))
        return Rerun()
    return Rerun(clear_stale_locks(workdir), waited)


def written_since(paths, since: float) -> bool:
    """Whether all `paths` exist and were last written at or after `since` (seconds since the epoch)."""
    paths = [Path(p) for p in paths]
    return bool(paths) and all(p.exists() and p.stat().st_mtime >= since for p in paths)
