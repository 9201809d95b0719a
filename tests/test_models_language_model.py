"""LanguageModel: causality, the tutorial's structure, weight tying, overfitting, bad input."""

import dataclasses
import math

import pytest
import torch

from seqlab.decoding import generate
from seqlab.models import LanguageModel, LanguageModelConfig, language_model, model_from_config

ARCHS = ["transformer", "rnn", "lstm", "gru"]


def tiny(arch: str, **kw) -> LanguageModel:
    torch.manual_seed(0)
    cfg = dict(vocab_size=50, arch=arch, embed_dim=16, hidden_size=16, num_heads=2, dropout=0.0)
    return language_model(LanguageModelConfig(**(cfg | kw)))


@pytest.mark.parametrize("arch", ARCHS)
def test_changing_future_tokens_leaves_past_logits(arch):
    model = tiny(arch).eval()
    tokens = torch.randint(1, 50, (2, 10))
    changed = tokens.clone()
    changed[:, 6:] = torch.randint(1, 50, (2, 4))
    with torch.no_grad():
        a, _ = model(tokens)
        b, _ = model(changed)
    assert a.shape == (2, 10, 50)
    torch.testing.assert_close(a[:, :6], b[:, :6], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_transformer_matches_the_tutorial_structure():
    """Same weights in torch.nn.TransformerEncoder (the tutorial's model) give the same logits."""
    model = tiny("transformer", num_layers=2).eval()
    layer = torch.nn.TransformerEncoderLayer(16, 2, 16, dropout=0.0, batch_first=True)
    ref = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()
    for mine, r in zip(model.transformer.layers, ref.layers, strict=True):
        a = mine.self_attn
        with torch.no_grad():
            r.self_attn.in_proj_weight.copy_(torch.cat([a.Wq.weight, a.Wk.weight, a.Wv.weight]))
            r.self_attn.in_proj_bias.copy_(torch.cat([a.Wq.bias, a.Wk.bias, a.Wv.bias]))
        r.self_attn.out_proj.load_state_dict(a.Wo.state_dict())
        r.linear1.load_state_dict(mine.ffn.linear1.state_dict())
        r.linear2.load_state_dict(mine.ffn.linear2.state_dict())
        r.norm1.load_state_dict(mine.norm1.state_dict())
        r.norm2.load_state_dict(mine.norm2.state_dict())
    tokens = torch.randint(1, 50, (2, 7))
    x = model.embedding(tokens) * math.sqrt(16) + model.positions.pe[:7]
    mask = torch.nn.Transformer.generate_square_subsequent_mask(7)
    with torch.no_grad():
        expected = model.decoder(ref(x, mask=mask, is_causal=True))
        torch.testing.assert_close(model(tokens)[0], expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("arch", ["transformer", "lstm"])
def test_weight_tying(arch):
    model = tiny(arch, tie_weights=True)
    assert model.decoder.weight is model.embedding.weight
    untied = tiny(arch)
    shared = 50 * 16
    assert (
        sum(p.numel() for p in untied.parameters()) - sum(p.numel() for p in model.parameters())
        == shared
    )
    with pytest.raises(ValueError, match="hidden_size == embed_dim"):
        tiny("gru", tie_weights=True, hidden_size=8)


def test_loss_ignores_padding_targets():
    model = tiny("gru")
    tokens = torch.randint(1, 50, (2, 5))
    targets = torch.randint(1, 50, (2, 5))
    targets[1, 3:] = 0
    logits, loss = model(tokens, targets)
    real = targets != 0
    expected = torch.nn.functional.cross_entropy(logits[real], targets[real])
    torch.testing.assert_close(loss, expected)


@pytest.mark.parametrize("arch", ARCHS)
def test_overfits_one_batch(arch):
    model = tiny(arch, num_layers=1)
    batch = model.example_batch(batch_size=4, length=8)
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(200):
        opt.zero_grad()
        _, loss = model(**batch)
        loss.backward()
        opt.step()
        if loss.item() < 0.05:
            break
    assert loss.item() < 0.05, f"{arch}: loss {loss.item():.3f}"


@pytest.mark.parametrize("arch", ARCHS)
def test_round_trip_and_generate(arch):
    model = tiny(arch).eval()
    clone = model_from_config("LanguageModel", dataclasses.asdict(model.config)).eval()
    clone.load_state_dict(model.state_dict())
    tokens = torch.randint(1, 50, (2, 5))
    torch.testing.assert_close(clone(tokens)[0], model(tokens)[0])
    out = generate(model, tokens, 3, temperature=0)
    assert out.shape == (2, 8) and torch.equal(out[:, :5], tokens)
    assert torch.equal(out[:, 5], model(tokens)[0][:, -1].argmax(-1))


def test_bad_input_raises():
    model = tiny("transformer", max_length=16)
    with pytest.raises(ValueError, match=r"tokens must be an integer tensor of shape \(B, T\)"):
        model(torch.randint(1, 50, (2, 3, 4)))
    with pytest.raises(ValueError, match=r"\[0, vocab_size=50\)"):
        model(torch.tensor([[3, 99]]))
    with pytest.raises(ValueError, match="targets must have the shape"):
        model(torch.tensor([[3, 4]]), torch.tensor([[3]]))
    with pytest.raises(ValueError, match="exceeds"):
        model(torch.ones(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="arch must be one of"):
        tiny("cnn")


def test_one_class_per_architecture_and_old_checkpoints_pick_theirs():
    from seqlab.models import RecurrentLM, TransformerLM

    for arch, cls in [("transformer", TransformerLM), ("lstm", RecurrentLM), ("gru", RecurrentLM)]:
        model = tiny(arch)
        assert type(model) is cls and isinstance(model, LanguageModel)
        torch.manual_seed(0)
        # old checkpoints store the kind "LanguageModel" for both architectures
        old = model_from_config("LanguageModel", dataclasses.asdict(model.config))
        assert type(old) is cls
        assert type(model_from_config(cls.__name__, dataclasses.asdict(model.config))) is cls
    with pytest.raises(TypeError, match="language_model"):
        LanguageModel(LanguageModelConfig(20))
    with pytest.raises(ValueError, match="not a RecurrentLM"):
        RecurrentLM(LanguageModelConfig(20, arch="transformer"))


@pytest.mark.parametrize("tied_factored", [False, True])
def test_embed_dropout_drops_whole_words(tied_factored):
    """Training: a word keeps or loses its whole vector, the same at every position, and kept
    vectors are scaled by 1 / (1 - p); eval mode returns the embedding unchanged."""
    extra = {"factored_classes": 5, "tie_weights": True} if tied_factored else {}
    model = tiny("lstm", embed_dropout=0.5, **extra)
    tokens = torch.tensor([[3, 4, 3, 5, 4, 3] * 4])
    plain = model.eval().embed(tokens)
    torch.manual_seed(0)
    dropped = model.train().embed(tokens)
    kept = (dropped != 0).all(-1)  # (1, T): whole vectors kept or zeroed
    assert ((dropped == 0).all(-1) | kept).all()
    for word in (3, 4, 5):  # one decision per word
        at = tokens == word
        assert kept[at].all() or not kept[at].any()
    torch.testing.assert_close(dropped[kept], 2 * plain[kept])
    torch.manual_seed(1)
    words = model.embed(torch.arange(50)[None])
    assert 0.25 < (words == 0).all(-1).float().mean() < 0.75  # about half the vocabulary


def test_weight_drop_reaches_the_recurrent_layer_and_not_the_transformer():
    model = tiny("lstm", weight_drop=0.3)
    assert model.rnn.weight_drop == 0.3
    torch.manual_seed(0)
    tokens = torch.randint(1, 50, (2, 8))
    a, _ = model.train()(tokens)
    b, _ = model(tokens)
    assert not torch.allclose(a, b)  # another mask per call
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(tokens)[0], model(tokens)[0])
    with pytest.raises(ValueError, match="weight_drop drops recurrent weights"):
        tiny("transformer", weight_drop=0.3)
    with pytest.raises(ValueError, match=r"embed_dropout must be in \[0, 1\)"):
        tiny("gru", embed_dropout=1.0)


def test_locked_dropout_masks_whole_sequences_around_and_between_the_layers():
    model = tiny("lstm", dropout=0.5, locked_dropout=True)
    assert model.rnn.locked and model.rnn.dropout == 0.5
    x = torch.ones(4, 7, 16)
    dropped = model.train()._drop(x)
    assert (dropped == dropped[:, :1]).all() and (dropped == 0).any()
    assert model.eval()._drop(x) is x
    plain = tiny("lstm", dropout=0.5)._drop(x)  # per element: masks differ between steps
    assert not (plain == plain[:, :1]).all()
    with pytest.raises(ValueError, match="locked_dropout is for recurrent models"):
        tiny("transformer", locked_dropout=True)
