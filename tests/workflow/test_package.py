"""`pip install .` gives a whole package: a wheel built from the sources holds every subpackage, imports from
where it was installed, and runs the tiny workflow to the same results as the editable install."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, planned_jobs, run_snakemake

from starlight.pipeline import paths

pytestmark = pytest.mark.slow

PIP = [sys.executable, "-m", "pip"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The package built into a wheel from a copy of the sources (nothing is written into the checkout), then
    installed, without its dependencies (those of this environment serve), into a folder of its own."""
    base = tmp_path_factory.mktemp("package")
    src = base / "src"
    src.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", src)
    shutil.copytree(ROOT / "starlight", src / "starlight", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([*PIP, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(base / "dist"), str(src)],
                   check=True, capture_output=True)
    wheel = next((base / "dist").glob("starlight-*.whl"))
    target = base / "site"
    subprocess.run([*PIP, "install", "-q", "--no-deps", "--target", str(target), str(wheel)], check=True,
                   capture_output=True)
    return wheel, target


def test_the_wheel_holds_every_module_of_the_sources(installed):
    wheel, _ = installed
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "starlight").rglob("*.py")
               if "__pycache__" not in p.parts}
    packed = {name for name in zipfile.ZipFile(wheel).namelist() if name.endswith(".py")}
    assert len(sources) > 80
    assert packed == sources


def test_every_subpackage_imports_from_the_installed_copy(installed):
    _, target = installed
    code = ("import importlib, pkgutil, starlight\n"
            "names = [m.name for m in pkgutil.walk_packages(starlight.__path__, 'starlight.')]\n"
            "for name in names:\n"
            "    importlib.import_module(name)\n"
            "print(starlight.__file__)\n"
            "print(len(names), sorted(m.name for m in pkgutil.iter_modules(starlight.__path__) if m.ispkg))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=target.parent, env={"PYTHONPATH": str(target)},
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert Path(out[0]).is_relative_to(target)
    count, packages = out[1].split(" ", 1)
    assert int(count) > 80
    assert packages == str(["align", "data", "io", "jobs", "measure", "models", "pipeline", "report", "slurm",
                            "tracking", "training"])


def test_the_installed_package_runs_the_tiny_workflow_to_the_same_results(installed, tiny_reference, tmp_path):
    """On a copy of the tiny run the editable install made, without the package's sources: the installed package
    plans nothing (fingerprints do not depend on where it lives), then retrains a held-out model and measures the
    star's pairs again, to the same bytes."""
    _, target = installed
    workdir = tmp_path / "work"
    shutil.copytree(tiny_reference, workdir, symlinks=True)
    assert not (workdir / "starlight").exists()
    env = {"PYTHONPATH": str(target)}
    assert planned_jobs(workdir, "--configfile", "config/tiny.yaml", env=env) == {}

    model, batch = paths.model("tiny", "heldout-101"), paths.batch("tiny", "star-k2-0")
    keys = sorted((workdir / "results" / "tiny" / "pairs").glob("*/star-k2-0__*.key"))
    assert len(keys) == 4  # 2 held-out models and 2 anchors
    for key in keys:  # measured again, not kept as made
        key.unlink()
    run_snakemake(workdir, model, batch, "--configfile", "config/tiny.yaml", "--cores", "2", "--forcerun", model,
                  env=env)
    log = (workdir / "results" / "tiny" / "logs" / "barrier" / "star-k2-0.log").read_text()
    assert "4 pairs, 4 computed, 0 unchanged" in log
    assert (workdir / model).read_bytes() == (tiny_reference / model).read_bytes()
    for key in keys:
        assert key.exists()
        for kind in ("curve", "barriers"):
            ours = key.with_suffix(f".{kind}.csv")
            assert ours.read_bytes() == (tiny_reference / ours.relative_to(workdir)).read_bytes(), ours
