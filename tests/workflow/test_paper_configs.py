"""The paper's experiments (config/paper/) plan as their headers say, on a machine without their data.

The folder holds the protocol every setting shares (protocol.yaml) and one file per setting, always given after it:
`--configfile config/paper/protocol.yaml config/paper/X.yaml`. Every setting in the folder is checked (a new file is
tested without editing this one). A dry run costs 5-35 s per file on 2 shared cores, the larger DAGs the most, so
instead of one snakemake per file, one dry run plans every file at once, with the protocol: each file's experiments
under names prefixed by the file's name. An experiment's jobs depend on its own section alone, so each file's jobs
are those of its own dry run, renamed (the data jobs, one per dataset, are shared). Each file's test compares them
with the job counts its header states (written by benchmarks/paper_costs.py from that file's own dry run) and checks
the missing-data warning names its dataset. One file is also planned and run on its own, exactly as its header's
command: the dry run plans and warns, the real run stops before its first job naming the missing files; given without
the protocol, it is refused naming the file to add.
"""

import re
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, copy_workflow, job_counts, run_snakemake

sys.path.insert(0, str(ROOT / "benchmarks"))
from paper_jobs import PROTOCOL, load_config, paper_files, parse_jobs

pytestmark = pytest.mark.slow

FILES = paper_files()
PER_EXPERIMENT = ("train", "train_star", "train_control", "merge_anchors", "barrier", "ensemble", "experiment_config",
                  "aggregate", "ensembles", "figures", "sweep", "costs")
MISSING = {"cifar10": "CIFAR-10 not found", "cifar100": "CIFAR-100 not found", "mnist": "MNIST not found",
           "imagenet": "ImageNet not found", "ag_news": "AG News not found"}


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
    """One dry run of every paper experiment, each renamed `<file stem>.<experiment>`, with the protocol."""
    workdir = copy_workflow(tmp_path_factory.mktemp("paper"))
    experiments, top = {}, yaml.safe_load(PROTOCOL.read_text())
    for path in FILES:
        config = yaml.safe_load(path.read_text())
        for key, value in config.items():
            if key != "experiments":
                assert top.setdefault(key, value) == value, f"{path.name}: top-level {key} differs from another file's"
        experiments |= {prefix(path) + name: exp for name, exp in config["experiments"].items()}
    union = workdir / "paper-union.yaml"
    union.write_text(yaml.safe_dump({**top, "experiments": experiments}))
    proc = run_snakemake(workdir, "-n", "--configfile", str(union))
    assert "protocols" in top and proc.returncode == 0
    return proc.stdout + proc.stderr, parse_jobs(proc.stdout)


def planned_for(path: Path, jobs) -> dict[str, int]:
    counts = {}
    for job in jobs:
        wildcards = dict(job.wildcards)
        name = wildcards.get("exp") or wildcards.get("sweep") or ""
        if job.rule in PER_EXPERIMENT and name.startswith(prefix(path)):
            counts[job.rule] = counts.get(job.rule, 0) + 1
    return counts


def test_the_folder_holds_every_paper_setting_each_on_the_protocol():
    names = {p.stem for p in FILES}
    # resnet18_cifar10 holds the k and t-scheme sweeps: one experiment, one file
    assert {"resnet18_cifar10", "resnet18_cifar100", "vgg11_cifar10", "vgg19_cifar10", "densenet40_cifar10",
            "densenet40_cifar100", "wrn_cifar10", "mlp_mnist_width", "resnet18_cifar10_heldout",
            "resnet18_cifar10_adam", "resnet18_cifar10_warmup", "resnet18_imagenet"} <= names
    assert PROTOCOL.read_text().startswith('# Paper: "Do deep neural network solutions form a star domain?"')
    protocols = yaml.safe_load(PROTOCOL.read_text())
    assert list(protocols) == ["protocols"]
    experiments = {}
    for path in FILES:
        config = yaml.safe_load(path.read_text())
        assert list(config) == ["experiments"], f"{path.name}: a setting's file holds its experiments only"
        for name, exp in config["experiments"].items():
            assert exp["protocol"] in protocols["protocols"], f"{path.name}: {name} names no protocol of the folder"
            assert name not in experiments, f"{path.name}: {name} is also in {experiments[name]}: one file each"
            experiments[name] = path.name


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_plans_what_its_header_says(path, union_plan):
    output, jobs = union_plan
    stated = header_counts(path)
    text = path.read_text()
    assert text.startswith('# Paper: "Do deep neural network solutions form a star domain?"'), path.name
    assert "# Reproduces:" in text and "GPU-hours:" in text and "Time model:" in text, path.name
    assert planned_for(path, jobs) == {r: n for r, n in stated.items() if r in PER_EXPERIMENT}
    assert f"--configfile config/paper/protocol.yaml config/paper/{path.name}" in text, path.name
    config = load_config(path)  # with the protocol: the dataset may be the protocol's
    datasets = {exp["dataset"] for exp in config["experiments"].values()}
    for dataset in datasets:
        assert MISSING[dataset] in output, f"{path.name}: no missing-data warning for {dataset}"
        # resources/<dataset>.pt, or a stem spelling the settings it was prepared with (ag_news-min1-max100000.pt)
        prepared = any(o == f"resources/{dataset}.pt" or o.startswith(f"resources/{dataset}-")
                       for job in jobs for o in job.outputs)
        assert prepared == (dataset != "imagenet"), f"{path.name}: {dataset} is prepared in memory unless streamed"
    assert stated.get("prepare_data", 0) == len(datasets - {"imagenet"})


def test_a_file_plans_alone_and_a_real_run_stops_before_its_first_job(tmp_path):
    """The header's command on one file: the dry run plans its header's jobs and warns; the real run stops at once,
    naming the CIFAR-10 files it needs, and leaves no results or resources behind. Without the protocol, the file is
    refused before anything is planned, naming the file to add and the command with it."""
    workdir = copy_workflow(tmp_path)
    protocol, path = "config/paper/protocol.yaml", "config/paper/vgg11_cifar10.yaml"
    alone = run_snakemake(workdir, "-n", "--configfile", path, check=False)
    out = alone.stdout + alone.stderr
    assert alone.returncode != 0 and "Traceback" not in out, out[-3000:]
    assert (f"experiments.vgg11_cifar10.protocol: protocol 'paper' is defined in {protocol}, which was not given; "
            f"add it before the experiment's file: --configfile {protocol} {path}") in out, out[-3000:]
    files = "cifar-10-batches-py/{data_batch_1,data_batch_2,data_batch_3,data_batch_4,data_batch_5,test_batch}"
    dry = run_snakemake(workdir, "-n", "--configfile", protocol, path)
    assert "Data missing" in dry.stdout + dry.stderr and files in dry.stdout + dry.stderr
    assert job_counts(dry.stdout) == header_counts(workdir / path)
    real = run_snakemake(workdir, "--configfile", protocol, path, "--cores", "1", check=False)
    out = real.stdout + real.stderr
    assert real.returncode != 0 and "data missing" in out and files in out
    assert not (workdir / "results").exists() and not (workdir / "resources").exists()
