"""GoEmotions (Demszky et al., 2020): 58k Reddit comments, each with one or more of 27 emotions
or `neutral`; the paper's agreement-filtered split, 43,410 train / 5,426 dev / 5,427 test.

Each line of `train.tsv(.gz)`, `dev.tsv(.gz)` and `test.tsv(.gz)` is `text<TAB>label ids<TAB>
comment id`, the ids comma-separated and indexing the lines of `emotions.txt`. Some texts are
CSV-quoted (`"Had to watch ""Elmo in Grouchland"" ..."`), so the lines are read with
`csv.reader(delimiter="\\t")`, which unquotes them; a plain split at tabs would keep the quotes.
The dev split is the validation split.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from seqlab.data.cache import file_identity
from seqlab.data.classification import ClassificationData, Pool, build_classification
from seqlab.data.multilabel import multi_hot
from seqlab.data.paths import data_dir as resolve_data_dir
from seqlab.data.readers import read_lines, read_text
from seqlab.errors import DataNotFoundError, SeqlabError

SPLIT_FILES = {"train": "train.tsv", "valid": "dev.tsv", "test": "test.tsv"}
LABELS_FILE = "emotions.txt"


def _file(folder: Path, name: str) -> Path | None:
    """FOLDER/NAME.gz or FOLDER/NAME, whichever exists."""
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def goemotions_files(data_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """The files of DATA/goemotions (or DATA itself): split name -> .tsv(.gz), and "labels"."""
    base = resolve_data_dir(data_dir)
    for folder in (base / "goemotions", base):
        files = {s: _file(folder, name) for s, name in SPLIT_FILES.items()}
        if all(files.values()) and (folder / LABELS_FILE).is_file():
            return {**files, "labels": folder / LABELS_FILE}  # type: ignore[dict-item]
    raise DataNotFoundError(
        f"GoEmotions not found: expected {base / 'goemotions'} with train.tsv.gz, dev.tsv.gz, "
        f"test.tsv.gz and {LABELS_FILE}"
    )


def read_label_names(path: Path) -> list[str]:
    """The emotion names, one a line (the official file has no newline after the last)."""
    names = [line.strip() for line in read_lines(path) if line.strip()]
    if len(set(names)) != len(names):
        raise SeqlabError(f"{path}: the label names repeat")
    return names


def read_goemotions(path: Path, num_labels: int) -> tuple[list[str], list[list[int]]]:
    """The texts of one split file, unquoted, and each text's label ids; errors name the line."""
    reader = csv.reader(io.StringIO(read_text(path), newline=""), delimiter="\t")
    texts, labels = [], []
    try:
        for row in reader:
            where = f"{path}, line {reader.line_num}"
            if len(row) != 3:
                raise SeqlabError(f"{where}: expected text, label ids and comment id: {row!r}")
            try:
                ids = [int(x) for x in row[1].split(",")]
            except ValueError:
                raise SeqlabError(f"{where}: label ids must be integers, got {row[1]!r}") from None
            if min(ids) < 0 or max(ids) >= num_labels:
                raise SeqlabError(f"{where}: label ids must lie in [0, {num_labels}): {row[1]!r}")
            texts.append(row[0])
            labels.append(ids)
    except csv.Error as e:
        raise SeqlabError(f"{path}, line {reader.line_num}: {e}") from None
    return texts, labels


def goemotions_pools(
    data_dir: str | os.PathLike | None = None,
) -> tuple[dict[str, Pool], list[str]]:
    """Texts and multi-hot labels (N, 28) of train, valid (the dev file) and test, and the
    label names."""
    files = goemotions_files(data_dir)
    names = read_label_names(files["labels"])
    pools = {}
    for split in SPLIT_FILES:
        texts, ids = read_goemotions(files[split], len(names))
        pools[split] = (texts, multi_hot(ids, len(names)))
    return pools, names


def label_count_histogram(labels: np.ndarray) -> dict[int, int]:
    """How many texts carry 1, 2, ... labels (the README's "labels per example")."""
    counts = np.bincount(labels.sum(axis=1))
    return {k: int(n) for k, n in enumerate(counts) if n}


def load_goemotions(
    data_dir: str | os.PathLike | None = None, **settings: Any
) -> ClassificationData:
    """GoEmotions as multi-label train/valid/test data sets (labels (N, 28)), the vocabulary
    built on train. The official split keeps the three files ("a:b:c" pools and re-splits
    them); the keywords are `build_classification`'s."""
    files = goemotions_files(data_dir)
    identity = {"files": {k: file_identity(p) for k, p in files.items()}}

    def read():
        pools, names = goemotions_pools(data_dir)
        return (pools["train"], pools["valid"], pools["test"]), names

    split = settings.pop("split", None) or "official"
    return build_classification(
        "goemotions", identity, read, split=split, strip_html=False, **settings
    )
