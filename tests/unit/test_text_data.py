"""The text datasets: AG News read from CSV files in the release's format, the tokenizer and the vocabulary, the
prepared file and its splits, the synthetic text corpus, and the configs refused before any job."""

import copy
from pathlib import Path

import pytest
import torch
from snakemake.utils import validate

from starlight.data import DataError, configured_dataset, data_input, data_settings, dataset_from_stem, load_splits
from starlight.data.tokenize import basic_english, build_vocab, padded
from starlight.pipeline import experiment as xp

# The release's format: quoted fields, backslash escapes, a comma inside a quoted field, an empty description.
TRAIN = ('"3","Wall St. Bears Claw Back (Reuters)","Short-sellers, Wall Street\'s dwindling band, are seeing '
         'green again."\n'
         '"1","Quote \\"this\\"","He said \\\\ hello!"\n'
         '"2","Sports, sports","Goal? Goal!"\n'
         '"4","Empty description",""\n'
         '"3","Wall St. again","Reuters - wall street"\n')
TEST = '"2","Goal","<br />Unknown words here."\n'


def write_release(folder, train=TRAIN, test=TEST):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.csv").write_text(train)
    (folder / "test.csv").write_text(test)
    return folder


def test_basic_english_lowercases_and_splits_on_punctuation():
    assert basic_english("Wall St. Bears (Reuters)!") == ["wall", "st", ".", "bears", "(", "reuters", ")", "!"]
    assert basic_english('He said "hi"; isn\'t it?<br />Yes: no') == ["he", "said", "hi", "isn", "'", "t", "it",
                                                                      "?", "yes", "no"]


def test_vocabulary_keeps_the_frequent_tokens_and_refuses_no_room_for_words():
    texts = [["b", "a", "b"], ["c", "a", "b"], ["d"]]
    assert build_vocab(texts, 1, 100) == ["<pad>", "<unk>", "b", "a", "c", "d"]  # by count, ties alphabetically
    assert build_vocab(texts, 2, 100) == ["<pad>", "<unk>", "b", "a"]
    assert build_vocab(texts, 1, 3) == ["<pad>", "<unk>", "b"]
    with pytest.raises(ValueError, match="max_size=2"):
        build_vocab(texts, 1, 2)


def test_padded_cuts_and_pads_each_text():
    ids, offsets = torch.tensor([5, 6, 7, 8, 9], dtype=torch.int32), torch.tensor([0, 3, 3, 5])
    assert padded(ids, offsets, 2).tolist() == [[5, 6], [0, 0], [8, 9]]
    assert padded(ids, offsets, 4).tolist() == [[5, 6, 7, 0], [0, 0, 0, 0], [8, 9, 0, 0]]


@pytest.mark.parametrize("layout", ["standard", "own_folder"])
def test_ag_news_is_read_from_the_release_csv(tmp_path, layout, caplog):
    root = tmp_path / "data"
    write_release(root / "ag_news" if layout == "standard" else root)
    entry = configured_dataset("ag_news", {"text": {"max_size": 10, "min_freq": 1, "length": 6}})
    entry.check_available(str(root), False)
    with caplog.at_level("WARNING", logger="starlight"):
        raw = entry.read(entry.stage(tmp_path / "staged", str(root)))
    # files shorter than the release are read, and the prepare_data log says so
    assert [r.getMessage().rsplit("/", 1)[1] for r in caplog.records] == [
        "train.csv has 5 rows; the release's has 120,000", "test.csv has 1 rows; the release's has 7,600"]
    assert raw["train_y"].tolist() == [2, 0, 1, 3, 2] and raw["test_y"].tolist() == [1]
    vocab = raw["vocab"]
    # "wall" 4 times, "," and "." 3 times each, then five of the seven tokens seen twice, alphabetically
    assert vocab == ["<pad>", "<unk>", "wall", ",", ".", "!", "again", "goal", "reuters", "sports"]
    texts = [[vocab[i] for i in raw["train_ids"][a:b]] for a, b in zip(raw["train_offsets"][:-1],
                                                                        raw["train_offsets"][1:])]
    # title and description joined: the escaped quotes are read as quotes (then dropped), "\\" as one backslash
    assert len(texts[1]) == 7 and texts[1][:2] == ["<unk>", "<unk>"]  # quote, this: once each, below the cut
    assert texts[3] == ["<unk>", "<unk>"]  # "Empty description" and an empty field
    assert texts[2][1] == ","  # the comma inside the quoted title is a token of its own
    # the test split is encoded with the training vocabulary: its unseen words are <unk>
    assert raw["test_ids"].tolist().count(1) == 3


def test_prepared_ag_news_splits_are_padded_token_ids(tmp_path):
    root = write_release(tmp_path / "ag_news")
    data = {"text": {"max_size": 50, "length": 8}, "val_size": 2}
    entry = configured_dataset("ag_news", data)
    assert entry.file_stem == "ag_news-min1-max50" == dataset_from_stem("ag_news-min1-max50").file_stem
    torch.save(entry.read(entry.stage(tmp_path / "staged", str(root))), tmp_path / "news.pt")
    splits = load_splits(tmp_path / "news.pt", "ag_news", data)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (3, 2, 1)
    assert splits.train.tokens.shape == (3, 8) and splits.train.tokens.dtype == torch.long
    assert splits.spec.shape == (50, 8) and splits.spec.input == "tokens"
    x, _ = next(splits.train.epoch(3, seed=0, epoch=0))
    assert x.shape == (3, 8) and torch.equal(next(splits.train.epoch(3, 0, 0))[0], x)


def test_missing_ag_news_names_the_files_and_the_release(tmp_path):
    (tmp_path / "ag_news").mkdir()
    (tmp_path / "ag_news" / "train.csv").write_text(TRAIN)  # test.csv is missing
    missing = data_input("ag_news", {}, str(tmp_path), None, allow_download=True, resources=str(tmp_path / "res"))
    assert "ag_news/{train.csv,test.csv}" in missing.problem and "ag_news_csv" in missing.problem
    assert "never downloaded" in missing.problem
    unset = data_input("ag_news", {}, None, None, allow_download=True, resources=str(tmp_path / "res"))
    assert "no `data_root` set" in unset.problem


def test_a_bad_row_is_named(tmp_path):
    root = write_release(tmp_path / "ag_news", train='"7","a","b"\n')
    entry = configured_dataset("ag_news", {})
    with pytest.raises(DataError, match=r"train.csv, row 1: expected"):
        entry.read(root.parent)


def test_synthetic_text_is_seeded_and_learnable():
    settings = {"synthetic_text": {"vocab": 60, "length": 10, "train_size": 400, "test_size": 100, "seed": 3}}
    entry = configured_dataset("synthetic_text", settings)
    a, b = entry.read("unused"), entry.read("unused")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert dataset_from_stem(entry.file_stem) == entry
    # the class is the topic group a text's words come from: each topic word appears in texts of one class only
    starts, labels = a["train_offsets"], a["train_y"]
    classes_of = {}
    for i in range(len(labels)):
        for token in a["train_ids"][starts[i]:starts[i + 1]].tolist():
            classes_of.setdefault(token, set()).add(int(labels[i]))
    one_class = sum(len(c) == 1 for c in classes_of.values())
    assert one_class >= 0.7 * len(classes_of) and labels.bincount().tolist() == [100] * 4


EXP = {"dataset": "ag_news", "model": {"name": "text_bag"}, "data": {}, "anchors": {"count": 1, "seed_start": 0},
       "heldout": {"count": 1, "seed_start": 10}, "star": {"n_anchors": [1]}}


def checked(exp):
    """The experiment with the schema's defaults, checked as the workflow checks it before any job."""
    config = {"experiments": {"e": copy.deepcopy(exp)}}
    validate(config, str(Path(__file__).parents[2] / "workflow/schemas/config.schema.yaml"))
    e = config["experiments"]["e"]
    data_settings(e["dataset"], e["data"])
    xp.check("e", e)


def test_refused_before_any_job():
    checked(EXP)
    with pytest.raises(xp.ConfigError, match=r"model.name='text_bag' reads tokens, but dataset 'cifar10' holds "
                                             r"images"):
        checked({**EXP, "dataset": "cifar10"})
    with pytest.raises(xp.ConfigError, match=r"model.name='mlp' reads images, but dataset 'ag_news' holds tokens"):
        checked({**EXP, "model": {"name": "mlp"}})
    with pytest.raises(DataError, match=r"data.text.max_size=2: the vocabulary needs room"):
        checked({**EXP, "data": {"text": {"max_size": 2}}})
    with pytest.raises(DataError, match=r"data.augment.crop=true: ag_news holds tokens"):
        checked({**EXP, "data": {"augment": {"crop": True}}})
    with pytest.raises(xp.ConfigError, match=r"text_cnn needs texts of at least 5 tokens"):
        checked({**EXP, "model": {"name": "text_cnn"}, "data": {"text": {"length": 4}}})
