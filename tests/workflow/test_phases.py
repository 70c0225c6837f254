"""Every job logs where its time went (start-up, load, compute, write) as one parseable line; a run's compute share
is computed from its logs."""

import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT

from starlight.io.phases import PHASES, parse_line, run_phases

JOB = textwrap.dedent("""
    import sys, time
    from starlight.io.phases import phase
    from starlight.pipeline.runtime import setup_logging

    setup_logging(sys.argv[1])
    with phase("load"):
        time.sleep(0.2)
    with phase("write"):
        time.sleep(0.1)
        with phase("load"):  # nested: the innermost phase counts
            time.sleep(0.1)
    sum(i * i for i in range(200_000))  # compute
    if sys.argv[2] == "fail":
        raise RuntimeError("the job failed")
""")


def _run_job(tmp_path, name, outcome="ok"):
    script = tmp_path / "job.py"
    script.write_text(JOB)
    log = tmp_path / "logs" / f"{name}.log"
    log.parent.mkdir(exist_ok=True)
    proc = subprocess.run([sys.executable, str(script), str(log), outcome], capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT)}, check=False)
    return proc, log


def test_a_job_logs_one_line_with_its_phases(tmp_path):
    proc, log = _run_job(tmp_path, "a")
    assert proc.returncode == 0, proc.stderr
    records = [r for r in map(parse_line, log.read_text().splitlines()) if r]
    assert len(records) == 1
    wall, cpu = records[0]["wall"], records[0]["cpu"]
    assert set(wall) == set(cpu) == set(PHASES)
    assert wall["load"] >= 0.3 and wall["write"] >= 0.1  # sleeps are at least as long as asked
    assert wall["load"] < 0.3 + wall["compute"] + 1.0  # the nested sleep is not counted twice in load and write
    assert wall["startup"] > 0 and cpu["startup"] > 0  # the interpreter and torch's import
    assert cpu["load"] < wall["load"]  # sleeping costs no CPU


def test_a_failing_job_still_logs_its_phases(tmp_path):
    proc, log = _run_job(tmp_path, "b", "fail")
    assert proc.returncode != 0
    text = log.read_text()
    assert "the job failed" in text
    assert sum(parse_line(line) is not None for line in text.splitlines()) == 1


def test_run_phases_sums_jobs_and_computes_the_compute_share(tmp_path):
    for name in ("a", "b"):
        _run_job(tmp_path, name)
    (tmp_path / "logs" / "unrelated.log").write_text("no phases here\n")
    out = run_phases(tmp_path / "logs")
    assert out["jobs"] == 2
    assert out["wall"]["load"] >= 0.6
    for clock in ("wall", "cpu"):
        total = sum(out[clock].values())
        assert out["compute_share"][clock] == pytest.approx(out[clock]["compute"] / total)
        assert 0 < out["compute_share"][clock] < 1


@pytest.mark.slow
def test_every_rule_of_a_real_run_logs_its_phases(tiny_reference):
    logs = sorted((tiny_reference / "results" / "tiny" / "logs").rglob("*.log"))
    logs += sorted((tiny_reference / "logs").rglob("*.log"))
    assert len(logs) >= 15  # stage, prepare, 5 models, a star, 6 pairs, aggregate, figures
    for path in logs:
        records = [r for r in map(parse_line, path.read_text().splitlines()) if r]
        assert len(records) == 1, path
        assert records[0]["wall"]["startup"] > 0, path
    out = run_phases(tiny_reference / "results" / "tiny", tiny_reference / "logs")
    assert out["jobs"] == len(logs)
    assert 0 < out["compute_share"]["wall"] < 1
    train_log = tiny_reference / "results" / "tiny" / "logs" / "train" / "anchor-0.log"
    train = next(r for r in map(parse_line, train_log.read_text().splitlines()) if r)
    assert train["wall"]["load"] > 0 and train["wall"]["write"] > 0  # dataset read; checkpoint written


@pytest.mark.parametrize("step,unneeded", [("train", ("torchvision", "pandas", "rebasin", "matplotlib")),
                                           ("train_star", ("torchvision", "pandas", "matplotlib")),
                                           ("barrier", ("torchvision", "matplotlib"))])
def test_a_step_imports_only_what_it_runs(step, unneeded):
    """Start-up is most of a short job: torchvision alone (through torch._dynamo) doubled a step's imports."""
    code = f"import sys, starlight.jobs.{step}; print(' '.join(m for m in {unneeded!r} if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert proc.stdout.strip() == ""
