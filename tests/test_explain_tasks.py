"""The tasks' `explain` on the fixture checkpoints (and fresh models of other kinds in their
place): the same tokens and texts as `generate` / `translate`, sampling distributions and
translation scores recomputed here from the model's own logits, traces equal to the layers'
own outputs, and the token limit."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from seqlab.decoding import ban
from seqlab.explain import TooManyTokens
from seqlab.models import language_model, translator
from seqlab.models.classifier import SequenceClassifier
from seqlab.models.language_model import LanguageModelConfig
from seqlab.tasks import load
from seqlab.tasks.interfaces import Explains
from seqlab.translation import attention_weights

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints"
TEXT = "who wrote the book ?"


@pytest.fixture(scope="module")
def loaded():
    """The four fixture checkpoints, loaded."""
    return {t: load(FIXTURES / t / "best.pt") for t in ("classify", "lm", "translate", "finetune")}


def test_every_task_explains(loaded):
    assert all(isinstance(one.task, Explains) for one in loaded.values())


def test_classify_traces_are_the_gru_outputs_and_the_limit_holds(loaded):
    one = loaded["classify"]
    got = one.task.explain(one, TEXT)
    assert got["tokens"] == TEXT.split() and got["attention"] == []
    (trace,) = got["recurrent"]
    assert (trace["module"], trace["cell"], trace["direction"]) == ("encoder.rnn", "gru", "forward")
    assert sorted(trace["gates"]) == ["candidate", "reset", "update"]
    encoder = one.model.encoder
    ids = torch.tensor([one.encoder.encode(TEXT)])
    outputs = encoder.rnn.outputs(encoder.embedding(ids), torch.tensor([ids.size(1)]))[0]
    torch.testing.assert_close(torch.tensor(trace["hidden"]), outputs, atol=1e-6, rtol=0)
    with pytest.raises(TooManyTokens):
        one.task.explain(one, TEXT, max_tokens=4)
    assert len(one.task.explain(one, TEXT, max_tokens=5)["tokens"]) == 5


def test_a_transformer_classifier_shows_its_attention_and_keeps_its_output(loaded):
    one = loaded["classify"]
    config = dataclasses.replace(one.model.config, encoder="transformer", num_layers=2)
    torch.manual_seed(0)
    other = dataclasses.replace(one, model=SequenceClassifier(config).eval())
    before = other.task.probabilities(other, [TEXT])
    got = other.task.explain(other, TEXT)
    assert torch.equal(other.task.probabilities(other, [TEXT]), before)
    assert [m["module"] for m in got["attention"]] == [
        "encoder.transformer.layers.0.self_attn",
        "encoder.transformer.layers.1.self_attn",
    ]
    for m in got["attention"]:
        assert m["heads"] == config.num_heads and m["queries"] == m["keys"] == TEXT.split()
        for head in m["weights"]:
            assert [sum(row) for row in head] == pytest.approx([1.0] * 5, abs=1e-5)
    assert got["recurrent"] == []


def test_finetune_has_tokens_but_no_maps(loaded):
    one = loaded["finetune"]
    got = one.task.explain(one, TEXT)
    assert got["tokens"][0] == "[CLS]" and got["tokens"][-1] == "[SEP]"
    assert (got["attention"], got["recurrent"]) == ([], [])


@pytest.mark.parametrize("prompt", ["where is", ""])
def test_lm_steps_are_generates_tokens_with_their_distribution(loaded, prompt):
    one = loaded["lm"]
    settings = {"temperature": 0.8, "top_k": 5, "seed": 3}
    text = one.task.generate(one, prompt, words=6, num=1, **settings)[0][0]
    got = one.task.explain(one, prompt, words=6, **settings)
    assert got["tokens"] == text.split()
    drawn = got["tokens"][len(prompt.split()) :]
    assert [s["word"] for s in got["steps"]] == drawn and len(drawn) == 6
    stoi, itos = one.encoder.vocab.stoi, one.encoder.vocab.itos
    ids = torch.tensor([[stoi[t] for t in got["tokens"]]])
    with torch.no_grad():
        logits = one.model.decode(ids)[0][0]  # (T, V), the whole text at once
    checked = 0
    for t in range(len(got["tokens"]) - len(drawn), len(got["tokens"])):
        step = got["steps"][t - len(got["tokens"]) + len(drawn)]
        top = [(w["word"], w["probability"]) for w in step["top"]]
        if t == 0:  # no prompt: the first word is uniform over the words, itself listed first
            assert top[0][0] == step["word"] and len({p for _, p in top}) == 1
            continue
        assert step["word"] in dict(top) and len(top) == 5  # top-k 5: the draw is among them
        assert [p for _, p in top] == sorted((p for _, p in top), reverse=True)
        scaled = logits[t - 1] / 0.8
        kth = scaled.topk(5).values[-1]
        reference = scaled.masked_fill(scaled < kth, -float("inf")).softmax(-1)
        if reference[stoi["<pad>"]] > 0:
            continue  # a drawn <pad> is drawn again without it: another distribution
        best = reference.topk(5)
        expected = [(itos[i], p) for p, i in zip(best.values.tolist(), best.indices, strict=True)]
        assert [w for w, _ in top] == [w for w, _ in expected]
        assert [p for _, p in top] == pytest.approx([p for _, p in expected], abs=1e-6)
        checked += 1
    assert checked >= 4
    (trace,) = got["recurrent"]
    outputs = one.model.rnn(one.model.embedding(ids))[0][0]
    torch.testing.assert_close(torch.tensor(trace["hidden"]), outputs, atol=1e-6, rtol=0)
    assert trace["tokens"] == got["tokens"] and got["attention"] == []


def test_lm_stream_words_carry_the_top_of_their_token(loaded):
    one = loaded["lm"]
    settings = {"temperature": 0.9, "top_p": 0.9, "seed": 5}
    explained = one.task.explain(one, "where is", words=5, **settings)
    _, items = one.task.explain_stream(one, "where is", words=5, **settings)
    words = [pair for item in items for pair in item]
    assert [w for w, _ in words] == explained["tokens"]
    assert [top for _, top in words] == [[], []] + [s["top"] for s in explained["steps"]]
    with pytest.raises(TooManyTokens):
        one.task.explain_stream(one, "where is", words=5, max_tokens=6)


def test_transformer_lm_maps_are_causal(loaded):
    one = loaded["lm"]
    config = LanguageModelConfig(vocab_size=27, arch="transformer", embed_dim=8, num_heads=2,
                                 hidden_size=16, num_layers=2)  # fmt: skip
    torch.manual_seed(1)
    other = dataclasses.replace(one, model=language_model(config).eval())
    got = other.task.explain(other, "where is", words=3, seed=0)
    assert [m["module"] for m in got["attention"]] == [
        "transformer.layers.0.self_attn",
        "transformer.layers.1.self_attn",
    ]
    for m in got["attention"]:
        for head in m["weights"]:
            for t, row in enumerate(head):
                assert sum(row) == pytest.approx(1.0, abs=1e-5)
                assert row[t + 1 :] == [0.0] * (len(row) - t - 1)  # no looking ahead
    assert got["recurrent"] == []


SENTENCES = ["ein mann sieht den hund .", "die katze mag den ball ."]


def _source(one, text: str) -> torch.Tensor:
    vocab = one.encoder.vocab
    return torch.tensor([[vocab.sos_id, *vocab.encode(one.encoder.tokenize(text)), vocab.eos_id]])


def test_greedy_scores_are_the_teacher_forced_log_probabilities(loaded):
    one = loaded["translate"]
    out, scores, notes = one.task.translate_with_scores(one, [*SENTENCES, ""], beam=1)
    assert (out, notes) == one.task.translate(one, [*SENTENCES, ""], beam=1)
    assert scores[2] == 0.0
    vocab = one.encoders["tgt_encoder"].vocab
    banned = [vocab.pad_id, vocab.sos_id, vocab.unk_id]  # what the search never chooses
    for text, score in zip(SENTENCES, scores, strict=False):
        got = one.task.explain(one, text, beam=1)
        assert got["candidates"][0]["text"] == out[SENTENCES.index(text)]
        assert got["candidates"][0]["log_prob"] == pytest.approx(score, abs=1e-5)
        target = [vocab.stoi[t] for t in got["target_tokens"]]  # words and <eos>
        src = _source(one, text)
        with torch.no_grad():
            memory = one.model.encode(src, torch.tensor([src.size(1)]))
            logits = one.model.decode(torch.tensor([[vocab.sos_id, *target[:-1]]]), memory)[0][0]
        logp = ban(logits, banned).log_softmax(-1)
        assert score == pytest.approx(
            sum(float(logp[t, y]) for t, y in enumerate(target)), abs=1e-5
        )
        assert score < 0


def test_beam_candidates_are_the_final_beam_best_first(loaded):
    one = loaded["translate"]
    out, scores, _ = one.task.translate_with_scores(one, SENTENCES, beam=3, length_penalty=0.6)
    assert out == one.task.translate(one, SENTENCES, beam=3, length_penalty=0.6)[0]
    for text, translation, score in zip(SENTENCES, out, scores, strict=True):
        got = one.task.explain(one, text, beam=3, length_penalty=0.6)
        candidates = got["candidates"]
        assert len(candidates) == 3 and candidates[0]["text"] == translation
        assert [c["score"] for c in candidates] == sorted(
            (c["score"] for c in candidates), reverse=True
        )
        for c in candidates:
            words = len(c["text"].replace(".", " .").split()) + 1  # and <eos>
            assert c["score"] == pytest.approx(c["log_prob"] / ((5 + words) / 6) ** 0.6, rel=1e-6)
        assert candidates[0]["log_prob"] == pytest.approx(score, abs=1e-5)


def test_translation_maps_read_the_chosen_translation(loaded):
    one = loaded["translate"]
    got = one.task.explain(one, SENTENCES[0])
    source, target = got["source_tokens"], got["target_tokens"]
    assert source == ["<sos>", *SENTENCES[0].split(), "<eos>"] and target[-1] == "<eos>"
    kinds = [(m["module"], m["kind"]) for m in got["attention"]]
    assert kinds == [
        ("encoder.layers.0.self_attn", "self"),
        ("decoder.layers.0.self_attn", "self"),
        ("decoder.layers.0.cross_attn", "cross"),
    ]
    cross = got["attention"][2]
    assert cross["queries"] == ["<sos>", *target[:-1]] and cross["keys"] == source
    vocab = one.encoders["tgt_encoder"].vocab
    reference = attention_weights(
        one.model, _source(one, SENTENCES[0])[0].tolist(), vocab.encode(target[:-1]), vocab.sos_id
    )  # the last layer's cross-attention averaged over heads, as --plot-attention draws it
    mean = torch.tensor(cross["weights"]).mean(0)
    torch.testing.assert_close(mean, torch.tensor(reference), atol=1e-6, rtol=0)
    with pytest.raises(TooManyTokens):
        one.task.explain(one, SENTENCES[0], max_tokens=5)
    empty = one.task.explain(one, "")
    assert empty == {"source_tokens": [], "target_tokens": [], "candidates": [], "attention": []}


def test_a_seq2seq_translator_has_one_cross_map_of_one_head(loaded):
    one = loaded["translate"]
    torch.manual_seed(2)
    model = translator("seq2seq", 15, 14, embed_dim=8, hidden_size=8, attention="dot").eval()
    other = dataclasses.replace(one, model=model)
    got = other.task.explain(other, SENTENCES[1], beam=2)
    (cross,) = got["attention"]
    assert (cross["module"], cross["kind"], cross["heads"]) == ("attention", "cross", 1)
    vocab = one.encoders["tgt_encoder"].vocab
    target = got["target_tokens"][:-1]
    reference = attention_weights(
        model, _source(one, SENTENCES[1])[0].tolist(), vocab.encode(target), vocab.sos_id
    )
    torch.testing.assert_close(torch.tensor(cross["weights"][0]), torch.tensor(reference))


@pytest.mark.parametrize("beam", [1, 3])
def test_a_translation_cut_at_max_length_has_no_eos(loaded, beam):
    # the server's max_length is the task's max_decode; one token is too few to end
    one = loaded["translate"]
    got = one.task.explain(one, SENTENCES[0], beam=beam, max_decode=1)
    (translation,), _ = one.task.translate(one, [SENTENCES[0]], beam=beam, max_decode=1)
    target = got["target_tokens"]
    assert target == translation.split() and len(target) == 1 and "<eos>" not in target
    assert got["candidates"][0]["text"] == translation
    for m in got["attention"][1:]:  # the decoder's: one row per produced token
        assert m["queries"] == ["<sos>"] and all(len(head) == 1 for head in m["weights"])
    vocab = one.encoders["tgt_encoder"].vocab
    src = _source(one, SENTENCES[0])
    with torch.no_grad():
        memory = one.model.encode(src, torch.tensor([src.size(1)]))
        logits = one.model.decode(torch.tensor([[vocab.sos_id]]), memory)[0][0]
    banned = [vocab.pad_id, vocab.sos_id, vocab.unk_id]
    logp = ban(logits, banned).log_softmax(-1)
    assert got["candidates"][0]["log_prob"] == pytest.approx(
        float(logp[0, vocab.stoi[target[0]]]), abs=1e-5
    )
