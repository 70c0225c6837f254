"""AG News in its standard CSV release (Zhang, Zhao and LeCun, 2015, `ag_news_csv`): `train.csv` (120,000 rows)
and `test.csv` (7,600 rows), each row `"class index (1-4)","title","description"`, quoted, with backslash
escapes inside the fields (`\\"`, `\\\\`). Its root holds `ag_news/{train,test}.csv` or is itself the folder
with the two files. Nothing is downloaded: the files come from the release (e.g. fast.ai's mirror
https://s3.amazonaws.com/fast-ai-nlp/ag_news_csv.tgz, whose `ag_news_csv/` folder holds them).

A text is the title and the description joined by a space (as torchtext's AG_NEWS reads it), tokenized by the
basic_english rule (tokenize.py); labels are the class index minus 1 (World, Sports, Business, Sci/Tech).
"""

from __future__ import annotations

import csv
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .base import check_folder
from .spec import DataError, DatasetSpec
from .text import TextDataset, TextSettings, encode_splits
from .tokenize import basic_english

log = logging.getLogger("starlight")
FOLDER = "ag_news"
FILES = ("train.csv", "test.csv")
SOURCE = ("the AG News CSV release (`ag_news_csv`: train.csv and test.csv, e.g. from "
          "https://s3.amazonaws.com/fast-ai-nlp/ag_news_csv.tgz); it is never downloaded")


def read_csv(path: Path, n_classes: int) -> tuple[list[list[str]], list[int]]:
    """Tokenized texts and 0-based labels of one release file."""
    texts, labels = [], []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            for line, row in enumerate(csv.reader(f, escapechar="\\", strict=True), start=1):
                if len(row) != 3 or not row[0].strip().isdigit() or not 1 <= int(row[0]) <= n_classes:
                    raise DataError(f"{path}, row {line}: expected \"class index (1-{n_classes})\",\"title\","
                                    f"\"description\", got {row!r:.200}")
                labels.append(int(row[0]) - 1)
                texts.append(basic_english(f"{row[1]} {row[2]}"))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"could not read {path}: {exc}") from exc
    return texts, labels


@dataclass(frozen=True)
class AgNews(TextDataset):
    base_spec: DatasetSpec
    settings: TextSettings = field(default_factory=TextSettings)
    title: str = "AG News"

    @property
    def how_to_provide(self) -> str:
        return (f"Provide {SOURCE}: set `data_root` to a folder holding {FOLDER}/{{{','.join(FILES)}}} (or "
                f"`data_roots: {{ag_news: <folder>}}` for the folder with the two files).")

    def _find(self, root: Path) -> Path | None:
        for candidate in (root / FOLDER, root):
            if all((candidate / name).is_file() for name in FILES):
                return candidate
        return None

    def check_available(self, data_root: str | None, allow_download: bool) -> None:
        if not data_root:
            raise DataError(f"{self.title} not found: no `data_root` set. {self.how_to_provide}")
        if self._find(check_folder(data_root, self.how_to_provide)) is None:
            raise DataError(f"data_root {data_root!r} holds no {self.title} files (expected "
                            f"{FOLDER}/{{{','.join(FILES)}}} or the two files themselves). {self.how_to_provide}")

    def stage(self, dest: str | Path, data_root: str | None = None, allow_download: bool = False) -> Path:
        dest = Path(dest)
        self.check_available(data_root, allow_download)
        src = self._find(Path(data_root))
        (dest / FOLDER).mkdir(parents=True, exist_ok=True)
        for name in FILES:
            shutil.copyfile(src / name, dest / FOLDER / name)
        return dest

    def read(self, staged: str | Path) -> dict:
        folder = self._find(Path(staged))
        if folder is None:
            raise DataError(f"{staged} holds no {FOLDER}/ with {', '.join(FILES)}. {self.how_to_provide}")
        n = self.base_spec.n_classes
        train, test = read_csv(folder / "train.csv", n), read_csv(folder / "test.csv", n)
        release = {"train.csv": self.base_spec.train_size, "test.csv": self.base_spec.test_size}
        for (name, expected), (_, labels) in zip(release.items(), (train, test)):
            if len(labels) != expected:  # a cut download, or a subset made on purpose: read, but say so
                log.warning("%s has %d rows; the release's has %s", folder / name, len(labels), f"{expected:,}")
        return encode_splits(train, test, self.settings)


# 4 classes, 120,000 training and 7,600 test texts; 6,000 held out for validation (the reference's 5 %).
AG_NEWS = AgNews(DatasetSpec("ag_news", (TextSettings.max_size, TextSettings.length), 4, (), (), 120_000, 7_600,
                             val_size=6_000, input="tokens"))
