"""Text through the real `snakemake` command line: the whole DAG, controls included, on the synthetic text smoke
config, and AG News missing from its root stopping a run before its first job."""

import json

import pandas as pd
import pytest
import torch
import yaml
from conftest import copy_workflow, job_counts, run_snakemake

pytestmark = pytest.mark.slow


def test_text_synthetic_config_runs_the_whole_dag(tmp_path):
    workdir = copy_workflow(tmp_path)
    run_snakemake(workdir, "--configfile", "config/text_synthetic.yaml", "--cores", "2")
    res = workdir / "results" / "text_synthetic"
    raw = torch.load(workdir / "resources" / "synthetic_text-200vocab-24len-4classes-1200train-400test-seed0.pt",
                     weights_only=True)
    assert raw["train_offsets"].shape == (1201,) and raw["train_ids"].dtype == torch.int32
    barriers = pd.read_csv(res / "barriers.csv")
    assert barriers["pair_type"].value_counts().to_dict() == {"star_heldout": 1, "anchor_heldout": 1, "star_anchor": 2,
                                                              "control_heldout": 1, "merged_heldout": 1,
                                                              "merged_anchor": 2}
    assert barriers.filter(regex="^(unaligned_)?(train|test)_(loss|acc)_barrier$").notna().all().all()
    # no BatchNorm in a text model: nothing is re-estimated, and the CSVs say so
    assert (barriers["n_bn"] == 0).all()
    # the anchors learned the corpus (chance is 25 %); the star, at half their rate for two epochs, is above chance
    pair = barriers[barriers.pair_type == "anchor_heldout"].iloc[0]
    assert min(pair["model1_test_acc"], pair["model2_test_acc"]) > 0.9, pair
    assert (barriers.loc[barriers.pair_type == "star_anchor", "model1_test_acc"] > 0.3).all()
    # aligning the held-out model onto the anchor (one group: the embedding's dimensions) lowers their barrier
    assert pair["test_loss_barrier"] < pair["unaligned_test_loss_barrier"], pair
    # the controls on text: an ordinary model stopped at the star's train loss (within the 2 % tolerance), and the
    # anchors merged by weight matching, a model as good as the anchors (the star is worse: its t-averaged loss)
    control, star = (json.loads((res / "models" / f"{m}.json").read_text()) for m in ("control-k2-0", "star-k2-0"))
    assert control["matched"] and abs(control["train_loss"] / star["final"]["train_loss"] - 1) <= 0.02, control
    losses = barriers.groupby("model1")["model1_train_loss"].first()
    assert losses["merged-k2"] < 0.8 * losses["star-k2-0"], losses
    assert "Controls: does the star beat" in (res / "table.md").read_text()
    ensembles = pd.read_csv(res / "ensembles.csv")
    assert len(ensembles) > 0 and ensembles.select_dtypes("number").notna().all().all()
    assert yaml.safe_load((res / "config.yaml").read_text())["experiments"]["text_synthetic"]["model"]["name"] == \
        "text_bag"


def test_missing_ag_news_plans_and_warns_then_stops_before_the_first_job(tmp_path):
    workdir = copy_workflow(tmp_path)
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / "train.csv").write_text('"1","a","b"\n')  # test.csv is missing
    cfg = workdir / "news.yaml"
    cfg.write_text(yaml.safe_dump({"data_roots": {"ag_news": str(tmp_path / "news")}, "experiments": {"news": {
        "dataset": "ag_news", "data": {"text": {"max_size": 1000, "length": 16}}, "model": {"name": "text_bag"},
        "anchors": {"count": 1, "seed_start": 0}, "heldout": {"count": 1, "seed_start": 100},
        "star": {"n_anchors": [1], "seed_start": 200}}}}))
    dry = run_snakemake(workdir, "-n", "--configfile", str(cfg))
    out = dry.stdout + dry.stderr
    assert "Data missing" in out and "ag_news/{train.csv,test.csv}" in out and "never downloaded" in out
    assert job_counts(dry.stdout)["prepare_data"] == 1 and "resources/ag_news-min1-max1000.pt" in dry.stdout
    real = run_snakemake(workdir, "--configfile", str(cfg), "--cores", "1", check=False)
    out = real.stdout + real.stderr
    assert real.returncode != 0 and "data missing" in out and "ag_news_csv" in out
    assert not any((workdir / d).exists() for d in ("results", "resources", "logs"))
