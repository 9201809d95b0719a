"""`seqlab train translate`, `evaluate`, `translate` on a tiny synthetic language pair."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from helpers import write_pairs

from seqlab.cli import main
from seqlab.data.text import TextEncoder
from seqlab.tasks import load
from seqlab.train.metrics import bleu_scores, detokenize
from seqlab.translation import attention_weights


@pytest.fixture
def pairs(tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    files = [p for n, seed in ((600, 0), (60, 1), (60, 2)) for p in write_pairs(tmp_path, n, seed)]
    return ",".join(map(str, files))


def test_tokenized_bleu_counts_words_not_bpe_pieces():
    """With BPE targets, the tutorials' tokenized BLEU is over words, hypotheses and references
    alike: the same score as a word tokenizer gives for the same sentences."""
    refs = ["a man is walking his dog .", "two women are reading books in a park ."] * 5
    hyps = ["a man is reading his dog .", "two women are walking in a park ."] * 5
    bpe = TextEncoder.fit(refs * 4, "bpe", tokenizer_options={"vocab_size": 40})
    pieces = [bpe.tokenize(h) for h in hyps]  # what a BPE model produces
    assert any(len(p) > len(h.split()) for p, h in zip(pieces, hyps, strict=True))
    words = TextEncoder.fit(refs, "whitespace")
    by_words = bleu_scores([h.split() for h in hyps], refs, words)
    by_bpe = bleu_scores([bpe.words(p) for p in pieces], refs, bpe)  # as translate_ids gives
    assert by_bpe["bleu_tokenized"] == pytest.approx(by_words["bleu_tokenized"])
    assert by_bpe["bleu"] == pytest.approx(by_words["bleu"])
    assert by_words["bleu_tokenized"] < 100


def test_every_bleu_has_its_signature_and_cased_bleu_is_standard_sacrebleu():
    import sacrebleu

    refs = ["A man is walking his dog in Berlin.", "Two women read books."]
    hyps = [["a", "man", "is", "walking", "his", "dog", "in", "berlin", "."],
            ["two", "women", "read", "books", "."]]  # fmt: skip
    lower = bleu_scores(hyps, refs, TextEncoder.fit(refs, "basic_english"))  # lower-cases
    cased = bleu_scores(hyps, refs, TextEncoder.fit(refs, "whitespace", lowercase=False))
    detok = ["a man is walking his dog in berlin.", "two women read books."]
    standard = sacrebleu.corpus_bleu(detok, [refs]).score  # case-sensitive, 13a: the default
    assert lower["bleu_cased"] == pytest.approx(standard) == pytest.approx(cased["bleu_cased"])
    assert lower["bleu"] == pytest.approx(100.0)  # case-insensitive: the same words
    assert standard < 70 and cased["bleu"] == pytest.approx(standard)  # "A", "Berlin", "Two"
    assert "case:lc" in lower["bleu_signature"] and "tok:13a" in lower["bleu_signature"]
    assert "case:mixed" in lower["bleu_cased_signature"] and "case:mixed" in cased["bleu_signature"]
    assert "tok:none" in lower["bleu_tokenized_signature"]


def test_detokenize():
    assert detokenize(["a", "man", "'s", "dog", "(", "old", ")", "."]) == "a man's dog (old)."


SIZE = ["--embed", "32", "--hidden", "64", "--heads", "2", "--layers", "1", "--dropout", "0"]
OPTIONS = ["--min-freq", "1", "--epochs", "12", "--batch-size", "32", "--lr", "3e-3", "--quiet"]


def test_transformer_and_compact_learn(pairs, tmp_path):
    for model in ("transformer", "compact"):
        out = tmp_path / model
        argv = ["train", "translate", "--data", pairs, "--model", model, *SIZE, *OPTIONS]
        assert main([*argv, "--out", str(out)]) == 0
        results = json.loads((out / "results.json").read_text())
        history = results["history"]
        # The compact form reads target word t+1 off source position t+1 - 1 (the source
        # starts with <sos>), so even this word-for-word pair takes it longer to learn.
        gain = 1.5 if model == "transformer" else 1.05
        assert history[-1]["valid_loss"] < history[0]["valid_loss"] / gain
        assert "bleu_tokenized" in results["test"]
    png = tmp_path / "attention.png"
    ckpt = str(tmp_path / "transformer" / "best.pt")
    assert main(["translate", ckpt, "Ein Hund .", "--plot-attention", str(png)]) == 0
    assert png.is_file()  # the last decoder layer's cross-attention
    ckpt = str(tmp_path / "compact" / "best.pt")
    assert main(["translate", ckpt, "Ein Hund .", "--plot-attention", str(png)]) == 2


def test_seq2seq_translates_and_every_command_works(pairs, tmp_path, capsys):
    out = tmp_path / "seq2seq"
    argv = ["train", "translate", "--data", pairs, "--model", "seq2seq", "--attention", "dot"]
    assert main([*argv, *SIZE, *OPTIONS, "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    history, test = results["history"], results["test"]
    assert history[-1]["valid_bleu"] > history[0]["valid_bleu"]
    assert test["bleu_tokenized"] > 60, test  # a word-for-word language pair
    assert test["bleu"] > 60 and test["perplexity"] < 2.0
    lines = (out / "test-translations.txt").read_text().splitlines()
    assert len(lines) == 60 and lines[0].endswith(".")
    capsys.readouterr()

    ckpt = str(out / "best.pt")
    assert main(["translate", ckpt, "Ein Mann sieht den Hund .", "", "Ein Zebra ."]) == 0
    captured = capsys.readouterr()
    first, empty, third = captured.out.splitlines()
    assert first == "a man sees the dog." and empty == ""
    assert "zebra" in captured.err  # the unknown word is named
    assert main(["translate", ckpt, "--beam", "4", "Die Katze mag den Ball ."]) == 0
    assert capsys.readouterr().out.strip() == "the cat likes the ball."
    png = tmp_path / "attention.png"
    assert main(["translate", ckpt, "Ein Mann sieht den Hund .", "--plot-attention", str(png)]) == 0
    assert png.stat().st_size > 10_000 and capsys.readouterr().out.strip() == "a man sees the dog."
    # Word for word: each output word attends most to its own source word (<sos> is column 0).
    loaded = load(ckpt)
    model, src_enc, tgt_enc = loaded.model, loaded.encoder, loaded.encoders["tgt_encoder"]
    source = src_enc.vocab.encode(src_enc.tokenize("Ein Mann sieht den Hund ."))
    target = tgt_enc.vocab.encode(["a", "man", "sees", "the", "dog", "."])
    weights = torch.tensor(attention_weights(model, [2, *source, 3], target, 2))
    assert weights.shape == (7, 8) and torch.allclose(weights.sum(1), torch.ones(7))
    aligned = (weights[:6].argmax(1) == torch.arange(1, 7)).sum()
    assert aligned >= 4, weights.argmax(1)
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("Ein M\xe4nner .\n".encode("latin-1"))
    assert main(["translate", ckpt, "--file", str(bad)]) == 2
    assert "invalid UTF-8" in capsys.readouterr().err
    long = " ".join(["hund"] * 400)
    assert main(["translate", ckpt, long, "--max-length", "5"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.split()) <= 5

    assert main(["evaluate", ckpt, "--split", "valid"]) == 0
    line = capsys.readouterr().out
    assert line.startswith("valid: loss") and "bleu_tokenized" in line
    assert (out / "valid-translations.txt").is_file()
    greedy = (out / "valid-translations.txt").read_text()
    assert main(["evaluate", ckpt, "--split", "valid", "--beam", "3"]) == 0
    assert "bleu_tokenized" in capsys.readouterr().out
    beam = (out / "valid-translations.txt").read_text()
    assert len(beam.splitlines()) == len(greedy.splitlines()) == 60
    assert main(["evaluate", ckpt, "--split", "valid", "--allow-unk"]) == 0
    assert "bleu_tokenized" in capsys.readouterr().out
    assert main(["translate", ckpt, "--allow-unk", "Ein Zebra ."]) == 0
    assert capsys.readouterr().out.startswith("a ")
    assert main(["evaluate", ckpt, "--beam", "0"]) == 2
    assert "beam width" in capsys.readouterr().err
    assert main(["translate", ckpt, "Ein Hund .", "--max-length", "0"]) == 2
    assert "maximum length" in capsys.readouterr().err


def test_resume_decoding_settings_unk_ban_and_old_checkpoints(pairs, tmp_path, capsys):
    """A resumed run may change decoding settings but not the model; a checkpoint from before a
    setting existed resumes (the setting takes its default); an unknown setting is a clear error.
    Decoding never emits <unk> unless allowed, even where the model prefers it."""
    from seqlab.tasks.configs import TranslateDecode
    from seqlab.train import load_checkpoint
    from seqlab.train.checkpoint import save_checkpoint
    from seqlab.translation import translate_ids

    out = tmp_path / "run"
    argv = ["train", "translate", "--data", pairs, "--model", "transformer", *SIZE,
            "--min-freq", "1", "--batch-size", "32", "--quiet", "--out", str(out)]  # fmt: skip
    assert main([*argv, "--epochs", "1"]) == 0
    assert main([*argv, "--epochs", "2", "--beam", "3", "--resume"]) == 0
    capsys.readouterr()
    assert main([*argv[:-2], "--hidden", "32", "--epochs", "3", "--resume", "--out", str(out)]) == 2
    assert "other settings (--hidden (model.hidden_size))" in capsys.readouterr().err
    last = out / "last.pt"
    state = load_checkpoint(last)
    assert state["config"]["decode"]["beam"] == 3  # the resumed run's decoding
    del state["config"]["decode"]["allow_unk"]  # as written before the setting existed
    save_checkpoint(last, state)
    assert main([*argv, "--epochs", "3", "--beam", "3", "--resume"]) == 0
    state = load_checkpoint(last)
    state["config"]["data"]["from_the_future"] = 1
    save_checkpoint(last, state)
    assert main(["evaluate", str(last)]) == 2
    assert "unknown setting data.from_the_future" in capsys.readouterr().err

    loaded = load(out / "best.pt")
    model, src_enc, tgt_enc = loaded.model, loaded.encoder, loaded.encoders["tgt_encoder"]
    unk = tgt_enc.vocab.unk_id
    with torch.no_grad():
        model.output.bias[unk] += 100.0  # <unk> is now every step's most likely word
    sources = [[2, *src_enc.vocab.encode(src_enc.tokenize("Ein Mann sieht den Hund .")), 3]]
    for beam in (1, 3):
        decode = TranslateDecode(beam=beam, max_decode=5)
        banned = translate_ids(model, sources, tgt_enc, decode, as_words=False)[0]
        assert banned and "<unk>" not in banned and "<sos>" not in banned, banned
        allowed = dataclasses.replace(decode, allow_unk=True)
        assert "<unk>" in translate_ids(model, sources, tgt_enc, allowed, as_words=False)[0]
