"""Checks before anything is submitted, each failing with one message that names the rule and the setting.

- A global `resources:` limit (the SLURM profile's `gpu=1`, which makes a group job run its jobs one after another
  on one GPU) would silently lower any job asking for more: SLURM would get the lowered value while the job
  itself still asks for the full one. A rule asking for more than a limit is an error instead.
- A partition that does not exist, or has no GPUs for a rule asking for one, would make every sbatch call fail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

GPU_RESOURCES = ("gpu", "gpus")


class PreflightError(ValueError):
    """A setting that would make SLURM jobs fail or run with less than they ask for."""


def over_limits(rule_resources: Mapping[str, Mapping[str, object]], limits: Mapping[str, object]) -> list[str]:
    """One line per rule resource above its global limit. `rule_resources`: rule -> resource -> value (values
    computed per job, i.e. functions, are not known yet and skipped); `limits`: resource -> limit (None: none)."""
    problems = []
    for rule, resources in sorted(rule_resources.items()):
        for name, value in sorted(resources.items()):
            limit = limits.get(name)
            if isinstance(value, int) and isinstance(limit, int) and value > limit:
                problems.append(f"rule {rule} asks for {name}={value}, but the global `resources: {name}={limit}` "
                                f"would silently give its jobs {name}={limit}")
    return problems


def check_limits(rule_resources: Mapping[str, Mapping[str, object]], limits: Mapping[str, object]) -> None:
    problems = over_limits(rule_resources, limits)
    if problems:
        raise PreflightError(
            "\n".join(problems) + "\nRaise the limit (`resources:` in profiles/slurm/config.yaml, or --resources) "
            "or lower the rule's request (--set-resources RULE:NAME=VALUE).")


def wants_gpu(resources: Mapping[str, object]) -> bool:
    return any(isinstance(resources.get(k), int) and resources.get(k) > 0 for k in GPU_RESOURCES) \
        or bool(resources.get("gpu_model"))


def check_partitions(jobs: Iterable[tuple[str, Mapping[str, object]]], available: Mapping[str, set[str]]) -> None:
    """`jobs`: (rule, resources) of the jobs to submit; `available`: partition -> GRES of its nodes (sinfo).
    Raises naming each partition that does not exist, or has no GPU for the rules asking for one."""
    missing: dict[str, set[str]] = {}
    gpuless: dict[str, set[str]] = {}
    for rule, resources in jobs:
        partition = resources.get("slurm_partition")
        if not partition:
            continue
        partition = str(partition)
        if partition not in available:
            missing.setdefault(partition, set()).add(rule)
        elif wants_gpu(resources) and not any("gpu" in gres for gres in available[partition]):
            gpuless.setdefault(partition, set()).add(rule)
    problems = [f"slurm_partition={p} (rules {', '.join(sorted(r))}) is not a partition of this cluster"
                for p, r in sorted(missing.items())]
    problems += [f"slurm_partition={p} has no GPUs (its nodes' GRES: {', '.join(sorted(available[p]))}), but rules "
                 f"{', '.join(sorted(r))} ask for one" for p, r in sorted(gpuless.items())]
    if problems:
        raise PreflightError("\n".join(problems) + f"\nPartitions here: {', '.join(sorted(available))} "
                             "(sinfo). Set slurm_partition in profiles/slurm/config.yaml or with --set-resources.")
