"""The paper's experiments (config/paper/*.yaml) plan as their headers say, on a machine without their data.

Every file in the folder is checked (a new file is tested without editing this one). A dry run costs 10-35 s per
file on 2 shared cores, the larger DAGs the most, so instead of one snakemake per file, one dry run plans every
file at once: each file's experiments under names prefixed by the file's name. An experiment's jobs depend on its
own section alone, so each file's jobs are those of its own dry run, renamed (the data jobs, one per dataset, are
shared). Each file's test compares them with the job counts its header states (written by
benchmarks/paper_costs.py from that file's own dry run) and checks the missing-data warning names its dataset. One
file is also planned and run on its own, exactly as the README's command: the dry run plans and warns, the real run
stops before its first job naming the missing files.
"""

import re
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, copy_workflow, job_counts, run_snakemake

sys.path.insert(0, str(ROOT / "benchmarks"))
from paper_jobs import parse_jobs

pytestmark = pytest.mark.slow

PAPER = ROOT / "config" / "paper"
FILES = sorted(PAPER.glob("*.yaml"))
PER_EXPERIMENT = ("train", "train_star", "barrier", "ensemble", "experiment_config", "aggregate", "ensembles",
                  "figures", "sweep")
MISSING = {"cifar10": "CIFAR-10 not found", "cifar100": "CIFAR-100 not found", "mnist": "MNIST not found",
           "imagenet": "ImageNet not found"}


def prefix(path: Path) -> str:
    return path.stem + "."


def header_counts(path: Path) -> dict[str, int]:
    """The job counts of the file's cost block: `Jobs (...): N in all; GPU jobs: rule n, ...; local: rule n, ...`."""
    comments = [line[1:].strip() for line in path.read_text().splitlines() if line.startswith("#")]
    text = " ".join(comments)
    m = re.search(r"Jobs \(snakemake -n, fresh checkout\): (\d+) in all; GPU jobs: (.*?); local: (.*?)\.", text)
    assert m, f"{path.name}: no job counts in its header (run benchmarks/paper_costs.py --update-headers)"
    counts = {rule: int(n) for rule, n in re.findall(r"(\w+) (\d+)", f"{m[2]}, {m[3]}")}
    assert sum(counts.values()) == int(m[1]), f"{path.name}: the header's counts do not add up to its total"
    return counts


@pytest.fixture(scope="module")
def union_plan(tmp_path_factory):
    """One dry run of every paper experiment, each renamed `<file stem>.<experiment>`."""
    workdir = copy_workflow(tmp_path_factory.mktemp("paper"))
    experiments, top = {}, {}
    for path in FILES:
        config = yaml.safe_load(path.read_text())
        for key, value in config.items():
            if key != "experiments":
                assert top.setdefault(key, value) == value, f"{path.name}: top-level {key} differs from another file's"
        experiments |= {prefix(path) + name: exp for name, exp in config["experiments"].items()}
    union = workdir / "paper-union.yaml"
    union.write_text(yaml.safe_dump({**top, "experiments": experiments}))
    proc = run_snakemake(workdir, "-n", "--configfile", str(union))
    return proc.stdout + proc.stderr, parse_jobs(proc.stdout)


def planned_for(path: Path, jobs) -> dict[str, int]:
    counts = {}
    for job in jobs:
        wildcards = dict(job.wildcards)
        name = wildcards.get("exp") or wildcards.get("sweep") or ""
        if job.rule in PER_EXPERIMENT and name.startswith(prefix(path)):
            counts[job.rule] = counts.get(job.rule, 0) + 1
    return counts


def test_the_folder_holds_every_paper_setting():
    names = {p.stem for p in FILES}
    assert {"resnet18_cifar10", "resnet18_cifar100", "vgg11_cifar10", "vgg19_cifar10", "densenet40_cifar10",
            "densenet40_cifar100", "wrn_cifar10", "mlp_mnist_width", "resnet18_cifar10_t_scheme",
            "resnet18_cifar10_k", "resnet18_cifar10_heldout", "resnet18_cifar10_adam", "resnet18_cifar10_warmup",
            "resnet18_imagenet"} <= names


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_plans_what_its_header_says(path, union_plan):
    output, jobs = union_plan
    stated = header_counts(path)
    text = path.read_text()
    assert text.startswith('# Paper: "Do deep neural network solutions form a star domain?"'), path.name
    assert "# Reproduces:" in text and "GPU-hours:" in text and "Time model:" in text, path.name
    assert planned_for(path, jobs) == {r: n for r, n in stated.items() if r in PER_EXPERIMENT}
    config = yaml.safe_load(text)
    datasets = {exp["dataset"] for exp in config["experiments"].values()}
    for dataset in datasets:
        assert MISSING[dataset] in output, f"{path.name}: no missing-data warning for {dataset}"
        prepared = any(o == f"resources/{dataset}.pt" for job in jobs for o in job.outputs)
        assert prepared == (dataset != "imagenet"), f"{path.name}: {dataset} is prepared in memory unless streamed"
    assert stated.get("prepare_data", 0) == len(datasets - {"imagenet"})


def test_a_file_plans_alone_and_a_real_run_stops_before_its_first_job(tmp_path):
    """The README's command on one file: the dry run plans its header's jobs and warns; the real run stops at once,
    naming the CIFAR-10 files it needs, and leaves no results or resources behind."""
    workdir = copy_workflow(tmp_path)
    path = "config/paper/vgg11_cifar10.yaml"
    files = "cifar-10-batches-py/{data_batch_1,data_batch_2,data_batch_3,data_batch_4,data_batch_5,test_batch}"
    dry = run_snakemake(workdir, "-n", "--configfile", path)
    assert "Data missing" in dry.stdout + dry.stderr and files in dry.stdout + dry.stderr
    assert job_counts(dry.stdout) == header_counts(workdir / path)
    real = run_snakemake(workdir, "--configfile", path, "--cores", "1", check=False)
    out = real.stdout + real.stderr
    assert real.returncode != 0 and "data missing" in out and files in out
    assert not (workdir / "results").exists() and not (workdir / "resources").exists()
