"""The table of what each job of an experiment cost (starlight/report/costs.py), from benchmark files and job logs laid
out as the rules write them."""

import json
import math

import pytest

from starlight.report.costs import job_costs

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def job(results, path, wall, cpu, rss, phases=None):
    tsv = results / "benchmarks" / f"{path}.tsv"
    tsv.parent.mkdir(parents=True, exist_ok=True)
    tsv.write_text(HEADER + f"{wall}\t0:00:01\t{rss}\t1\t1\t1\t0\t0\t1\t{cpu}\n")
    if phases is not None:
        log = results / "logs" / f"{path}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("2026-01-01 INFO started\n2026-01-01 INFO phases "
                       + json.dumps({"wall": phases, "cpu": phases}) + "\n")


def test_one_row_per_job_with_its_phases_then_the_compute_share_of_all(tmp_path):
    job(tmp_path, "train/anchor-0", 10.0, 8.0, 600.5, {"startup": 2, "load": 1, "compute": 6, "write": 1})
    job(tmp_path, "barrier/anchor-0", 20.0, 15.0, 700.0, {"startup": 2, "load": 1, "compute": 16, "write": 1})
    job(tmp_path, "aggregate", 3.0, "NA", 300.0)  # no phases line, no CPU time measured
    job(tmp_path, "sweep", 99.0, 99.0, 9999.0, {"startup": 99, "load": 0, "compute": 0, "write": 0})  # the sweep's
    rows = job_costs(tmp_path / "benchmarks", tmp_path / "logs")
    assert [(r["rule"], r["wildcards"]) for r in rows] == [("aggregate", ""), ("barrier", "anchor-0"),
                                                           ("train", "anchor-0"), ("all jobs", "")]
    barrier = rows[1]
    assert (barrier["wall_s"], barrier["cpu_s"], barrier["max_rss_mb"]) == (20.0, 15.0, 700.0)
    assert barrier["compute_s"] == 16 and barrier["compute_share"] == pytest.approx(0.8)
    assert math.isnan(rows[0]["cpu_s"]) and math.isnan(rows[0]["compute_share"])
    total = rows[-1]
    assert total["wall_s"] == 33.0 and total["cpu_s"] == 23.0 and total["max_rss_mb"] == 700.0
    assert total["compute_share"] == pytest.approx(22 / 30)


def test_an_experiment_without_benchmarks_is_an_error_that_names_the_folder(tmp_path):
    with pytest.raises(ValueError, match="no benchmark files"):
        job_costs(tmp_path / "benchmarks", tmp_path / "logs")
