"""Jobs and GPU-hours of the paper's experiments (config/paper/*.yaml, each given after config/paper/protocol.yaml).

Per config: the jobs per rule of a dry run (`snakemake -n` on a fresh copy of the workflow, so existing results do
not count) and the GPU-hours of its GPU jobs under a time model (benchmarks/paper_timing.py: a FLOP model, or a
table of measured seconds per epoch), and what it shares with configs that name the same experiment.

    .venv/bin/python benchmarks/paper_costs.py                        # every setting of config/paper/
    .venv/bin/python benchmarks/paper_costs.py config/paper/wrn_cifar10.yaml
    .venv/bin/python benchmarks/paper_costs.py --template epochs.csv  # the workloads to measure, with the estimate
    .venv/bin/python benchmarks/paper_costs.py --measured epochs.csv  # measured times replace the FLOP model
    .venv/bin/python benchmarks/paper_costs.py --update-headers       # rewrite each config's cost block
    .venv/bin/python benchmarks/paper_costs.py --table                # the table rows of docs/paper.md

`benchmarks/paper_epochs.py epochs.csv` measures the template's rows on a GPU machine.
"""

from __future__ import annotations

import argparse
import math
import sys
import textwrap
from collections import defaultdict
from pathlib import Path

from paper_jobs import (
    GPU_RULES,
    ROOT,
    Plan,
    given,
    job_seconds,
    load_config,
    paper_files,
    planned,
    shared_jobs,
    sizes,
    variants,
    workload,
)
from paper_timing import FlopModel, MeasuredModel, write_template

BEGIN, END = "# >>> cost (written by benchmarks/paper_costs.py --update-headers)", "# <<< cost"
RULE_RUNTIME = {"train": 60, "train_star": 120, "train_control": 90, "merge_anchors": 30, "barrier": 10,
                "ensemble": 60}  # minutes, workflow/rules/*.smk
MARGIN = 1.5  # suggested SLURM runtime: the longest estimated job of a rule times this
ONE_PER_JOB_MIN = 30  # models training longer than this get one SLURM job each (models=1 stars=1)


class Costed:
    """One config: its plan, variants, per-rule jobs and GPU seconds."""

    def __init__(self, plan: Plan, model: FlopModel):
        self.plan, self.model = plan, model
        self.config = load_config(plan.config)
        self.exps = variants(self.config)
        self.seconds = {job: job_seconds(job, self.exps, model) for job in plan.jobs}
        self.by_rule = defaultdict(list)
        for job, sec in self.seconds.items():
            self.by_rule[job.rule].append(sec)

    @property
    def name(self) -> str:
        return self.plan.config.name

    def hours(self, jobs=None) -> float:
        return sum(self.seconds[j] for j in (self.seconds if jobs is None else jobs)) / 3600

    def sources(self) -> set[str]:
        return {self.model.source(*_workload_batch(exp)) for exp in self.exps.values()}

    def runtimes(self) -> dict[str, int]:
        """Suggested SLURM runtime (minutes) of each GPU rule whose default is too short for its longest job."""
        out = {}
        for rule in GPU_RULES:
            longest = max(self.by_rule.get(rule, [0.0])) / 60 * MARGIN
            if longest > RULE_RUNTIME[rule]:
                out[rule] = int(math.ceil(longest / 10) * 10)
        return out


def _workload_batch(exp: dict):
    return workload(exp), exp["train"]["batch_size"]


def wrap(text: str, first: str = "# ", rest: str = "#   ") -> list[str]:
    return textwrap.wrap(text, 120, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False)


def counts_text(c: Costed) -> tuple[str, str]:
    gpu = ", ".join(f"{r} {c.plan.counts[r]}" for r in GPU_RULES if r in c.plan.counts)
    local = ", ".join(f"{r} {n}" for r, n in c.plan.counts.items() if r not in (*GPU_RULES, "total"))
    return gpu, local


def sharing(c: Costed, others: list[Costed]) -> list[str]:
    """One sentence per config that names one of this config's experiments."""
    out = []
    for o in others:
        if o is c or not set(c.config["experiments"]) & set(o.config["experiments"]):
            continue
        done = shared_jobs(c.plan, c.exps, o.plan, o.exps)
        left = [j for j in c.seconds if j.rule in GPU_RULES and j not in done]
        out.append(f"After {o.name} has run: {len(left)} GPU jobs and {c.hours(left):.1f} GPU-hours left "
                   f"({len(done)} jobs done by it, the same outputs and params).")
    return out


def files(c: Costed) -> str:
    """The --configfile arguments of the config's run: the protocol, then the setting."""
    return " ".join(str(p.relative_to(ROOT)) for p in given(c.plan.config))


def command(c: Costed) -> list[str]:
    lines = [f"#   snakemake -n --configfile {files(c)}",
             f"#   snakemake --profile profiles/slurm --configfile {files(c)}"]
    options = []
    runtimes = c.runtimes()
    if runtimes:
        options.append("--set-resources " + " ".join(f"{r}:runtime={m}" for r, m in runtimes.items()))
    if max(c.by_rule.get("train", [0.0]) + c.by_rule.get("train_star", [0.0])) / 60 > ONE_PER_JOB_MIN:
        options.append("--group-components barriers=25 models=1 stars=1")
    if options:
        lines[-1] += " \\"
        lines += [f"#     {o}" + (" \\" if i < len(options) - 1 else "") for i, o in enumerate(options)]
    return lines


def header(c: Costed, others: list[Costed]) -> list[str]:
    gpu, local = counts_text(c)
    per_rule = ", ".join(f"{r} {sum(c.by_rule[r]) / 3600:.1f}" for r in GPU_RULES if r in c.by_rule)
    lines = [BEGIN]
    lines += wrap(f"Jobs (snakemake -n, fresh checkout): {c.plan.counts['total']} in all; GPU jobs: {gpu}; "
                  f"local: {local}.")
    lines += wrap(f"GPU-hours: {c.hours():.1f}, estimated, not measured ({per_rule}). Source: "
                  f"{' + '.join(sorted(c.sources()))}. Time model: {c.model.method}.")
    for sentence in sharing(c, others):
        lines += wrap(sentence)
    runtimes = c.runtimes()
    note = " (SLURM runtimes in minutes: 1.5 x the rule's longest estimated job)" if runtimes else ""
    lines += [f"# Run{note}:", *command(c), END]
    return lines


def update_header(path: Path, block: list[str]) -> None:
    text = path.read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{path}: no cost block ({BEGIN!r} ... {END!r}) to rewrite")
    before, rest = text.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    path.write_text(before + "\n".join(block) + after)


def report(c: Costed) -> str:
    lines = [f"{c.plan.config.relative_to(ROOT)}  (dry run {c.plan.seconds:.1f} s)",
             f"  {'rule':<18}{'jobs':>7}{'GPU-h':>10}{'h/job max':>11}"]
    for rule, n in c.plan.counts.items():
        if rule == "total":
            continue
        secs = c.by_rule.get(rule, [])
        lines.append(f"  {rule:<18}{n:>7}{sum(secs) / 3600:>10.1f}{max(secs, default=0) / 3600:>11.2f}")
    lines.append(f"  {'total':<18}{c.plan.counts['total']:>7}{c.hours():>10.1f}")
    return "\n".join(lines)


def table_row(c: Costed) -> str:
    path = c.plan.config.relative_to(ROOT)
    what = c.config["experiments"][next(iter(c.config["experiments"]))].get("paper", {}).get("reproduces", "")
    gpu, _ = counts_text(c)
    return (f"| `{path.name}` | {what} | {c.plan.counts['total']} ({gpu}) | {c.hours():,.0f} "
            f"({' + '.join(sorted(c.sources()))}) | `snakemake --profile profiles/slurm --configfile {files(c)}` |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("configs", nargs="*", type=Path, help="default: every setting of config/paper/ (not protocol.yaml)")
    p.add_argument("--measured", type=Path, help="CSV of measured seconds per epoch (paper_timing.py)")
    p.add_argument("--template", type=Path, help="write the CSV of workloads to measure, with the estimate")
    p.add_argument("--update-headers", action="store_true", help="rewrite each config's cost block")
    p.add_argument("--table", action="store_true", help="print the table rows of docs/paper.md")
    args = p.parse_args(argv)
    model = MeasuredModel(args.measured) if args.measured else FlopModel()
    paths = [c.resolve() for c in args.configs] or paper_files()
    costed = []
    for path in paths:
        costed.append(Costed(planned(path), model))
        print(report(costed[-1]), flush=True)
    # configs naming the same experiment: compared with every such config of the folder, asked for or not
    pool = {c.plan.config: c for c in costed}
    names = {n for c in costed for n in c.config["experiments"]}
    for path in paper_files():
        if path not in pool and names & set(load_config(path)["experiments"]):
            pool[path] = Costed(planned(path), model)
    print(f"\ntime model: {model.method}")
    for c in costed:
        for sentence in sharing(c, list(pool.values())):
            print(f"{c.name}: {sentence}")
    if args.template:
        rows = [(*_workload_batch(exp), sizes(exp)["train"]) for c in costed for exp in c.exps.values()]
        write_template(args.template, rows, model)
        print(f"wrote {args.template}")
    if args.update_headers:
        for c in costed:
            update_header(c.plan.config, header(c, list(pool.values())))
            print(f"updated {c.plan.config.relative_to(ROOT)}")
    if args.table:
        print("\n".join(table_row(c) for c in costed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
