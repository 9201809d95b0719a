"""Reading text files (plain or gzipped) with errors that name the file and the line."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import sys
from pathlib import Path

from seqlab.errors import DataNotFoundError, SeqlabError

# Reviews can be long; the csv module's default field limit (128 KiB) is too small for some.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def read_text(path: str | os.PathLike) -> str:
    """The whole file as strict UTF-8 (gunzipped if it ends in .gz); errors name file and line."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
    except FileNotFoundError as e:
        raise DataNotFoundError(f"{path}: file not found") from e
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise SeqlabError(f"{path}: cannot read: {e}") from e
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise SeqlabError(
            f"{path}, line {line}, column {column}: invalid UTF-8 byte {raw[e.start]:#04x}"
        ) from e


def split_lines(text: str) -> list[str]:
    """Lines split at "\n" only (a trailing "\r" removed); a final newline adds no empty line.

    Not `str.splitlines()`: that also splits at U+2028, U+0085 and other characters that occur
    inside IMDB reviews and JSON strings.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def read_lines(path: str | os.PathLike) -> list[str]:
    """The file's lines without their line endings (see `split_lines`)."""
    return split_lines(read_text(path))


def table_format(path: str | os.PathLike) -> str:
    """'csv', 'tsv' or 'jsonl' from the file name (a trailing .gz is ignored)."""
    name = Path(path).name.lower().removesuffix(".gz")
    for ext, fmt in ((".csv", "csv"), (".tsv", "tsv"), (".jsonl", "jsonl"), (".ndjson", "jsonl")):
        if name.endswith(ext):
            return fmt
    raise SeqlabError(f"{path}: unknown table format; use a .csv, .tsv or .jsonl file")


def read_records(
    path: str | os.PathLike, text_column: str = "text", label_column: str = "label"
) -> list[tuple[str, str, int]]:
    """(text, label, line number) for each record of a CSV/TSV/JSONL file; blank lines skipped.

    Labels come back as strings (JSON numbers as their decimal text) so that every format maps
    labels the same way.
    """
    fmt, text = table_format(path), read_text(path)
    if not text.strip():
        raise SeqlabError(f"{path}: the file is empty")
    if fmt == "jsonl":
        return _read_jsonl(path, text, text_column, label_column)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter="," if fmt == "csv" else "\t")
    columns = reader.fieldnames or []
    for col in (text_column, label_column):
        if col not in columns:
            raise SeqlabError(f"{path}, line 1: no column {col!r} in the header {columns}")
    out = []
    try:
        for row in reader:
            # DictReader files the extra fields of a long row under None and fills a short
            # one with None: an unquoted comma in a text would shift the label column.
            fields = len(columns) + len(row.get(None) or ())
            fields -= sum(row[c] is None for c in columns)
            if fields < len(columns):
                raise SeqlabError(
                    f"{path}, line {reader.line_num}: too few fields: {fields}, the header has "
                    f"{len(columns)}"
                )
            if fields > len(columns):
                raise SeqlabError(
                    f"{path}, line {reader.line_num}: too many fields: {fields}, the header has "
                    f"{len(columns)} (quote a text that holds the delimiter)"
                )
            text_value, label = row[text_column], row[label_column]
            if label.strip() == "":
                raise SeqlabError(f"{path}, line {reader.line_num}: empty label")
            out.append((text_value, label.strip(), reader.line_num))
    except csv.Error as e:
        raise SeqlabError(f"{path}, line {reader.line_num}: {e}") from e
    return out


def _read_jsonl(path, text: str, text_column: str, label_column: str) -> list[tuple[str, str, int]]:
    out = []
    for lineno, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise SeqlabError(f"{path}, line {lineno}: invalid JSON: {e.msg}") from e
        if not isinstance(obj, dict):
            raise SeqlabError(f"{path}, line {lineno}: expected a JSON object")
        for col in (text_column, label_column):
            if col not in obj:
                raise SeqlabError(f"{path}, line {lineno}: no key {col!r} (keys: {sorted(obj)})")
        value, label = obj[text_column], obj[label_column]
        if not isinstance(value, str):
            raise SeqlabError(f"{path}, line {lineno}: {text_column!r} is not a string")
        if isinstance(label, bool) or not isinstance(label, (str, int)) or str(label) == "":
            raise SeqlabError(f"{path}, line {lineno}: label {label!r} is not a string or integer")
        out.append((value, str(label), lineno))
    return out
