"""decode/state: chunked decoding equals one pass, carried BPTT state equals one unbroken
sequence, cached generation equals full recomputation, and the samplers."""

from __future__ import annotations

import pytest
import torch

from seqlab.data.lm import LMBatches
from seqlab.decoding import generate, sample_distributions, sample_next
from seqlab.models import LanguageModel, LanguageModelConfig, language_model
from seqlab.nn.attention import KVCache
from seqlab.train import CarryState, Perplexity, evaluate

ARCHS = ["transformer", "rnn", "lstm", "gru"]


def tiny(arch: str, **kw) -> LanguageModel:
    torch.manual_seed(0)
    cfg = dict(vocab_size=40, arch=arch, embed_dim=16, hidden_size=16, num_heads=2, dropout=0.1)
    return language_model(LanguageModelConfig(**(cfg | kw))).double().eval()


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("backend", ["fused", "scratch"])
def test_decoding_in_chunks_equals_one_pass(arch, backend):
    model = tiny(arch, backend=backend)
    tokens = torch.randint(1, 40, (3, 11))
    full, _ = model.decode(tokens)
    parts, state = [], None
    for a, b in ((0, 4), (4, 5), (5, 11)):  # a chunk, a single token, the rest
        logits, state = model.decode(tokens[:, a:b], state)
        parts.append(logits)
    torch.testing.assert_close(torch.cat(parts, 1), full, rtol=1e-10, atol=1e-10)
    if arch == "transformer":
        assert isinstance(state, KVCache) and len(state) == 11


@pytest.mark.parametrize("arch", ["lstm", "gru", "rnn"])
def test_carried_state_equals_one_unbroken_sequence(arch):
    """Truncated BPTT windows with the state carried give the logits of one long pass."""
    model = tiny(arch)
    stream = torch.randint(1, 40, (4 * 23 + 1,))
    batches = LMBatches(stream, batch_size=4, bptt=5)  # 4 columns of 23 tokens, 5 windows
    carry = CarryState()
    carry.start()
    logits = [carry(model, b)[0] for b in batches]
    columns = stream[: 4 * 23].view(4, 23)  # the rows LMBatches walks down, batch-first
    expected, _ = model.decode(columns[:, :-1])  # (4, 22, V): every window's positions
    torch.testing.assert_close(torch.cat(logits, 1), expected, rtol=1e-10, atol=1e-10)
    # Without the carry every window restarts from zero: different logits after window 1.
    fresh = [model(**b)[0] for b in batches]
    assert not torch.allclose(torch.cat(fresh, 1), expected)


def test_carried_state_is_detached_between_windows():
    model = tiny("lstm").float().train()
    batches = list(LMBatches(torch.randint(1, 40, (61,)), batch_size=2, bptt=10))
    carry = CarryState()
    for b in batches[:2]:
        _, loss = carry(model, b)
        loss.backward()  # a second backward through window 1 would raise without the detach
    h, c = carry.state
    assert h.requires_grad and carry.state is not None


def test_evaluate_with_carry_is_the_per_token_mean():
    model = tiny("gru")
    stream = torch.randint(1, 40, (3 * 17 + 1,))
    got = evaluate(model, LMBatches(stream, 3, 4), Perplexity(), forward=CarryState())
    rows = stream[: 3 * 17].view(3, 17)
    logits, loss = model(rows[:, :-1], rows[:, 1:])
    assert got["loss"] == pytest.approx(loss.item(), rel=1e-9)
    assert got["perplexity"] == pytest.approx(torch.exp(loss).item(), rel=1e-9)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize(
    "head",
    [
        {},
        {"adaptive_cutoffs": [8, 20]},
        {"factored_classes": 5},
        {"factored_classes": 5, "tie_weights": True},
    ],
    ids=str,
)
def test_cached_generation_equals_full_recomputation(arch, head):
    model = tiny(arch, **head)
    prompt = torch.randint(1, 40, (2, 3))
    runs = []
    for cached in (True, False):
        g = torch.Generator().manual_seed(7)
        runs.append(generate(model, prompt, 25, generator=g, cached=cached, top_p=0.9))
    assert runs[0].shape == (2, 28)
    assert torch.equal(runs[0], runs[1])
    assert torch.equal(runs[0][:, :3], prompt)


def test_adaptive_softmax_loss_matches_its_log_probabilities():
    model = tiny("lstm", adaptive_cutoffs=[8, 20])
    tokens, targets = torch.randint(1, 40, (2, 6)), torch.randint(1, 40, (2, 6))
    logits, loss = model(tokens, targets)
    assert logits is None  # the full scores are what the adaptive softmax avoids
    log_probs, _ = model.decode(tokens)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(2, 6, dtype=torch.float64))
    nll = -log_probs.gather(2, targets[..., None]).mean()
    torch.testing.assert_close(loss, nll)


def test_factored_softmax_loss_matches_its_log_probabilities():
    model = tiny("gru", factored_classes=5)
    tokens, targets = torch.randint(1, 40, (2, 6)), torch.randint(1, 40, (2, 6))
    targets[1, 4:] = 0  # padding is not a target
    logits, loss = model(tokens, targets)
    assert logits is None
    log_probs, _ = model.decode(tokens)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(2, 6, dtype=torch.float64))
    keep = targets != 0
    nll = -log_probs.gather(2, targets[..., None])[..., 0][keep].mean()
    torch.testing.assert_close(loss, nll)
    with pytest.raises(ValueError, match="tie_weights needs hidden_size == embed_dim"):
        tiny("gru", factored_classes=5, tie_weights=True, hidden_size=12)


def test_tied_factored_softmax_reads_words_from_its_output_rows():
    model = tiny("lstm", factored_classes=5, tie_weights=True)
    assert not hasattr(model, "embedding")  # one matrix for input and output
    out = model.factored
    out.assign_classes(torch.arange(40) % 5)  # rows no longer in word order
    tokens = torch.randint(1, 40, (2, 6))
    torch.testing.assert_close(model.embed(tokens), out.weight[out.row[tokens]])
    _, loss = model(tokens, torch.randint(1, 40, (2, 6)))
    loss.backward()
    # the input side's gradient reaches the rows of the input words
    assert out.weight.grad[out.row[tokens.flatten()]].abs().sum() > 0
    with pytest.raises(ValueError, match="factored_classes must be in"):
        tiny("gru", factored_classes=41)


def test_adaptive_softmax_rejects_bad_cutoffs():
    with pytest.raises(ValueError, match="adaptive_cutoffs must increase"):
        tiny("lstm", adaptive_cutoffs=[20, 8])
    with pytest.raises(ValueError, match="cannot be combined"):
        tiny("lstm", adaptive_cutoffs=[8, 20], tie_weights=True)


def test_samplers():
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0]]).repeat(500, 1)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(sample_next(logits, 0.0), torch.full((500,), 1))
    assert torch.equal(sample_next(logits, 1.0, top_k=1, generator=g), torch.full((500,), 1))
    top2 = sample_next(logits, 1.0, top_k=2, generator=g)
    assert set(top2.tolist()) == {1, 3}
    # probabilities 0.64, 0.24, 0.09, 0.03 (sorted): top-p 0.8 keeps the first two
    nucleus = sample_next(logits, 1.0, top_p=0.8, generator=g)
    assert set(nucleus.tolist()) == {1, 3}
    assert set(sample_next(logits, 1.0, top_p=0.5, generator=g).tolist()) == {1}
    everything = sample_next(logits, 1.0, generator=g)
    assert set(everything.tolist()) == {0, 1, 2, 3}
    for bad in ({"temperature": -1.0}, {"top_k": 0}, {"top_p": 0.0}, {"top_p": 1.5}):
        with pytest.raises(ValueError):
            sample_next(logits, **{"temperature": 1.0, **bad})


@pytest.mark.parametrize("temperature", [1e-300, 1e-40, 1e-7])
def test_a_tiny_temperature_draws_the_argmax_with_finite_probabilities(temperature):
    # logits / 1e-300 is +inf everywhere (float32 rounds the divisor to 0): softmax gave NaN
    # and every draw the last word
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 40, generator=g) * 5
    assert torch.equal(sample_next(logits, temperature, generator=g), logits.argmax(-1))
    model = tiny("gru")
    prompt = torch.randint(1, 40, (3, 2), generator=g)
    greedy = generate(model, prompt, 5, temperature=0.0)[:, 2:]
    draws = list(sample_distributions(model, prompt, 5, temperature=temperature, generator=g))
    assert torch.equal(torch.stack([nxt for nxt, _ in draws], 1), greedy)
    for nxt, probs in draws:
        assert torch.isfinite(probs).all()
        torch.testing.assert_close(probs.sum(-1), torch.ones(3))
        assert torch.equal(probs.argmax(-1), nxt)


def test_a_small_temperature_on_huge_logits_keeps_finite_probabilities():
    # 3e37 / 0.01 overflows float32: the row's max is subtracted before dividing
    logits = torch.tensor([[1e37, 3e37, 2e37, 0.0]])
    g = torch.Generator().manual_seed(0)
    draws = [int(sample_next(logits, 0.01, generator=g)) for _ in range(20)]
    assert draws == [1] * 20


def test_generate_rejects_bad_arguments():
    model = tiny("gru")
    with pytest.raises(ValueError, match="prompt must have shape"):
        generate(model, torch.zeros(2, 0, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(model, torch.ones(1, 1, dtype=torch.long), -1)
    out = generate(model, torch.ones(1, 2, dtype=torch.long), 0)
    assert out.tolist() == [[1, 1]]


def test_transformer_generation_past_its_positions_is_a_clear_error():
    model = tiny("transformer", max_length=8)
    with pytest.raises(ValueError, match="exceeds the positional table"):
        generate(model, torch.ones(1, 3, dtype=torch.long), 10)
