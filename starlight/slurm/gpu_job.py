"""What a GPU rule's script does first under SLURM. Imported by the workflow scripts only, so that no job's code
fingerprint covers SLURM code."""

from __future__ import annotations

import logging
import os

import torch

from .queries import seconds_since_start

log = logging.getLogger("starlight")


class MissingGPU(RuntimeError):
    """A SLURM job of a GPU rule that has no usable GPU, where the CPU fallback is not allowed."""


def start_gpu_job(rule: str, requested_device: str = "auto", allow_cpu_fallback: bool = False) -> None:
    """What a GPU rule's script does first. Under SLURM: log the seconds from the SLURM job starting to this
    rule's first line of work (the job's start-up), and stop if the job has no usable GPU, unless
    `allow_cpu_fallback` (the config key) lets `device: auto` fall back to the CPU. Outside SLURM: nothing."""
    job_id = os.environ.get("SLURM_JOB_ID")
    if not job_id:
        return
    startup = seconds_since_start(job_id)
    log.info("start-up: %s s from SLURM job %s starting to the first line of work of rule %s",
             "unknown" if startup is None else f"{startup:.1f}", job_id, rule)
    if requested_device != "auto" or allow_cpu_fallback or torch.cuda.is_available():
        return
    raise MissingGPU(
        f"rule {rule}: SLURM job {job_id} on node {os.environ.get('SLURMD_NODENAME', '?')} has no usable CUDA GPU "
        f"(resource gpu missing: CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}, "
        "torch.cuda.is_available() is False). Check the rule's gpu resource and slurm_partition, or set "
        "allow_cpu_fallback: true (--config allow_cpu_fallback=True) to run it on the CPU.")
