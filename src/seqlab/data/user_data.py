"""The user's own classification files: CSV, TSV or JSONL with a text and a label column."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seqlab.data.cache import file_identity
from seqlab.data.classification import ClassificationData, build_classification
from seqlab.data.readers import read_records
from seqlab.errors import DataNotFoundError, SeqlabError

PathLike = str | os.PathLike


def _as_split_paths(paths) -> dict[str, Path]:
    """One path, [train, test], [train, valid, test] or {"train": ..., ...} -> split -> path."""
    if isinstance(paths, (str, os.PathLike)):
        out = {"train": paths}
    elif isinstance(paths, Mapping):
        out = dict(paths)
        if "train" not in out or set(out) - {"train", "valid", "test"}:
            raise SeqlabError(f"paths must have keys train[, valid][, test], got {sorted(out)}")
    else:
        paths = list(paths)
        names = {1: ["train"], 2: ["train", "test"], 3: ["train", "valid", "test"]}.get(len(paths))
        if names is None:
            raise SeqlabError(f"give 1 to 3 files (train[, valid], test), got {len(paths)}")
        out = dict(zip(names, paths, strict=True))
    result = {k: Path(v) for k, v in out.items()}
    for p in result.values():
        if not p.is_file():
            raise DataNotFoundError(f"{p}: file not found")
    return result


def _sort_key(name: str):
    """Numeric labels sort as numbers ("2" before "10"), others alphabetically."""
    try:
        return (0, int(name), "")
    except ValueError:
        return (1, 0, name)


def _label_ids(records, path, mapping: dict[str, int], names: Sequence[str]) -> np.ndarray:
    out = np.empty(len(records), dtype=np.int64)
    for k, (_, label, lineno) in enumerate(records):
        if label not in mapping:
            raise SeqlabError(f"{path}, line {lineno}: label {label!r} is not one of {list(names)}")
        out[k] = mapping[label]
    return out


def load_text_classification(
    paths: PathLike | Sequence[PathLike] | Mapping[str, PathLike],
    *,
    text_column: str = "text",
    label_column: str = "label",
    label_names: Sequence[str] | None = None,
    split: str | None = None,
    **settings: Any,
) -> ClassificationData:
    """Classification data from CSV/TSV/JSONL files (plain or .gz).

    `paths`: one file (split 7:1:2 unless `split` says otherwise), [train, test] (valid carved
    from train), [train, valid, test], or a dict with those keys. Labels are strings; they map to
    ids in `label_names` order when given (anything else is an error naming file and line),
    else in sorted order of the training labels (numbers numerically); `label_names` maps back.
    The other keywords (`valid_fraction`, `seed`, `limit`, `tokenizer`, `min_freq`, `max_length`,
    `cache`, ...) are `build_classification`'s.
    """
    files = _as_split_paths(paths)
    if split is None:
        split = "official" if "test" in files else "7:1:2"
    identity = {
        "files": {k: file_identity(p) for k, p in files.items()},
        "columns": [text_column, label_column],
        "label_names": list(label_names) if label_names is not None else None,
    }

    def read():
        records = {k: read_records(p, text_column, label_column) for k, p in files.items()}
        for k, recs in records.items():
            if not recs:
                raise SeqlabError(f"{files[k]}: the {k} file has no records")
        names = list(label_names) if label_names is not None else None
        if names is None:
            names = sorted({label for _, label, _ in records["train"]}, key=_sort_key)
        mapping = {name: i for i, name in enumerate(names)}
        pools = {
            k: ([t for t, _, _ in recs], _label_ids(recs, files[k], mapping, names))
            for k, recs in records.items()
        }
        return (pools["train"], pools.get("valid"), pools.get("test")), names

    return build_classification("textclass", identity, read, split=split, **settings)
