"""Recurrent layers: Keras parameter counts, padding, state passing, dropout, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqlab.nn import GRU, LSTM, RNN, LSTMCell, locked_dropout

BACKENDS = ["scratch", "fused"]
CLASSES = [RNN, LSTM, GRU]


def _parts(state: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """The state as a tuple: (h,) for RNN/GRU, (h, c) for LSTM."""
    return state if isinstance(state, tuple) else (state,)


def _count(module: torch.nn.Module) -> int:
    """Number of trainable parameters, as Keras' model.summary() counts them."""
    return sum(p.numel() for p in module.parameters())


def test_keras_parameter_counts() -> None:
    """Keras counts for embedding 16, hidden 32: one bias per gate (GRU: reset_after=True)."""
    assert _count(RNN(16, 32)) == 1_568  # SimpleRNN(32) = 16*32 + 32*32 + 32
    assert _count(LSTM(16, 32)) == 6_272  # LSTM(32) = 4 * (16*32 + 32*32 + 32)
    assert _count(LSTM(32, 32)) == 8_320  # second stacked LSTM(32) = 4 * (32*32 + 32*32 + 32)
    assert _count(LSTM(16, 32, num_layers=2)) == 6_272 + 8_320
    assert _count(GRU(16, 32)) == 4_800  # GRU(32), reset_after=True: 3 * (16*32 + 32*32 + 2*32)
    assert _count(LSTM(16, 32, bidirectional=True)) == 2 * 6_272  # Bidirectional(LSTM(32))
    # Same count under either backend: the fused kernel's zero b_hh is a buffer, not a parameter.
    assert _count(LSTM(16, 32, backend="fused")) == 6_272
    assert list(LSTM(16, 32).state_dict()) == ["cells.0.U", "cells.0.W", "cells.0.b"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls", CLASSES)
def test_padding_never_reaches_real_positions(cls, backend) -> None:
    """Garbage in padded steps changes nothing; padded outputs are zero; each row equals its
    unpadded run alone (so the reverse direction starts at the row's own last real token)."""
    torch.manual_seed(0)
    layer = cls(4, 5, num_layers=2, bidirectional=True, backend=backend).eval()
    lengths = torch.tensor([2, 6, 4])
    x = torch.randn(3, 6, 4)
    pad = torch.arange(6).unsqueeze(0) >= lengths.unsqueeze(1)  # (B, T)
    garbage = torch.where(pad.unsqueeze(2), 100 * torch.randn(3, 6, 4), x)
    with torch.no_grad():
        out, state = layer(x, lengths=lengths)
        out2, state2 = layer(garbage, lengths=lengths)
        torch.testing.assert_close(out2, out)
        for a, b in zip(_parts(state2), _parts(state), strict=True):
            torch.testing.assert_close(a, b)
        assert torch.all(out[pad] == 0)
        for i, n in enumerate(lengths.tolist()):
            alone, alone_state = layer(x[i : i + 1, :n])
            torch.testing.assert_close(out[i : i + 1, :n], alone, atol=1e-6, rtol=1e-5)
            for a, b in zip(_parts(state), _parts(alone_state), strict=True):
                torch.testing.assert_close(a[:, i : i + 1], b, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls", CLASSES)
def test_state_carries_across_chunks(cls, backend) -> None:
    """Running a sequence in two chunks, passing the state on, equals running it at once."""
    torch.manual_seed(0)
    layer = cls(3, 4, num_layers=2, backend=backend)
    x = torch.randn(2, 7, 3)
    with torch.no_grad():
        full, full_state = layer(x)
        first, state = layer(x[:, :3])
        second, final = layer(x[:, 3:], state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), full)
    for a, b in zip(_parts(final), _parts(full_state), strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("backend", BACKENDS)
def test_time_major_layout(backend) -> None:
    """batch_first=False takes (T, B, C) and gives (T, B, dirs*H), the same numbers transposed."""
    torch.manual_seed(0)
    layer = GRU(3, 4, bidirectional=True, backend=backend)
    x, lengths = torch.randn(2, 5, 3), torch.tensor([5, 3])
    out, h = layer(x, lengths=lengths)
    layer.batch_first = False
    out_t, h_t = layer(x.transpose(0, 1), lengths=lengths)
    torch.testing.assert_close(out_t.transpose(0, 1), out)
    torch.testing.assert_close(h_t, h)


def test_recurrent_dropout_is_one_mask_per_sequence() -> None:
    """Keras' recurrent_dropout: one mask per sequence on h before U; identity in eval mode."""
    torch.manual_seed(0)
    layer = LSTM(3, 4, recurrent_dropout=0.5)
    plain = LSTM(3, 4)
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(2, 5, 3)
    torch.manual_seed(1)
    out, _ = layer(x)
    # The same computation written out: draw the mask once, reuse it at every step.
    torch.manual_seed(1)
    mask = torch.bernoulli(torch.full((2, 4), 0.5)) / 0.5
    cell: LSTMCell = layer.cells[0]
    h = c = torch.zeros(2, 4)
    steps = []
    for t in range(5):
        h, c = cell(x[:, t], (h, c), mask)
        steps.append(h)
    torch.testing.assert_close(out, torch.stack(steps, dim=1))
    assert not torch.allclose(out, plain(x)[0])
    layer.eval()
    torch.testing.assert_close(layer(x)[0], plain(x)[0])


def test_dropout_between_layers_only_in_training() -> None:
    """Inter-layer dropout changes training outputs and is the identity in eval mode."""
    torch.manual_seed(0)
    layer, plain = LSTM(3, 4, num_layers=2, dropout=0.5), LSTM(3, 4, num_layers=2)
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(2, 5, 3)
    for backend in BACKENDS:
        layer.backend = backend
        assert not torch.allclose(layer.train()(x)[0], plain(x)[0])
        torch.testing.assert_close(layer.eval()(x)[0], plain(x)[0])


@pytest.mark.parametrize(
    ("inputs", "lengths", "match"),
    [
        (torch.randn(5, 4), None, r"shape \(B, T, C\) with C=4"),  # rank 2
        (torch.randn(2, 5, 4).long(), None, "float tensor"),  # integer dtype
        (torch.randn(2, 5, 3), None, r"C=4, got \(2, 5, 3\)"),  # wrong feature size
        (torch.randn(2, 5, 4), torch.tensor([[5, 5]]), r"shape \(B,\)=\(2,\)"),
        (torch.randn(2, 5, 4), torch.tensor([5, 5, 5]), r"shape \(B,\)=\(2,\)"),
        (torch.randn(2, 5, 4), torch.tensor([5.0, 3.0]), "integer tensor"),
        (torch.randn(2, 5, 4), torch.tensor([6, 3]), r"\[1, T=5\], got values in \[3, 6\]"),
        (torch.randn(2, 5, 4), torch.tensor([0, 3]), r"\[1, T=5\]"),
    ],
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_inputs_raise_clear_errors(inputs, lengths, match, backend) -> None:
    """Wrong rank, dtype, feature size or lengths raise ValueError naming the expected shape."""
    with pytest.raises(ValueError, match=match):
        LSTM(4, 3, backend=backend)(inputs, lengths=lengths)


def test_bad_state_and_configuration_raise() -> None:
    """A state of the wrong shape, an unknown backend or fused recurrent dropout are refused."""
    x = torch.randn(2, 5, 4)
    with pytest.raises(ValueError, match=r"state \(h, c\) must be 2 tensor\(s\) of shape"):
        LSTM(4, 3)(x, torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match=r"\(layers\*dirs, B, H\)=\(2, 2, 3\)"):
        GRU(4, 3, bidirectional=True)(x, torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="backend must be one of"):
        RNN(4, 3, backend="cudnn")
    with pytest.raises(ValueError, match="recurrent_dropout > 0 needs backend='scratch'"):
        LSTM(4, 3, recurrent_dropout=0.2, backend="fused")
    with pytest.raises(ValueError, match="dropout must be in"):
        GRU(4, 3, dropout=1.0)


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
@pytest.mark.parametrize("layers, bidirectional", [(1, False), (1, True), (2, True)])
@pytest.mark.parametrize("batch_first", [True, False])
def test_outputs_fast_path_equals_forward(cls, layers, bidirectional, batch_first) -> None:
    """`outputs()` (unpacked, reversed within lengths) == forward()[0]: values and gradients."""
    torch.manual_seed(0)
    layer = cls(5, 7, layers, bidirectional, backend="fused", batch_first=batch_first)
    x = torch.randn(4, 9, 5, requires_grad=True)
    lengths = torch.tensor([9, 3, 6, 1])
    inputs = x if batch_first else x.transpose(0, 1)
    expected = layer(inputs, lengths=lengths)[0]
    got = layer.outputs(inputs, lengths)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)
    weights = torch.randn_like(expected)
    grads = [
        torch.autograd.grad((out * weights).sum(), [x, *layer.parameters()])
        for out in (layer(inputs, lengths=lengths)[0], layer.outputs(inputs, lengths))
    ]
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_fused_kernels_run_in_float32_under_cpu_autocast(cls):
    """oneDNN's bf16 LSTM primitive fails on some CPUs; under --amp the kernel stays float32."""
    torch.manual_seed(0)
    layer = cls(8, 8, num_layers=2, bidirectional=True, backend="fused")
    x, lengths = torch.randn(3, 6, 8), torch.tensor([6, 4, 1])
    expected, _ = layer(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, state = layer(x)
        pooled = layer.outputs(x, lengths)
    (out.sum() + pooled.sum()).backward()
    assert out.dtype == pooled.dtype == torch.float32
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(pooled, layer.outputs(x, lengths))


def test_cell_notation_matches_the_reference_rnn_on_the_course_data(shared_data):
    """The course's W (hidden-to-hidden), U (input-to-hidden) and b go into seqlab's RNN under
    the same names and give the reference RNN's hidden states (Goodfellow eq. 10.8)."""
    from seqlab.examples import load_uuml
    from seqlab.reference import rnn_layer

    ex = load_uuml("rnn_example", shared_data)
    X = ex["embeddings"]  # (9, 5): the quick brown fox ...
    expected = rnn_layer(X, ex["W"], ex["V"], ex["U"], ex["b"], ex["c"]).h  # (9, 4)
    for backend in BACKENDS:
        layer = RNN(5, 4, backend=backend).double()
        cell = layer.cells[0]
        with torch.no_grad():
            cell.U.weight.copy_(torch.from_numpy(ex["U"]))  # (4, 5) input-to-hidden
            cell.W.weight.copy_(torch.from_numpy(ex["W"]))  # (4, 4) hidden-to-hidden
            cell.U.bias.copy_(torch.from_numpy(ex["b"][:, 0]))
        out, _ = layer(torch.from_numpy(X)[None])
        np.testing.assert_allclose(out[0].detach().numpy(), expected, rtol=1e-12, atol=1e-12)
    # The course's first step, a_1 = b + W h0 + U x1, printed in assignment 5
    np.testing.assert_allclose(
        np.arctanh(expected[0]), [0.5819145, -2.2686535, -0.6410312, 1.4891931], atol=1e-6
    )


@pytest.mark.parametrize("cls,ref_cls", [(LSTM, torch.nn.LSTM), (GRU, torch.nn.GRU)])
def test_weight_drop_is_dropconnect_on_the_recurrent_weights(cls, ref_cls) -> None:
    """Training with weight_drop = torch.nn's layer whose w_hh had the same dropout mask applied
    (Merity et al.'s weight drop); eval mode uses the weights as they are."""
    torch.manual_seed(0)
    layer = cls(3, 4, num_layers=2, backend="fused", weight_drop=0.5)
    ref = ref_cls(3, 4, num_layers=2, batch_first=True)
    x = torch.randn(2, 5, 3)

    def copy_weights(drop: bool) -> None:
        with torch.no_grad():
            for k, cell in enumerate(layer.cells):
                w_ih, w_hh, b_ih, b_hh = cell.fused_weights(layer.zero_bias)
                getattr(ref, f"weight_ih_l{k}").copy_(w_ih)
                getattr(ref, f"weight_hh_l{k}").copy_(F.dropout(w_hh, 0.5) if drop else w_hh)
                getattr(ref, f"bias_ih_l{k}").copy_(b_ih)
                getattr(ref, f"bias_hh_l{k}").copy_(b_hh)

    layer.train()
    torch.manual_seed(1)
    out, _ = layer(x)
    torch.manual_seed(1)
    copy_weights(drop=True)  # the same draws, layer by layer
    torch.testing.assert_close(out, ref(x)[0])
    out.sum().backward()
    grad = layer.cells[0].W.grad  # zero exactly where the mask dropped a weight
    assert grad is not None and 0.3 < (grad == 0).float().mean() < 0.7
    layer.eval()
    copy_weights(drop=False)
    torch.testing.assert_close(layer(x)[0], ref(x)[0])


def test_weight_drop_needs_the_fused_backend() -> None:
    with pytest.raises(ValueError, match="weight_drop > 0 needs backend='fused'"):
        LSTM(4, 3, weight_drop=0.2, backend="scratch")
    with pytest.raises(ValueError, match=r"weight_drop must be in \[0, 1\)"):
        LSTM(4, 3, weight_drop=1.0, backend="fused")


def test_locked_dropout_keeps_one_mask_for_all_steps_of_a_sequence() -> None:
    torch.manual_seed(0)
    x = torch.ones(8, 6, 50)
    out = locked_dropout(x, 0.4)
    assert (out == out[:, :1]).all()  # the same units dropped at every step
    torch.testing.assert_close(out.unique(), torch.tensor([0.0, 1 / 0.6]))
    assert 0.3 < (out == 0).float().mean() < 0.5
    assert not (out[0] == out[1]).all()  # another mask per sequence
    assert locked_dropout(x, 0.4, training=False) is x


@pytest.mark.parametrize("cls,ref_cls", [(LSTM, torch.nn.LSTM), (GRU, torch.nn.GRU)])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_locked_dropout_between_layers_matches_torch_layers(cls, ref_cls, bidirectional) -> None:
    """Training with locked=True = two one-layer torch.nn layers with `locked_dropout` between
    them (the same draw), for both backends and with padded sequences; eval mode drops nothing."""
    torch.manual_seed(0)
    layer = cls(3, 4, num_layers=2, dropout=0.5, locked=True, bidirectional=bidirectional)
    D = 2 if bidirectional else 1
    refs = [ref_cls(3 if i == 0 else 4 * D, 4, batch_first=True, bidirectional=bidirectional)
            for i in range(2)]  # fmt: skip
    with torch.no_grad():
        for k, cell in enumerate(layer.cells):
            suffix = "_reverse" if k % D else ""
            names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            for name, w in zip(names, cell.fused_weights(layer.zero_bias), strict=True):
                getattr(refs[k // D], f"{name}_l0{suffix}").copy_(w)
    x = torch.randn(3, 5, 3)
    torch.manual_seed(1)
    expected = refs[1](locked_dropout(refs[0](x)[0], 0.5))[0]
    lengths, padded = torch.tensor([5, 2, 4]), {}
    for backend in BACKENDS:
        layer.backend = backend
        layer.train()
        torch.manual_seed(1)
        torch.testing.assert_close(layer(x)[0], expected)
        torch.manual_seed(1)
        torch.testing.assert_close(layer.outputs(x), expected)
        torch.manual_seed(2)
        padded[backend] = layer(x, lengths=lengths)[0]
        layer.eval()
        torch.testing.assert_close(layer(x)[0], refs[1](refs[0](x)[0])[0])
    torch.testing.assert_close(padded["fused"], padded["scratch"])
