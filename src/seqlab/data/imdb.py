"""IMDB movie reviews (Maas et al., 2011): 25k train / 25k test, labels neg=0, pos=1."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from seqlab.data.cache import file_identity
from seqlab.data.classification import ClassificationData, build_classification
from seqlab.data.download import find_acl_imdb
from seqlab.data.paths import data_dir as resolve_data_dir
from seqlab.data.readers import read_records, read_text
from seqlab.errors import DataNotFoundError, SeqlabError

LABEL_NAMES = ["neg", "pos"]
_ACL_NAME = re.compile(r"^(\d+)_(\d+)\.txt$")  # <id>_<rating>.txt


def imdb_source(data_dir: str | os.PathLike | None = None, download: bool | None = None) -> Path:
    """The IMDB source: a folder with train/test.jsonl.gz (shared/data/imdb) or an aclImdb tree."""
    base = resolve_data_dir(data_dir)
    for candidate in (base / "imdb", base):
        if (candidate / "train.jsonl.gz").is_file() and (candidate / "test.jsonl.gz").is_file():
            return candidate
    try:
        return find_acl_imdb(data_dir, download=download)
    except DataNotFoundError as e:
        raise DataNotFoundError(
            f"IMDB not found: expected {base / 'imdb' / 'train.jsonl.gz'} (and test.jsonl.gz) "
            f"or an aclImdb/ tree in {base}; {e}"
        ) from e


def read_imdb_split(source: Path, split: str) -> tuple[list[str], np.ndarray]:
    """Texts and labels (0 neg, 1 pos) of the "train" or "test" split, neg first then pos."""
    if (source / f"{split}.jsonl.gz").is_file():
        records = read_records(source / f"{split}.jsonl.gz", "text", "label")
        try:
            labels = np.array([int(label) for _, label, _ in records], dtype=np.int64)
        except ValueError as e:
            raise SeqlabError(f"{source / split}.jsonl.gz: labels must be 0 or 1: {e}") from e
        return [text for text, _, _ in records], labels
    texts, labels = [], []
    for label, name in enumerate(LABEL_NAMES):
        folder = source / split / name
        files = [f for f in os.listdir(folder) if _ACL_NAME.match(f)]
        files.sort(key=lambda f: int(f.split("_")[0]))  # the order of shared/data's JSONL
        texts += [read_text(folder / f) for f in files]
        labels += [label] * len(files)
    return texts, np.array(labels, dtype=np.int64)


def load_imdb(
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool | None = None,
    **settings: Any,
) -> ClassificationData:
    """IMDB as train/valid/test token-id data sets with a vocabulary built on train only.

    split="official" keeps the 25k test reviews and carves `valid_fraction` (Keras'
    validation_split=0.2) of train, stratified and seeded; split="7:1:2" pools all 50k labelled
    reviews and splits them 35k/5k/10k. `max_length` truncates ("pre" keeps the end, like Keras'
    pad_sequences; "post" keeps the beginning). `limit` keeps a balanced subset of each split.
    The keywords (`split`, `valid_fraction`, `seed`, `limit`, `tokenizer`, `min_freq`,
    `max_length`, `truncate`, `cache`, ...) are `build_classification`'s.
    """
    source = imdb_source(data_dir, download)
    identity = {
        "source": file_identity(source),
        "files": [file_identity(p) for p in sorted(source.glob("*.jsonl.gz"))],
    }

    def read():
        pools = read_imdb_split(source, "train"), None, read_imdb_split(source, "test")
        return pools, LABEL_NAMES

    return build_classification("imdb", identity, read, **settings)
