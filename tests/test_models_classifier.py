"""SequenceClassifier: Keras parameter counts, padding invariance, overfitting, bad input."""

import dataclasses

import pytest
import torch

from seqlab.errors import SeqlabError
from seqlab.models import (
    SequenceClassifier,
    SequenceClassifierConfig,
    class_probabilities,
    model_from_config,
)
from seqlab.models.common import UNK_ID
from seqlab.models.ngram import hashed_ngrams

ENCODERS = ["dense", "rnn", "lstm", "gru", "ngram", "cnn", "transformer"]


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def keras(encoder: str, layers: int = 1) -> SequenceClassifier:
    cfg = SequenceClassifierConfig(10_000, encoder=encoder, num_layers=layers, max_length=20)
    return SequenceClassifier(cfg)


def tiny(encoder: str, num_classes: int = 2, **kw) -> SequenceClassifier:
    torch.manual_seed(0)
    cfg = SequenceClassifierConfig(
        50,
        num_classes=num_classes,
        encoder=encoder,
        embed_dim=16,
        hidden_size=16,
        max_length=10,
        num_buckets=97,
        **kw,
    )
    return SequenceClassifier(cfg)


def batch(B: int = 4, T: int = 6, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, T + 1, (B,), generator=g)
    lengths[0] = T
    ids = torch.randint(1, 50, (B, T), generator=g)
    ids[torch.arange(T)[None, :] >= lengths[:, None]] = 0
    return {"ids": ids, "lengths": lengths}


def test_keras_parameter_counts():
    # Keras course models: vocabulary 10,000, embedding 16, maxlen 20, Dense(1, sigmoid).
    dense = keras("dense")
    assert count(dense.encoder.embedding) == 160_000
    assert count(dense.encoder.dense) == 10_272 and count(dense.output) == 33
    assert count(dense) == 170_305
    rnn = keras("rnn")
    assert count(rnn.encoder.rnn) == 1_568 and count(rnn) == 161_601
    lstm = keras("lstm")
    assert count(lstm.encoder.rnn) == 6_272 and count(lstm) == 166_305
    stacked = keras("lstm", layers=2)
    assert count(stacked) == 174_625
    assert count(stacked.encoder.rnn) - count(lstm.encoder.rnn) == 8_320  # the second LSTM(32)


@pytest.mark.parametrize(
    "encoder, bidirectional", [(e, False) for e in ENCODERS] + [("rnn", True), ("lstm", True)]
)
def test_padding_does_not_change_logits(encoder, bidirectional):
    model = tiny(encoder, num_classes=3, num_layers=2, bidirectional=bidirectional).eval()
    b = batch()
    padded = torch.nn.functional.pad(b["ids"], (0, 3))
    with torch.no_grad():
        logits, _ = model(**b)
        logits_padded, _ = model(padded, b["lengths"])
        logits_inferred, _ = model(padded)  # lengths counted from the non-pad ids
    assert logits.shape == (4, 3)
    torch.testing.assert_close(logits_padded, logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logits_inferred, logits, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_scratch_and_fused_backends_agree(pooling, bidirectional):
    fused = tiny("lstm", bidirectional=bidirectional, pooling=pooling, backend="fused")
    scratch = tiny("lstm", bidirectional=bidirectional, pooling=pooling, backend="scratch")
    scratch.load_state_dict(fused.state_dict())
    b = batch()
    torch.testing.assert_close(scratch(**b)[0], fused(**b)[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_overfits_one_batch(encoder):
    model = tiny(encoder)
    b = batch(B=8, seed=1)
    labels = torch.tensor([0, 1, 1, 0, 1, 0, 0, 1])
    opt = torch.optim.Adam(model.parameters(), lr=0.5 if encoder == "ngram" else 0.02)
    for _ in range(150):
        opt.zero_grad()
        _, loss = model(**b, labels=labels)
        loss.backward()
        opt.step()
        if loss.item() < 0.02:
            break
    assert loss.item() < 0.02, f"{encoder} did not fit one batch: loss {loss.item():.3f}"


def test_last_pooling_is_the_final_state_of_the_layer():
    model = tiny("gru", num_layers=2).eval()
    b = batch()
    with torch.no_grad():
        # the packed reference
        _, h = model.encoder.rnn(model.encoder.embedding(b["ids"]), lengths=b["lengths"])
        torch.testing.assert_close(model.encode(b["ids"], b["lengths"]), h[-1])


def test_multiclass_loss_and_probabilities():
    model = tiny("gru", num_classes=4)
    logits, loss = model(**batch(), labels=torch.tensor([0, 3, 2, 1]))
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 3, 2, 1]))
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(class_probabilities(logits), logits.softmax(1))
    binary = torch.tensor([[0.0], [2.0]])
    p = class_probabilities(binary)
    torch.testing.assert_close(p[:, 1], torch.sigmoid(binary[:, 0]))
    torch.testing.assert_close(p.sum(1), torch.ones(2))


@pytest.mark.parametrize("encoder", ENCODERS)
def test_model_from_config_round_trip(encoder):
    model = tiny(encoder, num_classes=3).eval()
    cfg = dataclasses.asdict(model.config)
    clone = model_from_config(type(model).__name__, cfg).eval()
    clone.load_state_dict(model.state_dict())
    b = batch()
    torch.testing.assert_close(clone(**b)[0], model(**b)[0])


def test_model_from_config_rejects_unknown():
    with pytest.raises(SeqlabError, match="unknown model kind"):
        model_from_config("Perceptron", {})
    with pytest.raises(SeqlabError, match="unknown fields"):
        model_from_config("SequenceClassifier", {"vocab_size": 5, "colour": "red"})
    with pytest.raises(SeqlabError, match="encoder must be one of"):
        model_from_config("SequenceClassifier", {"vocab_size": 5, "encoder": "capsule"})


def test_bad_input_raises_clear_errors():
    model = tiny("lstm")
    with pytest.raises(ValueError, match=r"shape \(B, T\)"):
        model(torch.randint(1, 50, (6,)))
    with pytest.raises(ValueError, match=r"integer tensor of shape \(B, T\)"):
        model(torch.rand(2, 6))
    with pytest.raises(ValueError, match=r"\[0, vocab_size=50\)"):
        model(torch.tensor([[1, 50]]))
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, T=2\]"):
        model(torch.tensor([[1, 2]]), torch.tensor([3]))
    with pytest.raises(ValueError, match=r"shape \(B,\)=\(1,\)"):
        model(torch.tensor([[1, 2]]), torch.tensor([2, 2]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, num_classes=2\)"):
        model(torch.tensor([[1, 2]]), labels=torch.tensor([2]))
    with pytest.raises(ValueError, match="max_length=10"):
        tiny("dense")(torch.randint(1, 50, (1, 11)))
    with pytest.raises(ValueError, match="fixed max_length"):
        SequenceClassifier(SequenceClassifierConfig(50, encoder="dense"))


def test_hashed_ngrams_skip_padding_and_see_word_order():
    ids = torch.tensor([[5, 7, 9, 0]])
    real = ids != 0
    features = hashed_ngrams(ids, real, n=3, vocab_size=50, num_buckets=1000)
    assert features.shape == (1, 4 + 3 + 2)
    assert features[0, :4].tolist() == [5, 7, 9, 0]
    bigrams, trigrams = features[0, 4:7], features[0, 7:]
    assert (bigrams[:2] >= 50).all() and bigrams[2] == 0  # "9 <pad>" is no bigram
    assert trigrams[0] >= 50 and trigrams[1] == 0
    swapped = hashed_ngrams(torch.tensor([[7, 5]]), torch.ones(1, 2, dtype=torch.bool), 2, 50, 1000)
    assert swapped[0, 2] != bigrams[0]  # "7 5" and "5 7" are different features


def test_ngram_bag_is_the_mean_of_feature_embeddings():
    model = tiny("ngram", ngram_n=2)
    ids = torch.tensor([[3, 4, 5]])
    features = hashed_ngrams(ids, ids != 0, 2, 50, 97)[0]
    expected = model.encoder.bag.embedding.weight[features].mean(0)
    torch.testing.assert_close(model.encoder.bag(ids, ids != 0)[0], expected)


@pytest.mark.parametrize("encoder", [*ENCODERS, "nbsvm"])
def test_every_registered_encoder_gives_its_feature_size(encoder):
    from seqlab.models.encoders import ENCODERS as REGISTRY

    model = tiny(encoder)
    assert type(model.encoder) is REGISTRY[encoder]
    b = batch()
    assert model.encode(b["ids"], b["lengths"]).shape == (4, model.encoder.num_features)


@pytest.mark.parametrize("encoder", [e for e in ENCODERS if e != "cnn"] + ["nbsvm"])  # cnn is newer
def test_old_layout_state_dicts_load_under_encoder(encoder):
    """Checkpoints from before the encoder registry name the encoder's weights `rnn.*`,
    `embedding.weight`, `bag.*`: loading moves them under `encoder.`, giving the same logits."""
    model = tiny(encoder).eval()
    old = {k.removeprefix("encoder."): v for k, v in model.state_dict().items()}
    assert any(not k.startswith(("output.", "encoder.")) for k in old)
    torch.manual_seed(5)
    fresh = SequenceClassifier(model.config).eval()
    fresh.load_state_dict(old)
    b = batch()
    torch.testing.assert_close(fresh(**b)[0], model(**b)[0], rtol=0, atol=0)


def test_cnn_parameter_count_by_hand_and_kim_sizes():
    # Kim (2014) CNN-rand on TREC-sized data: vocabulary 8,000, embeddings 300, widths 3, 4, 5
    # with 100 filters each, 6 classes.
    cfg = SequenceClassifierConfig(8_000, num_classes=6, encoder="cnn", embed_dim=300,
                                   hidden_size=100, filter_widths=[3, 4, 5])  # fmt: skip
    model = SequenceClassifier(cfg)
    embedding = 8_000 * 300
    convs = sum(300 * w * 100 + 100 for w in (3, 4, 5))  # weights (C x width x F) and biases
    output = 300 * 6 + 6  # 3 x 100 features -> 6 classes
    assert count(model.encoder.embedding) == embedding == 2_400_000
    assert count(model.encoder.convs) == convs == 360_300
    assert count(model.output) == output == 1_806
    assert count(model) == embedding + convs + output == 2_762_106
    from seqlab.summary import summary

    assert f"{count(model):,}" in str(summary(model))


def test_cnn_features_are_max_over_real_windows():
    model = tiny("cnn", filter_widths=[2, 3]).eval()
    ids = torch.tensor([[5, 6, 7, 8, 0, 0]])
    x = model.encoder.embedding(ids[:, :4]).transpose(1, 2)  # the 4 real tokens only
    want = [torch.relu(conv(x)).amax(dim=2) for conv in model.encoder.convs]
    got = model.encode(ids, torch.tensor([4]))
    torch.testing.assert_close(got, torch.cat(want, dim=1))
    short = model.encode(torch.tensor([[9]]), torch.tensor([1]))  # shorter than every filter
    assert short.shape == (1, 32) and torch.isfinite(short).all()
    with pytest.raises(ValueError, match="filter widths"):
        tiny("cnn", filter_widths=[])
    with pytest.raises(ValueError, match="max or mean"):
        tiny("cnn", pooling="last")


def test_cnn_full_padding_is_windows_over_the_text_padded_by_width_minus_one_zeros():
    # Kim's code: width - 1 zero vectors before and after each text, whatever the batch padding.
    model = tiny("cnn", filter_widths=[2, 3], conv_padding="full").eval()
    ids = torch.tensor([[5, 6, 7, 8, 0, 0], [9, 0, 0, 0, 0, 0]])
    lengths = torch.tensor([4, 1])
    got = model.encode(ids, lengths)
    for i, n in enumerate(lengths.tolist()):
        x = model.encoder.embedding(ids[i : i + 1, :n]).transpose(1, 2)  # real tokens only
        want = []
        for w, conv in zip((2, 3), model.encoder.convs, strict=True):
            padded = torch.nn.functional.pad(x, (w - 1, w - 1))  # zeros at both ends
            windows = torch.nn.functional.conv1d(padded, conv.weight, conv.bias)
            assert windows.size(2) == n + w - 1
            want.append(torch.relu(windows).amax(dim=2))
        torch.testing.assert_close(got[i : i + 1], torch.cat(want, dim=1))
    valid = SequenceClassifier(dataclasses.replace(model.config, conv_padding="valid")).eval()
    valid.load_state_dict(model.state_dict())  # the same weights: only the windows differ
    assert not torch.allclose(valid.encode(ids, lengths), got)
    with pytest.raises(ValueError, match="conv_padding must be"):
        tiny("cnn", conv_padding="same")


def test_embed_init_sets_the_uniform_range_of_the_word_vectors():
    torch.manual_seed(0)
    for a in (0.05, 0.25):
        cfg = SequenceClassifierConfig(5000, encoder="cnn", embed_dim=16, embed_init=a)
        w = SequenceClassifier(cfg).encoder.embedding.weight.detach()
        assert (w[0] == 0).all()  # the padding row stays zero
        assert w[1:].abs().max() <= a and w[1:].abs().max() > 0.95 * a
    with pytest.raises(ValueError, match="embed_init must be > 0"):
        tiny("cnn", embed_init=0.0)


def test_word_dropout_replaces_real_tokens_by_unk_while_training_only():
    model = tiny("cnn", word_dropout=0.3)
    b = batch(B=64, T=50, seed=1)
    real = b["ids"] != 0
    model.train()
    torch.manual_seed(0)
    dropped = model.drop_words(b["ids"])
    changed = dropped != b["ids"]
    assert (dropped[changed] == UNK_ID).all()
    assert not changed[~real].any()  # padding stays padding
    share = changed.sum().item() / real.sum().item()
    assert 0.27 < share < 0.33, share  # about word_dropout of the real tokens
    model.eval()
    assert torch.equal(model.drop_words(b["ids"]), b["ids"])
    # the same weights without word dropout give the eval logits exactly
    plain = SequenceClassifier(dataclasses.replace(model.config, word_dropout=0.0)).eval()
    plain.load_state_dict(model.state_dict())
    assert torch.equal(model(**b)[0], plain(**b)[0])
    with pytest.raises(ValueError, match=r"word_dropout must be in \[0, 1\)"):
        tiny("cnn", word_dropout=1.0)
