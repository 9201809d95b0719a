"""seqlab.explain: recorded attention weights and recurrent traces against references computed
here (softmax(QK^T/sqrt d) from the module's own Wq/Wk, torch.nn.LSTM/GRU, the gate equations),
and a recording leaves the model's outputs and backends as they were."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from seqlab.explain import attention_maps, record, recurrent_traces, rounded
from seqlab.models import translator
from seqlab.models.classifier import SequenceClassifier, SequenceClassifierConfig
from seqlab.nn import GRU, LSTM
from seqlab.nn.attention import MultiHeadAttention, padding_mask
from seqlab.nn.transformer import TransformerEncoder

B, T, C, H = 2, 5, 8, 6
LENGTHS = torch.tensor([5, 3])


def _inputs_of(module: nn.Module) -> tuple[list, object]:
    """A list that a pre-hook fills with the module's first positional input, and the handle."""
    seen: list = []
    return seen, module.register_forward_pre_hook(lambda m, args: seen.append(args[0]))


def test_self_attention_weights_are_softmax_qk_of_the_modules_own_projections():
    torch.manual_seed(0)
    encoder = TransformerEncoder(C, 2, 16, num_layers=2, dropout=0.0, backend="fused").eval()
    x = torch.randn(B, T, C)
    mask = padding_mask(LENGTHS, T)
    fused = encoder(x, key_mask=mask)
    seen, handle = _inputs_of(encoder.layers[1].self_attn)
    with record(encoder) as recording:
        recorded = encoder(x, key_mask=mask)
    handle.remove()
    torch.testing.assert_close(recorded, fused, atol=1e-6, rtol=0)  # output unchanged
    assert [m.self_attn.backend for m in encoder.layers] == ["fused", "fused"]  # restored
    names = [r.module for r in recording.attention]
    assert names == ["layers.0.self_attn", "layers.1.self_attn"]
    attn, layer_input = encoder.layers[1].self_attn, seen[0]
    r = recording.attention[1]
    assert (r.layer, r.kind, tuple(r.weights.shape)) == (1, "self", (B, 2, T, T))
    # the reference: softmax(q k^T / sqrt(D)) with masked keys at -inf, heads split by hand
    D = C // 2
    q = attn.Wq(layer_input).view(B, T, 2, D).transpose(1, 2)  # (B, H, T, D)
    k = attn.Wk(layer_input).view(B, T, 2, D).transpose(1, 2)
    scores = (q @ k.transpose(-2, -1) / math.sqrt(D)).masked_fill(~mask[:, None, None], -math.inf)
    torch.testing.assert_close(r.weights, scores.softmax(-1), atol=1e-6, rtol=0)
    # and the scratch module called directly gives the same weights
    scratch = MultiHeadAttention(C, 2, backend="scratch").eval()
    scratch.load_state_dict(attn.state_dict())
    torch.testing.assert_close(r.weights, scratch(layer_input, key_mask=mask)[1], atol=1e-6, rtol=0)
    torch.testing.assert_close(r.weights.sum(-1), torch.ones(B, 2, T), atol=1e-6, rtol=0)
    assert float(r.weights[1, :, :, 3:].abs().max()) == 0.0  # padding keys get nothing


def test_translator_maps_self_and_cross_in_module_order_and_json():
    torch.manual_seed(1)
    model = translator("transformer", 11, 12, embed_dim=8, num_heads=2, hidden_size=16).eval()
    src, lengths = torch.tensor([[2, 5, 6, 7, 3], [2, 8, 3, 0, 0]]), torch.tensor([5, 3])
    tgt_in = torch.tensor([[2, 4, 5], [2, 6, 7]])
    plain = model.decode(tgt_in, model.encode(src, lengths))[0]
    with record(model) as recording:
        logits = model.decode(tgt_in, model.encode(src, lengths))[0]
    torch.testing.assert_close(logits, plain, atol=1e-6, rtol=0)
    kinds = [(r.module, r.kind) for r in recording.attention]
    assert kinds == [
        ("encoder.layers.0.self_attn", "self"),
        ("encoder.layers.1.self_attn", "self"),
        ("decoder.layers.0.self_attn", "self"),
        ("decoder.layers.0.cross_attn", "cross"),
        ("decoder.layers.1.self_attn", "self"),
        ("decoder.layers.1.cross_attn", "cross"),
    ]
    averaged = model.decode_with_attention(tgt_in, model.encode(src, lengths))[2]
    torch.testing.assert_close(recording.attention[-1].weights.mean(1), averaged)
    source, target = ["<sos>", "b", "<eos>"], ["<sos>", "x", "y"]

    def queries(name: str) -> list[str]:
        return source if name.startswith("encoder") else target

    maps = attention_maps(recording, 1, queries, source, model)
    cross = maps[3]
    assert (cross["kind"], cross["heads"], cross["queries"], cross["keys"]) == (
        "cross",
        2,
        target,
        source,
    )
    assert len(cross["weights"]) == 2 and len(cross["weights"][0]) == 3
    for m in maps:
        for head in m["weights"]:
            for row in head:
                assert sum(row) == pytest.approx(1.0, abs=1e-5)
                assert all(isinstance(v, float) for v in row)
    # decoder self-attention is causal: the first query sees only itself
    assert maps[2]["weights"][0][0][1:] == [0.0, 0.0]


def test_seq2seq_attention_is_one_cross_map_of_one_head():
    torch.manual_seed(2)
    model = translator("seq2seq", 9, 9, embed_dim=4, hidden_size=6, attention="general").eval()
    src, lengths, tgt_in = torch.tensor([[2, 4, 5, 3]]), torch.tensor([4]), torch.tensor([[2, 6]])
    expected = model.decode_with_attention(tgt_in, model.encode(src, lengths))[2]
    with record(model) as recording:
        model.decode(tgt_in, model.encode(src, lengths))
    (r,) = recording.attention
    assert (r.module, r.kind, tuple(r.weights.shape)) == ("attention", "cross", (1, 1, 2, 4))
    torch.testing.assert_close(r.weights[:, 0], expected)
    assert [x.module for x in recording.recurrent] == ["encoder", "decoder"]
    # the decoder starts from the encoder's final state, and its trace does too
    decoder_trace = [t for t in recording.traces() if t.module == "decoder"][0]
    h, _ = model.decoder(model.tgt_embedding(tgt_in), model.encoder(model.src_embedding(src))[1])
    torch.testing.assert_close(decoder_trace.hidden, h, atol=1e-6, rtol=0)


def _torch_twin(layer: nn.Module, cls: type) -> nn.Module:
    """torch.nn.LSTM/GRU with the weights of a seqlab layer (b_hh: zero or the GRU's b_W)."""
    twin = cls(C, H, layer.num_layers, batch_first=True, bidirectional=layer.bidirectional)
    with torch.no_grad():
        for k, cell in enumerate(layer.cells):
            suffix = f"l{k // layer.num_directions}" + (
                "_reverse" if k % 2 and layer.bidirectional else ""
            )
            getattr(twin, f"weight_ih_{suffix}").copy_(cell.U)
            getattr(twin, f"weight_hh_{suffix}").copy_(cell.W)
            getattr(twin, f"bias_ih_{suffix}").copy_(cell.b)
            b_hh = cell.b_W if hasattr(cell, "b_W") else torch.zeros_like(cell.b)
            getattr(twin, f"bias_hh_{suffix}").copy_(b_hh)
    return twin.eval()


def _traced(layer: nn.Module, x: torch.Tensor, lengths: torch.Tensor | None):
    """Outputs of the layer and its traces, recorded while it runs."""
    with record(layer) as recording:
        out, _ = layer(x, lengths=lengths)
    return out, recording.traces()


@pytest.mark.parametrize("backend", ["fused", "scratch"])
def test_lstm_hidden_states_equal_torch_and_gates_reproduce_them(backend):
    torch.manual_seed(3)
    layer = LSTM(C, H, num_layers=2, bidirectional=True, backend=backend).eval()
    x = torch.randn(B, T, C)
    out, traces = _traced(layer, x, LENGTHS)
    assert [(t.layer, t.direction, t.cell) for t in traces] == [
        (0, "forward", "lstm"),
        (0, "backward", "lstm"),
        (1, "forward", "lstm"),
        (1, "backward", "lstm"),
    ]
    top = torch.cat([traces[2].hidden, traces[3].hidden], dim=2)
    torch.testing.assert_close(top, out, atol=1e-6, rtol=0)  # the layer's own outputs
    packed = nn.utils.rnn.pack_padded_sequence(x, LENGTHS, batch_first=True, enforce_sorted=False)
    reference, _ = nn.utils.rnn.pad_packed_sequence(
        _torch_twin(layer, nn.LSTM)(packed)[0], batch_first=True, total_length=T
    )
    torch.testing.assert_close(top, reference, atol=1e-6, rtol=0)
    first = _torch_twin(LSTM(C, H, bidirectional=True), nn.LSTM)  # layer 0 alone
    first.load_state_dict(
        {k: v for k, v in _torch_twin(layer, nn.LSTM).state_dict().items() if "_l0" in k}
    )
    full = torch.cat([traces[0].hidden, traces[1].hidden], dim=2)[0]  # row 0: no padding
    torch.testing.assert_close(full, first(x[:1])[0][0], atol=1e-6, rtol=0)
    for trace in traces:
        g = trace.gates
        for b in range(B):
            n = int(LENGTHS[b])
            steps = range(n) if trace.direction == "forward" else range(n - 1, -1, -1)
            c = torch.zeros(H)
            for t in steps:
                c = g["forget"][b, t] * c + g["input"][b, t] * g["candidate"][b, t]
                h = g["output"][b, t] * torch.tanh(c)
                torch.testing.assert_close(h, trace.hidden[b, t], atol=1e-6, rtol=0)


def test_gru_hidden_states_equal_torch_and_gates_reproduce_them():
    torch.manual_seed(4)
    layer = GRU(C, H, bidirectional=True, backend="fused").eval()
    x = torch.randn(B, T, C)
    out, traces = _traced(layer, x, None)
    torch.testing.assert_close(torch.cat([t.hidden for t in traces], 2), out, atol=1e-6, rtol=0)
    reference = _torch_twin(layer, nn.GRU)(x)[0]
    torch.testing.assert_close(
        torch.cat([t.hidden for t in traces], 2), reference, atol=1e-6, rtol=0
    )
    assert sorted(traces[0].gates) == ["candidate", "reset", "update"]
    for trace in traces:
        g = trace.gates
        steps = range(T) if trace.direction == "forward" else range(T - 1, -1, -1)
        h = torch.zeros(B, H)
        for t in steps:
            # torch's convention (and seqlab's cell): z keeps the old state
            h = (1 - g["update"][:, t]) * g["candidate"][:, t] + g["update"][:, t] * h
            torch.testing.assert_close(h, trace.hidden[:, t], atol=1e-6, rtol=0)


def test_classifier_outputs_path_is_recorded_and_the_method_restored():
    torch.manual_seed(5)
    config = SequenceClassifierConfig(vocab_size=20, num_classes=3, encoder="lstm", embed_dim=C)
    model = SequenceClassifier(config).eval()
    ids, lengths = torch.tensor([[4, 5, 6, 7], [8, 9, 0, 0]]), torch.tensor([4, 2])
    plain = model(ids, lengths)[0]
    with record(model) as recording:
        logits = model(ids, lengths)[0]
    torch.testing.assert_close(logits, plain, atol=1e-6, rtol=0)
    assert "outputs" not in vars(model.encoder.rnn)  # the class's method again
    (trace,) = recurrent_traces(recording, 1, ["a", "b", "<pad>", "<pad>"], model)
    assert (trace["module"], trace["cell"], trace["tokens"]) == ("encoder.rnn", "lstm", ["a", "b"])
    assert len(trace["hidden"]) == 2 and len(trace["hidden"][0]) == config.hidden_size
    assert sorted(trace["gates"]) == ["candidate", "forget", "input", "output"]
    features = model.encoder.rnn.outputs(model.encoder.embedding(ids), lengths)
    assert trace["hidden"][1] == pytest.approx(features[1, 1].tolist(), abs=1e-6)


def test_rounded_keeps_seven_significant_digits_and_refuses_nan():
    assert rounded(torch.tensor([0.30808961391, 1e-9 / 3])) == [0.3080896, 3.333333e-10]
    with pytest.raises(ValueError):
        rounded(torch.tensor([float("nan")]))
