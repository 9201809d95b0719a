"""TREC question classification (Li & Roth 2002): 5,452 train / 500 test questions.

Each line of `train_5500.label` and `TREC_10.label` is `COARSE:fine question tokens ?`, e.g.
`DESC:manner How did serfdom develop in and then leave Russia ?`. The files are ISO-8859-1, not
UTF-8 (train line 66 holds the byte 0xF0, "sister\xf0city"). `label_set="coarse"` gives the 6
classes of TREC-6 (ABBR, DESC, ENTY, HUM, LOC, NUM); "fine" the 50 of TREC-50 ("COARSE:fine").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from seqlab.data.cache import file_identity
from seqlab.data.classification import ClassificationData, build_classification
from seqlab.data.paths import data_dir as resolve_data_dir
from seqlab.errors import DataNotFoundError, SeqlabError

FILES = {"train": "train_5500.label", "test": "TREC_10.label"}
LABEL_SETS = ("coarse", "fine")


def trec_source(data_dir: str | os.PathLike | None = None) -> Path:
    """The folder holding train_5500.label and TREC_10.label (DATA/trec or DATA itself)."""
    base = resolve_data_dir(data_dir)
    for folder in (base / "trec", base):
        if all((folder / name).is_file() for name in FILES.values()):
            return folder
    raise DataNotFoundError(
        f"TREC not found: expected {base / 'trec' / FILES['train']} and {FILES['test']}"
    )


def read_trec(path: Path, label_set: str = "coarse") -> tuple[list[str], list[str]]:
    """Questions and their label strings ("DESC", or "DESC:manner" for the fine set)."""
    if label_set not in LABEL_SETS:
        raise SeqlabError(f"label set must be one of {LABEL_SETS}, got {label_set!r}")
    texts, labels = [], []
    text = path.read_bytes().decode("iso-8859-1")
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        label, _, question = line.partition(" ")
        if ":" not in label or not question.strip():
            raise SeqlabError(
                f"{path}, line {number}: expected 'COARSE:fine question', got {line!r}"
            )
        texts.append(question.strip())
        labels.append(label.split(":")[0] if label_set == "coarse" else label)
    return texts, labels


def load_trec(
    data_dir: str | os.PathLike | None = None,
    *,
    label_set: str = "coarse",
    valid_fraction: float = 0.1,
    truncate: str = "post",
    **settings: Any,
) -> ClassificationData:
    """TREC as train/valid/test data sets; labels sorted by name, vocabulary built on train.

    split="official" keeps the 500 test questions and carves `valid_fraction` of train,
    stratified and seeded; "a:b:c" pools all 5,952 questions and splits them. Questions keep
    their beginning under `max_length`; the other keywords (`split`, `seed`, `limit`,
    `tokenizer`, `min_freq`, `max_length`, `cache`, ...) are `build_classification`'s.
    """
    source = trec_source(data_dir)
    identity = {
        "files": [file_identity(source / name) for name in FILES.values()],
        "label_set": label_set,
    }

    def read():
        raw = {s: read_trec(source / name, label_set) for s, name in FILES.items()}
        names = sorted({label for _, labels in raw.values() for label in labels})
        index = {name: i for i, name in enumerate(names)}

        def ids(part: tuple[list[str], list[str]]) -> tuple[list[str], np.ndarray]:
            return part[0], np.array([index[label] for label in part[1]], dtype=np.int64)

        return (ids(raw["train"]), None, ids(raw["test"])), names

    return build_classification(
        "trec",
        identity,
        read,
        valid_fraction=valid_fraction,
        strip_html=False,
        truncate=truncate,
        **settings,
    )
