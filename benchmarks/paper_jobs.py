"""The jobs a config plans (`snakemake -n` on a fresh copy of the workflow) and what each costs on a GPU.

`planned(config)` runs the dry run and returns its jobs; `job_seconds(job, variants, model)` prices one with a time
model of paper_timing.py; `shared_jobs(a, b)` finds the jobs two configs plan identically (same outputs, same
params), which a run of one leaves done for the other. A paper setting (config/paper/*.yaml) is always given after
the protocol it names, config/paper/protocol.yaml, as the workflow is run (`given(config)`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml
from paper_timing import ALIGN_S, STAR_STEP, STARTUP_S, FlopModel, Workload, counts
from snakemake.utils import update_config, validate

from starlight.data import DATASETS, data_settings
from starlight.models import model_config
from starlight.pipeline import experiment as xp
from starlight.pipeline import params, pretrained, protocols, sweep

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
SCRIPTS = ROOT / "workflow" / "scripts"
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
PAPER = ROOT / "config" / "paper"
PROTOCOL = PAPER / "protocol.yaml"  # the protocol every paper setting names, given before the setting's file
GPU_RULES = ("train", "train_star", "train_control", "merge_anchors", "barrier", "ensemble")
# A quality-matched control's budget search (starlight/training/control.py), in full trainings of an anchor: the sum of
# the budgets it trains, over the anchors' budget: 1.17 on average over the 20 controls of config/cpu_sweep.yaml.
CONTROL_TRAININGS = 1.2
# Rounds of a merge of k anchors (MergeMany): the default's k = 4 and 8 merges ran the schema's limit, 10.
MERGE_ROUNDS = 10
JOB = re.compile(r"^\s*(?:local)?rule (\w+):\s*$")
FIELD = re.compile(r"^\s*(output|wildcards): (.*)$")


@dataclass(frozen=True)
class Job:
    rule: str
    wildcards: tuple[tuple[str, str], ...]
    outputs: tuple[str, ...]

    def wildcard(self, key: str) -> str:
        return dict(self.wildcards)[key]


@dataclass
class Plan:
    """A config's dry run: its jobs, the job-stats counts snakemake printed, and the seconds it took."""

    config: Path
    jobs: list[Job]
    counts: dict[str, int]
    seconds: float
    output: str


def copy_workflow(dest: Path) -> Path:
    """The workflow without results/ or .snakemake/: a dry run there plans what a fresh checkout would."""
    for name in ("Snakefile", "workflow", "config", "envs", "profiles"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def paper_files() -> list[Path]:
    """The paper's settings: every file of config/paper/ but the protocol."""
    return [p for p in sorted(PAPER.glob("*.yaml")) if p != PROTOCOL]


def given(config: str | Path) -> list[Path]:
    """The config files a run of `config` gives snakemake, in order: a paper setting after the protocol."""
    config = Path(config).resolve()
    return [PROTOCOL, config] if config.parent == PAPER and config != PROTOCOL else [config]


def parse_jobs(text: str) -> list[Job]:
    """Every job block of `snakemake -n` output: its rule, wildcards and outputs."""
    jobs, current = [], None
    for line in text.splitlines():
        if m := JOB.match(line):
            if current:
                jobs.append(current)
            current = {"rule": m[1], "wildcards": (), "outputs": ()}
        elif current and (m := FIELD.match(line)):
            if m[1] == "output":
                current["outputs"] = tuple(o.strip() for o in m[2].split(", "))
            else:  # values never hold ", " (a section-valued sweep label joins with "," alone)
                current["wildcards"] = tuple(tuple(kv.split("=", 1)) for kv in m[2].split(", "))
    if current:
        jobs.append(current)
    return [Job(**j) for j in jobs]


def parse_counts(text: str) -> dict[str, int]:
    table = re.search(r"Job stats:\n(.*?)\n\s*total\s+\d+", text, re.DOTALL)
    if table is None:
        raise ValueError(f"no job stats in the dry run's output:\n{text[-3000:]}")
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table[1], re.MULTILINE)}
    return counts | {"total": sum(counts.values())}


def planned(config: str | Path, workdir: Path | None = None) -> Plan:
    """`snakemake -n --configfile [PROTOCOL] CONFIG` in a fresh copy of the workflow (a temporary one unless
    given)."""
    config = Path(config).resolve()
    with tempfile.TemporaryDirectory(prefix="paper-costs-") as tmp:
        work = workdir or copy_workflow(Path(tmp))
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        t0 = time.perf_counter()
        proc = subprocess.run([SNAKEMAKE, "-n", "--configfile", *map(str, given(config)), "--directory", str(work),
                               "--snakefile", str(work / "Snakefile")], cwd=work, capture_output=True, text=True,
                              env=env, check=False)
        seconds = time.perf_counter() - t0
    text = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise RuntimeError(f"snakemake -n --configfile {config} failed ({proc.returncode}):\n{text[-4000:]}")
    plan = Plan(config, parse_jobs(proc.stdout), parse_counts(proc.stdout), seconds, text)
    per_rule = Counter(job.rule for job in plan.jobs)
    if {r: n for r, n in plan.counts.items() if r != "total"} != dict(per_rule):
        raise RuntimeError(f"{config}: the job blocks ({dict(per_rule)}) disagree with the job stats ({plan.counts})")
    return plan


def load_config(path: str | Path) -> dict:
    """The config as the workflow sees it: its files merged in order (`given`), protocols applied, validated,
    defaults filled in."""
    config = {}
    for file in given(path):
        update_config(config, yaml.safe_load(file.read_text()))
    config = protocols.expand(config)
    validate(config, str(SCHEMA))
    return config


def variants(config: dict) -> dict[str, dict]:
    """{variant name (the `exp` wildcard): its experiment config} of every experiment and sweep value."""
    return {v.name: v.exp for name, exp in config["experiments"].items() for v in sweep.variants(name, exp)}


def workload(exp: dict) -> Workload:
    settings = data_settings(exp["dataset"], exp["data"])
    return Workload(tuple(sorted(model_config(exp["model"]).items())), exp["dataset"], settings.spec.shape,
                    settings.spec.n_classes, not DATASETS[exp["dataset"]].materialised)


def sizes(exp: dict) -> dict[str, int]:
    """Images per split as the experiment uses them: train, val, test, the barrier's train split, BN images."""
    s = data_settings(exp["dataset"], exp["data"])
    train = s.train_subset or s.spec.train_size - s.val_size
    bn = min(exp["bn"]["subset"], train) if counts(workload(exp)).batchnorm else 0
    return {"train": train, "val": s.val_size, "test": s.test_subset or s.spec.test_size,
            "train_eval": min(exp["barrier"].get("train_eval_subset") or train, train), "bn": bn}


def job_seconds(job: Job, exps: dict[str, dict], model: FlopModel) -> float:
    """GPU seconds of one job (0 for the local rules)."""
    if job.rule not in GPU_RULES:
        return 0.0
    exp = exps[job.wildcard("exp")]
    work, n = workload(exp), sizes(exp)
    final_eval = model.eval_s(work, n["train"] + n["val"] + n["test"]) + model.eval_s(work, n["bn"])
    if job.rule == "train":
        role, seed = job.wildcard("role"), int(job.wildcard("seed"))
        train = exp["train"]
        fit = 0.0 if pretrained.file_of(exp, role, seed) else train["epochs"] * model.epoch_s(
            work, train["batch_size"], n["train"])
        return STARTUP_S + fit + final_eval
    if job.rule == "train_star":
        star = xp.star(exp, job.wildcard("star"))
        train, section = xp.star_train_config(exp, star), xp.star_section(exp, star)
        realigns = (train["epochs"] - 1 if section["realign_every_epoch"] else 0) + bool(
            section.get("realign_before_training"))
        realign = realigns * star.n_anchors * ALIGN_S
        fit = train["epochs"] * model.epoch_s(work, train["batch_size"], n["train"]) * STAR_STEP
        return STARTUP_S + fit + realign + final_eval
    if job.rule == "train_control":  # the search's trainings, each evaluated on the barriers' train split
        train = exp["train"]
        fit = CONTROL_TRAININGS * train["epochs"] * model.epoch_s(work, train["batch_size"], n["train"])
        return STARTUP_S + fit + 4 * model.eval_s(work, n["train_eval"] + n["bn"]) + final_eval
    if job.rule == "merge_anchors":
        k = int(job.wildcard("k"))
        return STARTUP_S + MERGE_ROUNDS * k * ALIGN_S + final_eval
    if job.rule == "barrier":  # every pair of one model1 (workflow/rules/barrier.smk)
        b = exp["barrier"]
        model1 = job.wildcard("model1")
        per_curve = model.eval_s(work, n["train_eval"] + n["test"] + n["bn"], passes=b["grid_points"])
        seconds = STARTUP_S
        for pair_type, _, _ in (p for p in xp.pairs(exp) if p[1] == model1):
            curves = 2 if b["align"] else 1
            if pair_type == "star_anchor" and xp.star_section(exp, xp.star(exp, model1))["realign_every_epoch"]:
                curves += 1  # the training-basis curve
            seconds += (ALIGN_S if b["align"] else 0.0) + curves * per_curve
        return seconds
    star = xp.star(exp, job.wildcard("star"))  # ensemble
    samples, k = exp["ensembles"]["samples"], star.n_anchors
    return (STARTUP_S + k * ALIGN_S + model.eval_s(work, n["test"], passes=1 + k + samples)
            + model.eval_s(work, n["bn"], passes=samples))


def job_params(job: Job, exps: dict[str, dict]):
    """What snakemake compares to decide whether the job reruns (starlight.pipeline.params), for the GPU rules."""
    exp = exps[job.wildcard("exp")]
    if job.rule == "train":
        return params.train_params(exp, job.wildcard("role"), int(job.wildcard("seed")), SCRIPTS)
    if job.rule == "train_star":
        return params.star_params(exp, job.wildcard("star"), SCRIPTS)
    if job.rule == "train_control":
        return params.control_params(exp, job.wildcard("control"), SCRIPTS)
    if job.rule == "merge_anchors":
        return params.merge_params(exp, SCRIPTS)
    if job.rule == "barrier":
        return params.barrier_params(exp, job.wildcard("model1"), SCRIPTS)
    return params.ensemble_params(exp, SCRIPTS)


def shared_jobs(plan: Plan, exps: dict[str, dict], other: Plan, other_exps: dict[str, dict]) -> set[Job]:
    """The GPU jobs of `plan` that `other` plans with the same outputs and the same params: done by a run of
    `other`, they do not rerun in a run of `plan`."""
    theirs = {(j.rule, j.outputs): j for j in other.jobs if j.rule in GPU_RULES}
    return {j for j in plan.jobs if j.rule in GPU_RULES and (j.rule, j.outputs) in theirs
            and job_params(j, exps) == job_params(theirs[(j.rule, j.outputs)], other_exps)}
