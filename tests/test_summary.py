"""seqlab.summary and `seqlab summary`: Keras counts, totals, shared and frozen weights."""

import pytest
import torch

from seqlab.cli import main
from seqlab.models import (
    LanguageModelConfig,
    SequenceClassifier,
    SequenceClassifierConfig,
    language_model,
)
from seqlab.summary import summary


def keras_dense() -> SequenceClassifier:
    return SequenceClassifier(SequenceClassifierConfig(10_000, encoder="dense", max_length=20))


def test_keras_dense_table():
    s = summary(keras_dense())
    rows = {r.name: (r.kind, r.output_shape, r.params) for r in s.rows}
    # Keras: Embedding (None, 20, 16) 160,000; Flatten (None, 320) 0; Dense (None, 32) 10,272;
    # Dense (None, 1) 33.
    assert rows["embedding"] == ("Embedding", "[1, 20, 16]", 160_000)
    assert rows["flatten"] == ("Flatten", "[1, 320]", 0)
    assert rows["dense"] == ("Linear", "[1, 32]", 10_272)
    assert rows["output"] == ("Linear", "[1, 1]", 33)
    assert [r.name for r in s.rows] == [
        "embedding",
        "flatten",
        "dense",
        "dropout",
        "output",
    ]
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (170_305, 170_305, 0)
    text = str(s)
    assert "Total params: 170,305" in text and "embedding (Embedding)" in text


def test_stacked_recurrent_layers_show_one_row_each_in_execution_order():
    """Keras' LSTM(32) x 2 on 16-dim embeddings: 6,272 then 8,320, each with its output shape."""
    model = SequenceClassifier(SequenceClassifierConfig(10_000, encoder="lstm", num_layers=2))
    model.encoder.embedding.weight.requires_grad_(False)
    s = summary(model, length=20)
    assert [(r.name, r.kind, r.output_shape, r.params) for r in s.rows] == [
        ("embedding", "Embedding", "[1, 20, 16]", 160_000),
        ("rnn.0", "LSTM", "[1, 20, 32]", 6_272),
        ("rnn.1", "LSTM", "[1, 20, 32]", 8_320),
        ("dropout", "Dropout", "[1, 32]", 0),
        ("output", "Linear", "[1, 1]", 33),
    ]
    assert s.total_params == 174_625
    assert s.non_trainable_params == 160_000 and "Non-trainable params: 160,000" in str(s)


@pytest.mark.parametrize("encoder", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_classifier_rows_have_real_shapes(encoder, bidirectional):
    cfg = SequenceClassifierConfig(
        10_000, encoder=encoder, hidden_size=32, bidirectional=bidirectional
    )
    s = summary(SequenceClassifier(cfg), length=20)
    names = [r.name for r in s.rows]
    assert names.index("embedding") < names.index("rnn") < names.index("output")
    rnn = s.rows[names.index("rnn")]
    assert rnn.output_shape == f"[1, 20, {64 if bidirectional else 32}]"
    assert "(unused)" not in str(s)


def test_gru_bias_convention_is_explained():
    cfg = SequenceClassifierConfig(10_000, encoder="gru", hidden_size=32)
    text = str(summary(SequenceClassifier(cfg)))
    assert "4,800 parameters for GRU(32) on 16 inputs" in text and "reset_after=True" in text


def test_explain_splits_a_simple_rnn_into_U_W_b_V_c(capsys):
    assert main(["summary", "--task", "classify", "--model", "rnn", "--vocab-size", "10000",
                 "--embed", "16", "--hidden", "32", "--explain"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "U (32, 16) 512 (input-to-hidden)" in out
    assert "W (32, 32) 1,024 (hidden-to-hidden)" in out
    assert "b (32,) 32 (bias)" in out
    assert "output: V (1, 32) 32 (hidden-to-output); c (1,) 1 (output bias)" in out
    assert "Total params: 161,601" in out  # 512 + 1,024 + 32 = 1,568 in the rnn row


def test_tied_weights_are_counted_once():
    cfg = LanguageModelConfig(100, arch="gru", embed_dim=8, hidden_size=8, tie_weights=True)
    s = summary(language_model(cfg))
    assert s.total_params == sum(p.numel() for p in language_model(cfg).parameters())
    assert "800 parameters are shared" in str(s)


def test_plain_torch_model_from_input_shape():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    s = summary(model, input_shape=(5, 4), dtype=torch.float32)
    assert [(r.name, r.output_shape, r.params) for r in s.rows] == [
        ("0", "[5, 3]", 15),
        ("1", "[5, 3]", 0),
        ("2", "[5, 2]", 8),
    ]


def test_cli_keras_counts(capsys):
    base = ["summary", "--task", "classify", "--vocab-size", "10000", "--embed", "16"]
    base += ["--hidden", "32", "--max-length", "20"]
    for model, layers, total in [
        ("dense", 1, "170,305"),
        ("rnn", 1, "161,601"),
        ("lstm", 1, "166,305"),
        ("lstm", 2, "174,625"),
    ]:
        assert main([*base, "--model", model, "--layers", str(layers)]) == 0
        assert f"Total params: {total}" in capsys.readouterr().out


def test_cli_other_tasks_and_errors(capsys, tmp_path):
    assert main(["summary", "--task", "translate", "--model", "gru", "--attention", "dot"]) == 0
    assert "Seq2Seq" in capsys.readouterr().out
    assert main(["summary", "--task", "lm", "--model", "transformer", "--embed", "8"]) == 0
    assert "TransformerLM" in capsys.readouterr().out
    assert main(["summary", "--task", "lm", "--model", "dense"]) == 2
    assert "not a lm model" in capsys.readouterr().err
    assert main(["summary", "--task", "classify", "--model", "transformer", "--heads", "3"]) == 2
    assert "divisible" in capsys.readouterr().err


def test_cli_reads_checkpoint(capsys, tmp_path):
    # A real checkpoint (a GRU classifier written before the encoder registry: old key names).
    path = "tests/fixtures/checkpoints/classify/best.pt"
    weights = torch.load(path, weights_only=True)["model"]
    assert main(["summary", "--checkpoint", path]) == 0
    out = capsys.readouterr().out
    assert "rnn (GRU)" in out
    assert f"Total params: {sum(w.numel() for w in weights.values()):,}" in out
    torch.save({"weights": 1}, tmp_path / "other.pt")
    assert main(["summary", "--checkpoint", str(tmp_path / "other.pt")]) == 2
    assert "not a seqlab checkpoint" in capsys.readouterr().err
