"""Language-modelling data: batchify/get_batch semantics, WikiText-2 counts, plain text files."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.data.lm import batchify, get_batch, lm_batches, load_lm_text, load_wikitext2


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))


def test_get_batch_shapes_batch20_bptt2():
    source = batchify(torch.arange(1000), 20)  # (50, 20)
    assert source.shape == (50, 20)
    data, target = get_batch(source, 0, 2)
    assert data.shape == (2, 20) and target.shape == (40,)
    # Column b holds tokens b*50 .. b*50+49 (pytorch/examples' layout).
    assert source[:, 1].tolist() == list(range(50, 100))
    # The last chunk is shorter: rows 48..49 leave one row of data.
    data, target = get_batch(source, 48, 2)
    assert data.shape == (1, 20) and target.shape == (20,)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 300), batch=st.integers(1, 8), bptt=st.integers(1, 12))
def test_targets_are_the_stream_shifted_by_one(n, batch, bptt):
    stream = torch.randint(0, 50, (n,))
    if n // batch < 2:
        return
    source = batchify(stream, batch)  # (N, B)
    chunks = [get_batch(source, i, bptt) for i in range(0, len(source) - 1, bptt)]
    targets = torch.cat([t.view(-1, batch) for _, t in chunks])  # (N - 1, B)
    datas = torch.cat([d for d, _ in chunks])
    assert torch.equal(targets, source[1:]) and torch.equal(datas, source[:-1])
    # Column by column, data then target walk the original stream shifted by one.
    cols = stream[: len(source) * batch].view(batch, -1)
    assert torch.equal(targets.t(), cols[:, 1:])
    # The batch-first iterator yields the same tokens, transposed.
    it = list(lm_batches(stream, batch, bptt))
    assert len(it) == len(chunks)
    assert torch.equal(torch.cat([b["targets"] for b in it], dim=1), cols[:, 1:])
    assert torch.equal(torch.cat([b["tokens"] for b in it], dim=1), cols[:, :-1])


def test_lm_batches_shard_columns_across_ranks():
    stream = torch.arange(40)
    r0 = next(iter(lm_batches(stream, 2, 3, num_replicas=2, rank=0)))["tokens"]
    r1 = next(iter(lm_batches(stream, 2, 3, num_replicas=2, rank=1)))["tokens"]
    assert r0.tolist() == [[0, 1, 2], [10, 11, 12]] and r1.tolist() == [[20, 21, 22], [30, 31, 32]]


def test_batchify_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(N,\)"):
        batchify(torch.zeros(2, 2, dtype=torch.long), 1)


def test_real_wikitext2_counts(shared_data):
    d = load_wikitext2(shared_data)
    assert (d.train.numel(), d.valid.numel(), d.test.numel()) == (2_088_628, 217_646, 245_569)
    # 33,278 types (pytorch/examples' Dictionary, <eos> and <unk> included) + our <pad> = id 0.
    assert d.num_types == 33_278 and len(d.vocab) == 33_279
    assert int((d.train == d.vocab.eos_id).sum()) == 36_718  # one <eos> per line
    # The README's <unk> count per split; no valid/test word is missing from train.
    assert [int((s == 1).sum()) for s in (d.train, d.valid, d.test)] == [54_625, 11_718, 15_218]


def test_plain_text_sos_lower_and_empty_lines(tmp_path):
    (tmp_path / "train.txt").write_text("The cat\n\nthe DOG sat\n", encoding="utf-8")
    (tmp_path / "valid.txt").write_text("a cat\n", encoding="utf-8")
    d = load_lm_text(
        {"train": tmp_path / "train.txt", "valid": tmp_path / "valid.txt"}, lower=True, sos=True
    )
    assert d.vocab.decode(d.train.tolist()) == (
        "<sos> the cat <eos> <sos> <eos> <sos> the dog sat <eos>".split()
    )
    assert d.vocab.decode(d.valid.tolist()) == ["<sos>", "<unk>", "cat", "<eos>"]
    assert d.test.numel() == 0
