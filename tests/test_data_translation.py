"""Translation pairs: Multi30k counts, <sos>/<eos>, separate vocabularies, padded batches."""

import gzip

import pytest
import torch

from seqlab.data.batching import bucket_loader, padding_mask
from seqlab.data.translation import load_multi30k, load_parallel, translation_collate
from seqlab.errors import SeqlabError


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))


def test_real_multi30k_counts(shared_data):
    d = load_multi30k(shared_data)
    assert (len(d.train), len(d.valid), len(d.test)) == (29_000, 1_014, 1_000)
    assert d.src_vocab.itos[:4] == ["<pad>", "<unk>", "<sos>", "<eos>"]
    assert d.src_vocab != d.tgt_vocab and "ein" in d.src_vocab and "a" in d.tgt_vocab
    assert d.tgt_encoder.decode(d.train[0]["tgt"]) == (
        "<sos> two young , white males are outside near many bushes . <eos>"
    )


def _write(path, lines, gz=False):
    data = "".join(f"{line}\n" for line in lines).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def test_parallel_files_min_freq_and_collate(tmp_path):
    src = _write(tmp_path / "train.de.gz", ["ein hund", "ein mann", "ein hund läuft"], gz=True)
    tgt = _write(tmp_path / "train.en", ["a dog", "a man", "a dog runs"])
    d = load_parallel({"train": (src, tgt), "test": (src, tgt)}, min_freq=2)
    # min_freq 2: "mann"/"läuft" and "man"/"runs" become <unk>.
    assert d.src_vocab.itos[4:] == ["ein", "hund"] and d.tgt_vocab.itos[4:] == ["a", "dog"]
    assert d.train[2]["src"].tolist() == [2, 4, 5, 1, 3] and len(d.valid) == 0
    batch = translation_collate([d.train[0], d.train[2]])
    assert batch["src"].tolist() == [[2, 4, 5, 3, 0], [2, 4, 5, 1, 3]]
    assert batch["src_lengths"].tolist() == [4, 5] and batch["tgt"].shape == (2, 5)
    assert padding_mask(batch["src_lengths"]).tolist() == [[True] * 4 + [False], [True] * 5]
    loader = bucket_loader(d.train, 2, translation_collate, seed=0)
    assert sum(len(b["src"]) for b in loader) == 3
    assert all(b["tgt"][:, 0].eq(2).all() for b in loader)


def test_parallel_files_must_have_equal_lines(tmp_path):
    src = _write(tmp_path / "a.de", ["x", "y"])
    tgt = _write(tmp_path / "a.en", ["x"])
    with pytest.raises(SeqlabError, match=r"a\.de has 2 lines but .*a\.en has 1"):
        load_parallel({"train": (src, tgt)}, cache=False)


def test_bucketed_batches_pad_little(shared_data):
    d = load_multi30k(shared_data, limit=2000)
    assert len(d.train) == 2000

    def padding(loader):
        return sum(int((b["src"] == 0).sum() + (b["tgt"] == 0).sum()) for b in loader)

    bucketed = padding(bucket_loader(d.train, 32, translation_collate, seed=0))
    g = torch.Generator().manual_seed(0)
    shuffled = torch.utils.data.DataLoader(
        d.train, 32, shuffle=True, collate_fn=translation_collate, generator=g
    )
    assert bucketed < padding(shuffled) / 3


def test_shared_vocabulary_covers_both_languages(tmp_path):
    src = _write(tmp_path / "train.de", ["ein hund", "ein mann", "der hund", "bob"])
    tgt = _write(tmp_path / "train.en", ["a dog", "a man", "the dog", "bob"])
    d = load_parallel({"train": (src, tgt)}, min_freq=2, shared=True)
    assert d.src_encoder.to_dict() == d.tgt_encoder.to_dict()
    # "bob" is seen once per side: only counting over both sides keeps it at min_freq 2.
    assert set(d.src_vocab.itos[4:]) == {"ein", "hund", "a", "dog", "bob"}
    assert d.train[0]["src"].tolist() == [2, d.src_vocab.stoi["ein"], d.src_vocab.stoi["hund"], 3]
    assert d.train[0]["tgt"].tolist() == [2, d.tgt_vocab.stoi["a"], d.tgt_vocab.stoi["dog"], 3]
