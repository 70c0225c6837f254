"""Every command shown in README.md and docs/*.md is run by a test, or says what it needs that the tests lack.

A command is a line of a fenced ```bash, ```sh or ```console block (in a console block, a line after `$ `); a line
ending in a backslash goes on on the next one, and lines that are only comments are not commands. Each command
either ends with a marker comment:

    # needs a GPU
    # needs a SLURM cluster
    # run by tests/<path>::<test name>

(for the last, the named test must exist, and its module or tests/conftest.py, where the shared fixtures run
snakemake, must name every argument of the command), or it is run here, for real but cheaply:

- `.venv/bin/snakemake -n ...`: the dry run, in a private copy of the workflow, plans what the docs say it does;
- the rule-graph command: `snakemake --rulegraph` gives the graph of docs/rulegraph.dot, which docs/rulegraph.svg draws;
- `.venv/bin/python -m starlight.io.phases ...`: on two small logs laid out as the command names them;
- `make run`: `make -n` shows the snakemake command it runs, and that command's dry run plans the default's jobs;
- `make test ...`: `make -n` shows the pytest command it runs, pytest collects the tests it names without a collection
  error, and CI (.ci/run) runs `make test`.

Relative links and their anchors are checked too, and so is docs/paper.md's table of the paper's settings against
config/paper/: one row per setting, with the jobs and GPU-hours its header states and the command that runs it. The whole file takes well under 2 minutes on 2 cores.
"""

import ast
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT, copy_workflow, run_snakemake

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELLS = {"bash", "sh", "console"}
GPU, SLURM = "needs a GPU", "needs a SLURM cluster"
RUN_BY = re.compile(r"run by (tests/\S+\.py)::(\w+)")
RULEGRAPH = ".venv/bin/snakemake --rulegraph > docs/rulegraph.dot && dot -Tsvg docs/rulegraph.dot -o docs/rulegraph.svg"
# Programs whose name says nothing about what a command does; for any other, its file name must appear in the test.
LAUNCHERS = {"snakemake", ".venv/bin/snakemake", "make", "python", "python3", ".venv/bin/python"}
GPU_RULES = ("train", "train_star", "train_control", "merge_anchors", "barrier", "ensemble")
# What the docs state of the dry runs they show (README: "the default's 56 jobs"; docs/configuration.md: "175 jobs:
# 33 models, 20 stars with their 20 controls, 12 merged models, 76 barrier jobs"); a job table printed in the docs
# right after a dry run's block is checked as well.
STATED = {
    "--cores all -n": {"total": 56},
    "-n --configfile config/cpu_sweep.yaml": {"total": 175, "train": 33, "train_star": 20, "train_control": 20,
                                              "merge_anchors": 12, "barrier": 76},
}
PAPER = ROOT / "config" / "paper"
PROTOCOL = "config/paper/protocol.yaml"


@dataclass(frozen=True)
class Command:
    doc: Path
    line: int
    code: str  # the command, whitespace collapsed, without its comment
    comment: str
    table: dict | None  # the job table of a plain block that follows the command's block, if any

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"

    def __str__(self) -> str:
        return self.code


def split_comment(line: str) -> tuple[str, str]:
    """(code, comment) of a shell line: the comment starts at the first `#` outside quotes after a blank."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].strip(), line[i + 1:].strip()
    return line.strip(), ""


def job_table(lines: list[str]) -> dict | None:
    """rule -> count of a `job  count` table (Snakemake's job stats) in a block's lines, with its `total`."""
    rows = {m[1]: int(m[2]) for line in lines if (m := re.fullmatch(r"(\w+)\s+(\d+)", line.strip()))}
    return rows if "total" in rows else None


def doc_commands(doc: Path) -> list[Command]:
    lines = doc.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = re.match(r"\s*```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if re.match(r"\s*```\s*$", lines[j]))
        blocks.append((m[1], i + 1, lines[i + 1:end]))
        i = end + 1
    commands = []
    for n, (lang, start, body) in enumerate(blocks):
        if lang not in SHELLS:
            continue
        follows = blocks[n + 1] if n + 1 < len(blocks) and blocks[n + 1][0] == "" else None
        table = job_table(follows[2]) if follows else None
        pending, first = "", None
        for k, raw in enumerate(body):
            text = raw.strip()
            if lang == "console" and not pending:
                if not text.startswith("$ "):
                    continue
                text = text[2:]
            if not pending and (not text or text.startswith("#")):
                continue
            first = first if pending else start + k + 1
            text = f"{pending} {text}".strip()
            if text.endswith("\\"):
                pending = text[:-1].rstrip()
                continue
            pending = ""
            code, comment = split_comment(text)
            commands.append(Command(doc, first, " ".join(code.split()), comment, table))
    return commands


COMMANDS = [c for doc in DOCS for c in doc_commands(doc)]
MARKED = [c for c in COMMANDS if c.comment in (GPU, SLURM) or RUN_BY.fullmatch(c.comment)]
RUN_HERE = [c for c in COMMANDS if c not in MARKED]


def handled(pattern: str) -> list[Command]:
    return [c for c in RUN_HERE if re.fullmatch(pattern, c.code)]


DRY_RUNS = handled(r"\.venv/bin/snakemake -n( \S+)+")
PHASES = handled(r"\.venv/bin/python -m starlight\.io\.phases( \S+)+")
MAKE_RUN = handled(r"make run")
MAKE_TEST = handled(r"make test( ARGS=\S+| TEST_WORKERS=\d+)*")
GRAPH = [c for c in RUN_HERE if c.code == RULEGRAPH]


def ids(commands: list[Command]) -> list[str]:
    return [f"{c.where} {c.code}" for c in commands]


def test_every_command_is_run_here_or_marked():
    assert len(COMMANDS) >= 20, ids(COMMANDS)  # the extraction finds the docs' commands
    here = DRY_RUNS + PHASES + MAKE_RUN + MAKE_TEST + GRAPH
    unhandled = [f"{c.where}: {c.code}" for c in RUN_HERE if c not in here]
    assert not unhandled, ("neither run by tests/workflow/test_docs.py nor marked `# needs a GPU`, `# needs a SLURM "
                           "cluster` or `# run by tests/<path>::<test>`:\n" + "\n".join(unhandled))
    # each way of running a command here is used, so none of its tests is skipped for an empty list
    assert DRY_RUNS and PHASES and MAKE_RUN and MAKE_TEST and GRAPH


# ---- marked commands ----

def distinctive(code: str) -> list[str]:
    """The words of a command a test that runs it must name: its arguments, and the program unless a launcher."""
    words = shlex.split(code)
    return words[1:] if words[0] in LAUNCHERS else [Path(words[0]).name, *words[1:]]


@pytest.mark.parametrize("command", [c for c in MARKED if RUN_BY.fullmatch(c.comment)],
                         ids=ids([c for c in MARKED if RUN_BY.fullmatch(c.comment)]))
def test_the_named_test_exists_and_runs_the_command(command):
    path, name = RUN_BY.fullmatch(command.comment).groups()
    module = ROOT / path
    assert module.is_file(), f"{command.where}: {path} does not exist"
    source = module.read_text()
    tree = ast.parse(source)
    defined = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    assert name in defined and name.startswith("test"), f"{command.where}: {path} has no test {name}"
    sources = source + (ROOT / "tests" / "conftest.py").read_text()
    missing = [word for word in distinctive(command.code) if word not in sources]
    assert not missing, f"{command.where}: {path} (or tests/conftest.py) never names {missing}"


@pytest.mark.parametrize("command", [c for c in MARKED if c.comment in (GPU, SLURM)],
                         ids=ids([c for c in MARKED if c.comment in (GPU, SLURM)]))
def test_what_a_command_needs_is_what_it_uses(command):
    if command.comment == GPU:
        assert re.search(r"cuda|gpu", command.code, re.IGNORECASE), command.where
    else:
        assert "--profile profiles/slurm" in command.code, command.where


# ---- commands run here ----

def plan(workdir: Path, *args: str) -> tuple[dict, str]:
    """The job counts (and `total`) of a dry run, and its output."""
    proc = run_snakemake(workdir, *args, timeout=300)
    stats = re.search(r"Job stats:\n(.*?\n\s*total\s+\d+)", proc.stdout, re.DOTALL)
    assert stats, proc.stdout[-3000:]
    return job_table(stats[1].splitlines()), proc.stdout


def check_plan(command_args: str, counts: dict, out: str, printed: dict | None) -> None:
    for rule, n in STATED.get(command_args, {}).items():
        assert counts.get(rule) == n, (command_args, rule, counts)
    if printed:  # the job table the docs print after the command
        assert counts == printed, (command_args, counts, printed)
    if "--profile profiles/slurm" in command_args:  # every GPU rule's job keeps its GPU
        resources = re.findall(r"^\s*rule (\w+):\n(?:\s+\w+: .*\n)*?\s+resources: (.*)$", out, re.MULTILINE)
        gpu_jobs = [(rule, res) for rule, res in resources if rule in GPU_RULES]
        assert len(gpu_jobs) == sum(counts.get(rule, 0) for rule in GPU_RULES)
        assert all("gpu=1" in res.split(", ") for _, res in gpu_jobs), gpu_jobs


@pytest.mark.slow
@pytest.mark.parametrize("command", DRY_RUNS, ids=ids(DRY_RUNS))
def test_dry_runs_plan_what_the_docs_say(command, tmp_path):
    args = shlex.split(command.code)[1:]
    for word in args:
        if word.endswith((".yaml", ".yml")) and not (ROOT / word).is_file():
            pytest.fail(f"{command.where}: {word} does not exist")
    counts, out = plan(copy_workflow(tmp_path), *args)
    assert counts["total"] > 0
    check_plan(" ".join(args), counts, out, command.table)


@pytest.mark.slow
@pytest.mark.parametrize("command", MAKE_RUN, ids=ids(MAKE_RUN))
def test_make_run_plans_the_default(command, tmp_path):
    runs = make_dry_run(command.code)
    run = [line for line in runs if re.match(r"\S*snakemake ", line)]
    assert run and run[-1].split() == [".venv/bin/snakemake", "--cores", "all"], runs
    args = run[-1].split()[1:] + ["-n"]
    counts, out = plan(copy_workflow(tmp_path), *args)
    check_plan(" ".join(args), counts, out, None)


def make_dry_run(code: str) -> list[str]:
    """What `make -n` prints for a `make TARGET VAR=VALUE ...` command (run in the repository, changing nothing)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    proc = subprocess.run(["make", "-n", *shlex.split(code)[1:]], cwd=ROOT, capture_output=True, text=True,
                          env=env, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


@pytest.fixture(scope="module")
def collected():
    """(test ids, files that failed to collect) of the whole suite, collected once, nothing run."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           "--continue-on-collection-errors", "tests"], cwd=ROOT, capture_output=True, text=True,
                          check=False, timeout=300)
    tests = re.findall(r"^(tests/\S+?\.py::\S+)", proc.stdout, re.MULTILINE)
    errors = re.findall(r"^ERROR (tests/\S+\.py)", proc.stdout, re.MULTILINE)
    assert tests, proc.stdout[-3000:] + proc.stderr[-3000:]
    return tests, errors, proc.stdout


@pytest.mark.parametrize("command", MAKE_TEST, ids=ids(MAKE_TEST))
def test_make_test_runs_pytest_on_what_it_names(command, collected):
    settings = dict(word.split("=", 1) for word in shlex.split(command.code)[2:])
    runs = [line for line in make_dry_run(command.code) if " -m pytest " in line]
    assert len(runs) == 1, runs
    args = shlex.split(settings.get("ARGS", ""))
    expected = [".venv/bin/python", "-m", "pytest", "-n", settings.get("TEST_WORKERS", "2"), "--dist", "loadfile",
                *args]
    assert shlex.split(runs[0]) == expected
    tests, errors, out = collected
    paths = [a for a in args if a.startswith("tests")] or ["tests"]
    for path in paths:
        assert any(t.startswith(path.rstrip("/") + ("::" if path.endswith(".py") else "/")) for t in tests), path
        broken = [e for e in errors if e.startswith(path.rstrip("/"))]
        assert not broken, f"`{command.code}` cannot collect {broken}:\n{out[-3000:]}"
    if command.code == "make test":  # CI runs exactly this
        ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
        assert ci[-1] == "make test", ci


@pytest.mark.slow
@pytest.mark.parametrize("command", GRAPH, ids=ids(GRAPH))
def test_the_committed_rule_graph_is_the_workflows(command, tmp_path):
    workdir = copy_workflow(tmp_path)
    made = run_snakemake(workdir, "--rulegraph", timeout=300).stdout
    committed = (ROOT / "docs" / "rulegraph.dot").read_text()

    def graph(dot: str) -> tuple[set, set]:
        labels = dict(re.findall(r"^\s*(\d+)\[label = \"(\w+)\"", dot, re.MULTILINE))
        edges = {(labels[a], labels[b]) for a, b in re.findall(r"^\s*(\d+) -> (\d+)", dot, re.MULTILINE)}
        return set(labels.values()), edges

    nodes, edges = graph(committed)
    assert graph(made) == (nodes, edges), f"docs/rulegraph.dot is out of date; remake it with:\n{RULEGRAPH}"
    # the rule graph is the same for every run, but the order Snakemake prints its edges in is not: compared as sets
    svg = (ROOT / "docs" / "rulegraph.svg").read_text()
    assert {m for m in re.findall(r">(\w+)</text>", svg)} == nodes, "docs/rulegraph.svg does not draw the DOT file"
    assert svg.count('class="edge"') == len(edges) and svg.count('class="node"') == len(nodes)


PHASE_LINE = ('2026-01-01 00:00:00,000 INFO phases {"wall": {"startup": 1.0, "load": 0.5, "compute": 3.0, '
              '"write": 0.5}, "cpu": {"startup": 0.5, "load": 0.25, "compute": 3.0, "write": 0.25}}\n')


@pytest.mark.parametrize("command", PHASES, ids=ids(PHASES))
def test_the_phase_summary(command, tmp_path):
    folders = shlex.split(command.code)[3:]
    for n, folder in enumerate(folders):  # one job's log in each folder the command names
        log = tmp_path / folder / "logs" / "train" / f"job-{n}.log"
        log.parent.mkdir(parents=True)
        log.write_text("2026-01-01 00:00:00,000 INFO device cpu\n" + PHASE_LINE)
    proc = subprocess.run([sys.executable, *shlex.split(command.code)[1:]], cwd=tmp_path, capture_output=True,
                          text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{len(folders)} jobs\n"), proc.stdout
    assert "compute share: 0.600 of wall time, 0.750 of CPU time" in proc.stdout, proc.stdout


# ---- links ----

def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@pytest.mark.parametrize("doc", [*DOCS, ROOT / "BENCHMARKS.md"], ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_anchors_resolve(doc):
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.DOTALL)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md":
            headings = re.findall(r"^#+ (.*)$", re.sub(r"```.*?```", "", file.read_text(), flags=re.DOTALL),
                                  re.MULTILINE)
            if anchor not in {slug(h) for h in headings}:
                broken.append(target)
    assert not broken, f"{doc.relative_to(ROOT)}: {broken}"


# ---- the paper's settings ----

def paper_rows() -> dict[str, list[str]]:
    """file -> its cells, of the table in docs/paper.md whose first column is a config/paper/ file."""
    rows = {}
    for line in (ROOT / "docs" / "paper.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `") and cells[0].endswith(".yaml`"):
            rows[cells[0].strip("`")] = cells
    return rows


def header_costs(path: Path) -> tuple[str, float, str]:
    """(`N (rule n, ...)`, GPU-hours, method) of a setting's cost block, as benchmarks/paper_costs.py writes it."""
    comments = " ".join(line[1:].strip() for line in path.read_text().splitlines() if line.startswith("#"))
    jobs = re.search(r"Jobs \(snakemake -n, fresh checkout\): (\d+) in all; GPU jobs: (.*?); local:", comments)
    hours = re.search(r"GPU-hours: ([\d.,]+), estimated.*?Source: ([\w+-]+)\.", comments)
    assert jobs and hours, f"{path.relative_to(ROOT)}: no cost block"
    return f"{jobs[1]} ({jobs[2]})", float(hours[1].replace(",", "")), hours[2]


def test_the_paper_table_lists_every_setting_with_its_header_costs():
    settings = sorted(p.name for p in PAPER.glob("*.yaml") if p.name != Path(PROTOCOL).name)
    rows = paper_rows()
    assert sorted(rows) == settings, "docs/paper.md's table and config/paper/ list different settings"
    for name, (_, _, jobs, hours, command) in rows.items():
        stated_jobs, stated_hours, method = header_costs(PAPER / name)
        assert jobs == stated_jobs, (name, jobs, stated_jobs)
        # the table rounds the unrounded estimate to hours, the header to tenths
        assert re.fullmatch(rf"[\d,]+ \({re.escape(method)}\)", hours), (name, hours, method)
        assert abs(float(hours.split()[0].replace(",", "")) - stated_hours) <= 0.55, (name, hours, stated_hours)
        assert command == f"`snakemake --profile profiles/slurm --configfile {PROTOCOL} config/paper/{name}`", command
