"""Multi-label classification files: a label column that holds several labels per text.

A record's label field, e.g. `"joy,love"`, is split at the separator (default ","); each part
is stripped and must be non-empty. Labels become multi-hot rows (N, K) of 0/1, the columns in
`label_names` order (sorted like single-label names: numbers numerically, then strings).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seqlab.data.cache import file_identity
from seqlab.data.classification import ClassificationData, Pool, build_classification
from seqlab.data.readers import read_records
from seqlab.errors import SeqlabError


def split_labels(field: str, separator: str, where: str) -> list[str]:
    """The labels of one label field, in order, without duplicates; SeqlabError (naming
    `where`, e.g. "FILE, line 3") for an empty label such as "joy,,love" or "joy,"."""
    if not separator:
        raise SeqlabError("--label-separator must not be empty")
    parts = [p.strip() for p in field.split(separator)]
    if any(not p for p in parts):
        raise SeqlabError(
            f"{where}: empty label in {field!r} (labels are separated by {separator!r})"
        )
    return list(dict.fromkeys(parts))


def multi_hot(label_ids: Sequence[Iterable[int]], num_labels: int) -> np.ndarray:
    """Rows (N, K) of 0/1: row i has a 1 in each column of `label_ids[i]`."""
    out = np.zeros((len(label_ids), num_labels), dtype=np.int64)
    for i, ids in enumerate(label_ids):
        out[i, list(ids)] = 1
    return out


def label_order(labels: Iterable[str]) -> list[str]:
    """The label names sorted as single-label names are: numbers numerically, then strings."""
    from seqlab.data.user_data import _sort_key

    return sorted(set(labels), key=_sort_key)


def read_multilabel(
    path: str | os.PathLike,
    text_column: str,
    label_column: str,
    separator: str,
    label_names: Sequence[str] | None = None,
) -> tuple[Pool, list[str]]:
    """(texts, multi-hot labels (N, K)) of a CSV/TSV/JSONL file, and the label names (given, or
    those of the file); a label outside `label_names` is an error naming the file and line."""
    records = read_records(path, text_column, label_column)
    if not records:
        raise SeqlabError(f"{path}: no records")
    lists = [split_labels(label, separator, f"{path}, line {line}") for _, label, line in records]
    names = list(label_names) if label_names is not None else label_order(sum(lists, []))
    index = {name: k for k, name in enumerate(names)}
    for (_, _, line), labels in zip(records, lists, strict=True):
        unknown = [label for label in labels if label not in index]
        if unknown:
            raise SeqlabError(f"{path}, line {line}: labels {unknown} are not one of {names}")
    rows = multi_hot([[index[label] for label in labels] for labels in lists], len(names))
    return ([text for text, _, _ in records], rows), names


def load_multilabel_file(
    path: str | os.PathLike,
    *,
    text_column: str = "text",
    label_column: str = "label",
    separator: str = ",",
    split: str | None = None,
    **settings: Any,
) -> ClassificationData:
    """A multi-label data file as train/valid/test splits (default 7:1:2, stratified by each
    text's first label), the vocabulary built on train; the other keywords are
    `build_classification`'s."""
    path = Path(path)
    if not path.is_file():
        from seqlab.errors import DataNotFoundError

        raise DataNotFoundError(f"{path}: file not found")
    identity = {
        "files": {"train": file_identity(path)},
        "columns": [text_column, label_column],
        "multi_label": separator,
    }

    def read():
        pool, names = read_multilabel(path, text_column, label_column, separator)
        return (pool, None, None), names

    return build_classification("multilabel", identity, read, split=split or "7:1:2", **settings)
