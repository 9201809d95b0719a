"""The user's classification files, fuzzed: each input gives correct output or a clear error."""

import csv
import json
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.data.classification import MAX_TEXT_TOKENS
from seqlab.data.readers import read_lines, read_records
from seqlab.data.tokenizers import basic_english
from seqlab.data.user_data import load_text_classification
from seqlab.errors import SeqlabError


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))


def _write_csv(path, rows, delimiter=","):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(["label", "text"])
        w.writerows(rows)
    return path


def _write_jsonl(path, rows, blank_every=0):
    with open(path, "w", encoding="utf-8") as f:
        for k, (label, text) in enumerate(rows):
            f.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")
            if blank_every and k % blank_every == 0:
                f.write("\n   \n")  # blank lines are skipped
    return path


texts = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)
rows = st.lists(
    st.tuples(st.sampled_from(["pos", "neg", "10", "2"]), texts), min_size=1, max_size=12
)


@settings(max_examples=40, deadline=None)
@given(rows=rows, fmt=st.sampled_from(["csv", "tsv", "jsonl"]))
def test_random_records_round_trip(rows, fmt):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"data.{fmt}"
        if fmt == "jsonl":
            _write_jsonl(path, rows, blank_every=3)
        else:
            _write_csv(path, rows, "," if fmt == "csv" else "\t")
        d = load_text_classification(path, split="1:0:0", cache=False)
    assert len(d.train) == len(rows) and len(d.valid) == len(d.test) == 0
    # Numeric labels sort as numbers, the others alphabetically after them.
    order = {"2": 0, "10": 1, "neg": 2, "pos": 3}
    assert d.label_names == sorted({label for label, _ in rows}, key=order.get)
    got = Counter(
        (d.label_names[it["label"]], tuple(d.encoder.vocab.decode(it["ids"]))) for it in d.train
    )
    want = Counter((label, tuple(basic_english(text))) for label, text in rows)
    assert got == want  # every record kept, text and label intact


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 8), bad=st.data())
def test_invalid_utf8_names_file_and_line(n, bad):
    k = bad.draw(st.integers(0, n - 1))
    lines = [json.dumps({"text": f"review {i}", "label": "pos"}).encode() for i in range(n)]
    lines[k] = lines[k].replace(b"review", b"rev\xff\xfeiew")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bad.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        with pytest.raises(
            SeqlabError, match=rf"bad\.jsonl, line {k + 1}, column 14: invalid UTF-8"
        ):
            load_text_classification(path, cache=False)


def test_csv_without_label_column(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("text,sentiment\nhello,pos\n", encoding="utf-8")
    with pytest.raises(SeqlabError, match=r"x\.csv, line 1: no column 'label'"):
        load_text_classification(path)
    d = load_text_classification([path, path], label_column="sentiment", valid_fraction=0.0)
    assert d.label_names == ["pos"] and len(d.test) == 1


def test_label_outside_declared_set(tmp_path):
    path = _write_jsonl(tmp_path / "x.jsonl", [("pos", "a"), ("neg", "b"), ("meh", "c")])
    with pytest.raises(SeqlabError, match=r"x\.jsonl, line 3: label 'meh' is not one of"):
        load_text_classification(path, label_names=["neg", "pos"])
    # Test labels must also be known from train.
    train = _write_csv(tmp_path / "train.csv", [("pos", "a"), ("neg", "b")] * 3)
    test = _write_csv(tmp_path / "test.csv", [("pos", "a"), ("other", "b")])
    with pytest.raises(SeqlabError, match=r"test\.csv, line 3: label 'other'"):
        load_text_classification([train, test])


def test_string_labels_map_to_ids_and_back(tmp_path):
    train = _write_csv(tmp_path / "t.csv", [("spam", "win money now"), ("ham", "see you")] * 5)
    d = load_text_classification(
        {"train": train, "valid": train, "test": train}, label_names=["ham", "spam"]
    )
    item = d.test[0]
    assert (
        d.label_names[item["label"]]
        == {"win": "spam", "see": "ham"}[d.encoder.vocab.itos[item["ids"][0]]]
    )


def test_huge_review_and_truncation(tmp_path):
    words = [f"w{i % 997}" for i in range(100_000)]
    path = _write_jsonl(tmp_path / "big.jsonl", [("pos", " ".join(words)), ("neg", "short")])
    d = load_text_classification(path, split="1:0:0", tokenizer="whitespace", cache=False)
    lengths = sorted(it["length"] for it in d.train)
    assert lengths == [1, MAX_TEXT_TOKENS]  # max_length None: whole texts, up to the bound
    whole = dict(split="1:0:0", tokenizer="whitespace", max_length=100_000, cache=False)
    d = load_text_classification(path, **whole)
    assert sorted(it["length"] for it in d.train) == [1, 100_000]  # asked for: all of it
    d = load_text_classification(path, split="1:0:0", tokenizer="whitespace", max_length=5)
    big = max((d.train[i] for i in range(2)), key=lambda it: it["length"])
    assert d.encoder.vocab.decode(big["ids"]) == words[-5:]  # "pre" keeps the end


def test_bad_json_and_non_object_lines(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"text": "a", "label": 1}\n{"text": "b", label: 2}\n', encoding="utf-8")
    with pytest.raises(SeqlabError, match=r"x\.jsonl, line 2: invalid JSON"):
        read_records(path)
    path.write_text("[1, 2]\n", encoding="utf-8")
    with pytest.raises(SeqlabError, match=r"line 1: expected a JSON object"):
        read_records(path)
    path.write_text('{"text": 5, "label": 1}\n', encoding="utf-8")
    with pytest.raises(SeqlabError, match=r"line 1: 'text' is not a string"):
        read_records(path)


def test_lines_split_only_at_newline(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes("a\u2028b\r\n\nc".encode())
    assert read_lines(path) == ["a\u2028b", "", "c"]
