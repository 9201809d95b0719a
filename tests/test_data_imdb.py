"""IMDB: real counts, splits, truncation, the aclImdb tree, the token-id cache."""

import gzip
import json

import numpy as np
import pytest

from seqlab.data import imdb
from seqlab.data.imdb import imdb_source, load_imdb, read_imdb_split


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def imdb_splits(shared_data):
    """The real train and test texts and labels, read once (a few seconds)."""
    source = imdb_source(shared_data)
    return {s: read_imdb_split(source, s) for s in ("train", "test")}


def test_real_imdb_counts(imdb_splits):
    for split in ("train", "test"):
        texts, labels = imdb_splits[split]
        assert len(texts) == 25_000
        assert np.bincount(labels).tolist() == [12_500, 12_500]
    # README: the first train pos review (0_9) starts "Bromwell High is a cartoon comedy."
    texts, labels = imdb_splits["train"]
    assert texts[int(np.argmax(labels))].startswith("Bromwell High is a cartoon comedy.")


def test_real_imdb_pipeline_with_limit_and_cache(shared_data, monkeypatch):
    d = load_imdb(shared_data, limit=100, max_length=50, seed=1)
    assert (len(d.train), len(d.valid), len(d.test)) == (100, 100, 100)
    assert d.train.label_counts(2) == [50, 50] and d.label_names == ["neg", "pos"]
    item = d.train[0]
    assert item["ids"].dtype == np.int64 and item["length"] == len(item["ids"]) <= 50
    assert "<br" not in d.encoder.decode(d.train.flat[:2000])
    # Second call: served from the .npz cache without reading the source again.
    monkeypatch.setattr(imdb, "read_imdb_split", lambda *a: pytest.fail("cache not used"))
    again = load_imdb(shared_data, limit=100, max_length=50, seed=1, truncate="post")
    assert again.encoder.vocab == d.encoder.vocab
    assert np.array_equal(again.train.flat, d.train.flat)
    assert again.train[0]["ids"].tolist() == d.train.subset([0]).flat[: item["length"]].tolist()


def _write_jsonl_gz(path, records):
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")


def _fake_imdb(root, n=20):
    """n reviews per label per split; positive ones say 'good'."""
    (root / "imdb").mkdir(parents=True)
    for split in ("train", "test"):
        recs = [{"text": f"bad film {i}<br />bad", "label": 0} for i in range(n)]
        recs += [{"text": f"Good film {i}. Good!", "label": 1} for i in range(n)]
        _write_jsonl_gz(root / "imdb" / f"{split}.jsonl.gz", recs)
    return root


def test_splits_official_and_712(tmp_path):
    root = _fake_imdb(tmp_path / "data")
    d = load_imdb(root, valid_fraction=0.25, cache=False)
    assert (len(d.train), len(d.valid), len(d.test)) == (30, 10, 40)
    assert d.valid.label_counts(2) == [5, 5]
    # Vocabulary from the training split only: test-only number tokens are absent.
    train_words = {d.encoder.vocab.itos[i] for i in d.train.flat}
    assert set(d.encoder.vocab.itos[2:]) == train_words
    d712 = load_imdb(root, split="7:1:2", cache=False)
    assert (len(d712.train), len(d712.valid), len(d712.test)) == (56, 8, 16)
    assert d712.test.label_counts(2) == [8, 8]


def test_truncation_pre_keeps_end(tmp_path):
    root = _fake_imdb(tmp_path / "data", n=2)
    pre = load_imdb(root, valid_fraction=0.5, max_length=2, truncate="pre")
    post = load_imdb(root, valid_fraction=0.5, max_length=2, truncate="post")
    enc = pre.encoder
    (k,) = [i for i in range(len(pre.test)) if pre.test[i]["label"] == 0][:1]
    assert enc.decode(pre.test[k]["ids"]) == "0 bad"  # "bad film 0 bad" -> end
    assert post.encoder.decode(post.test[k]["ids"]) == "bad film"


def test_acl_imdb_tree(tmp_path):
    root = tmp_path / "aclImdb"
    for split in ("train", "test"):
        for label in ("neg", "pos"):
            (root / split / label).mkdir(parents=True)
            for i in (10, 2):
                (root / split / label / f"{i}_{3 if label == 'neg' else 8}.txt").write_text(
                    f"{label} review {i}", encoding="utf-8"
                )
    texts, labels = read_imdb_split(imdb_source(tmp_path), "train")
    assert texts == ["neg review 2", "neg review 10", "pos review 2", "pos review 10"]
    assert labels.tolist() == [0, 0, 1, 1]
    d = load_imdb(tmp_path, valid_fraction=0.5, cache=False)
    assert len(d.test) == 4 and d.test.label_counts(2) == [2, 2]
