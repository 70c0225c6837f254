"""A model whose training finished is never trained again: a rerun takes it back from the archive.

Every finished model is hard-linked into `archive/<model>/<time>-<key>.{pt,json}` (checkpoint.archive), where the
key is the digest of what the job computed with: its params (config and code fingerprint) and the checkpoints it
read. A job can fail after its model is complete: SLURM ends it at its time limit while its Snakemake reports
success, it is killed while writing, its Snakemake dies. Snakemake then deletes the outputs of the failed job, and
the rerun would train again from scratch (the training state is gone, since training was complete). Instead, a
training job first looks for an archived model with its own key and, if there is one, restores it byte for byte.

`--forcerun`, `--forceall` and `--forcetargets` ask for retraining: the run's main Snakemake process marks the
workflow folder as forced (`FORCED`) before its first job, and the jobs of that run train as asked; the next run
that runs a job clears the mark.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from ..io.checkpoint import link
from .paths import archive_of

log = logging.getLogger("starlight")
FORCED = Path(".snakemake") / "starlight-forced"


def key(exp: dict, inputs: list[str]) -> str:
    """The digest of a job's params (config and code) and of the checkpoints it reads."""
    digest = hashlib.sha256(json.dumps(exp, sort_keys=True, default=str).encode())
    for path in inputs:
        digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
    return digest.hexdigest()[:16]


def finished(out_ckpt: str | Path, job_key: str) -> tuple[Path, Path] | None:
    """The newest archived (checkpoint, metadata) of this model made with `job_key`, if any."""
    for ckpt in sorted(archive_of(out_ckpt).glob(f"*-{job_key}.pt"), reverse=True):
        meta = ckpt.with_suffix(".json")
        if meta.is_file():
            return ckpt, meta
    return None


def forced(workdir: str | Path = ".") -> bool:
    """Whether the current run asked to recompute what it runs (see the module doc)."""
    return (Path(workdir) / FORCED).exists()


def mark_forced(on: bool, workdir: str | Path = ".") -> None:
    """Set (or clear) the forced mark; called by the run's main Snakemake process before any job starts."""
    path = Path(workdir) / FORCED
    if on:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("this run was started with --forcerun, --forceall or --forcetargets\n")
    else:
        path.unlink(missing_ok=True)


def restore(out_ckpt: str, out_json: str, job_key: str) -> bool:
    """Put back the archived model made with `job_key` as the job's outputs and say so; False, doing nothing,
    when there is none or the run is forced."""
    found = None if forced() else finished(out_ckpt, job_key)
    if found is None:
        return False
    ckpt, meta = found
    link(meta, Path(out_json))  # the metadata first, as write_model writes them
    link(ckpt, Path(out_ckpt))
    log.info("%s: its training had finished under the same config, code and inputs; restored from %s instead of "
             "training again (--forcerun retrains)", Path(out_ckpt).stem, ckpt)
    return True
