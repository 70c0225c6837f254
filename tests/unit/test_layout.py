"""The package's layers (starlight/__init__.py): each subpackage imports only from the layers below it, and no
step's code fingerprint covers SLURM, lock or report code that it does not run."""

import re

import pytest

from starlight.pipeline.code import ROOT, _parsed, module_file, modules_of

# Layer of each subpackage, from the top down.
LAYERS = {"jobs": 1, "pipeline": 2, "report": 2, "training": 3, "measure": 3,
          "align": 4, "models": 4, "data": 4, "io": 4}
STEPS = sorted(p.stem for p in (ROOT / "jobs").glob("*.py") if p.stem != "__init__")


def subpackage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def imports() -> list[tuple[str, str]]:
    """(importer, imported) for every package-internal import, by module name."""
    edges = []
    for path in sorted(ROOT.rglob("*.py")):
        name = ".".join(("starlight", *path.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__")
        edges += [(name, target) for target in _parsed(path)[1] if module_file(target) is not None]
    return edges


def test_every_module_lives_in_a_subpackage_with_a_docstring():
    loose = [p.name for p in ROOT.glob("*.py") if p.name != "__init__.py"]
    assert loose == []
    for package in [*LAYERS, "slurm"]:
        assert (ROOT / package / "__init__.py").read_text().lstrip().startswith('"""'), package


def test_no_module_imports_a_higher_layer():
    upward = [(a, b) for a, b in imports()
              if subpackage(a) in LAYERS and subpackage(b) in LAYERS and LAYERS[subpackage(b)] < LAYERS[subpackage(a)]]
    assert upward == []
    # and the two halves of a layer stay apart: the report reads files, it runs no pipeline step
    sideways = [(a, b) for a, b in imports() if {subpackage(a), subpackage(b)} in ({"pipeline", "report"},
                                                                                   {"training", "measure"})]
    assert sideways == []


def test_only_the_lock_imports_slurm_code():
    importers = {a for a, b in imports() if subpackage(b) == "slurm" and subpackage(a) != "slurm"}
    assert importers == {"starlight.pipeline.locks"}


@pytest.mark.parametrize("step", STEPS)
def test_no_step_runs_slurm_or_lock_code(step):
    modules = modules_of(step, {"model": {"name": "resnet18"}, "dataset": "cifar10"})
    assert f"starlight.jobs.{step}" in modules
    assert not [m for m in modules if subpackage(m) == "slurm" or m == "starlight.pipeline.locks"]


@pytest.mark.parametrize("step", ["train", "train_star", "train_control", "merge_anchors", "barrier", "ensemble"])
def test_the_steps_that_train_or_measure_run_no_report_code(step):
    modules = modules_of(step, {"model": {"name": "mlp"}, "dataset": "fashion_mnist"})
    assert not [m for m in modules if subpackage(m) == "report"]
    assert "starlight.training.loop" in modules or "starlight.measure.barrier" in modules or step in (
        "merge_anchors", "ensemble")


def rule_scripts() -> dict[str, str]:
    """Rule -> the script it runs, from workflow/rules/*.smk."""
    rules = {}
    for smk in sorted((ROOT.parent / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"(?m)^(?=rule \w+:)", smk.read_text())[1:]:
            script = re.search(r'^\s+script:\s+"\.\./scripts/(\w+)\.py"', block, re.MULTILINE)
            rules[re.match(r"rule (\w+):", block)[1]] = script[1] if script else None
    return rules


def test_every_rule_runs_the_script_and_the_job_of_its_name():
    """Rule X runs workflow/scripts/X.py, which calls X_job of starlight/jobs/X.py; every step has a rule."""
    rules = {rule: script for rule, script in rule_scripts().items() if script is not None}
    assert len(rules) >= 14
    assert {rule: script for rule, script in rules.items() if rule != script} == {}
    assert sorted(rules) == STEPS
    for rule in rules:
        script = (ROOT.parent / "workflow" / "scripts" / f"{rule}.py").read_text()
        assert f"from starlight.jobs.{rule} import {rule}_job" in script, rule
        assert re.search(rf"^\s*{rule}_job\(", script, re.MULTILINE), rule


def test_no_two_test_files_share_a_name():
    """tests/ has no __init__.py files: pytest imports each test file by its name, so a name used twice in unit/,
    workflow/ and cluster/ fails to collect."""
    names = [p.name for p in (ROOT.parent / "tests").rglob("test_*.py")]
    assert len(names) > 40
    assert sorted({n for n in names if names.count(n) > 1}) == []
