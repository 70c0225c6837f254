"""Stale Snakemake locks: a run killed with SIGKILL (or a lost login session) leaves `.snakemake/locks`
behind, and the same command then refuses to start until `--unlock`. A lock is stale when no snakemake
process works in this directory on this machine any more."""

from __future__ import annotations

import os
from pathlib import Path


def snakemake_processes(workdir: str | Path, exclude: set[int] = frozenset()) -> list[int]:
    """Pids of live snakemake processes (other than `exclude`) whose working directory is `workdir`."""
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
        if "snakemake" in names and os.path.realpath(cwd) == workdir:
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
