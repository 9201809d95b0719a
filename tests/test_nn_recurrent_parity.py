"""Recurrent layer parity: scratch vs fused, both vs torch.nn, gradients vs finite differences."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqlab.nn import GRU, LSTM, RNN

B, T, C, H = 3, 5, 4, 6
LENGTHS = torch.tensor([5, 2, 4])  # unsorted on purpose: exercises the packing permutation
TORCH_CLASSES = {RNN: nn.RNN, LSTM: nn.LSTM, GRU: nn.GRU}
CASES = list(itertools.product([RNN, LSTM, GRU], [1, 2], [False, True], [False, True]))
IDS = [f"{c.__name__}-L{n}-{'bi' if b else 'uni'}-{'len' if v else 'full'}" for c, n, b, v in CASES]


def _parts(state: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """The state as a tuple: (h,) for RNN/GRU, (h, c) for LSTM."""
    return state if isinstance(state, tuple) else (state,)


def _initial_state(cls: type, layers: int, dirs: int) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """A random initial state, so the tests also cover a given state."""
    h = torch.randn(layers * dirs, B, H)
    return (h, torch.randn(layers * dirs, B, H)) if cls is LSTM else h


def _run(layer: nn.Module, x: torch.Tensor, state, lengths) -> dict[str, torch.Tensor]:
    """Outputs, final state and the gradients of a random linear loss w.r.t. everything."""
    x = x.clone().requires_grad_(True)
    state = tuple(s.clone().requires_grad_(True) for s in _parts(state))
    layer.zero_grad()
    out, final = layer(x, state if len(state) == 2 else state[0], lengths=lengths)
    gen = torch.Generator().manual_seed(1)
    loss = (out * torch.randn(out.shape, generator=gen)).sum()
    for s in _parts(final):
        loss = loss + (s * torch.randn(s.shape, generator=gen)).sum()
    loss.backward()
    result = {"out": out, "grad_x": x.grad}
    for i, (s, s0) in enumerate(zip(_parts(final), state, strict=True)):
        result[f"state{i}"], result[f"grad_state{i}"] = s, s0.grad
    for name, p in layer.named_parameters():
        result[f"grad_{name}"] = p.grad
    return result


def _assert_close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    """Every entry agrees to 1e-5 (float32)."""
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-5, rtol=1e-5, msg=key)


@pytest.mark.parametrize(("cls", "layers", "bi", "variable"), CASES, ids=IDS)
def test_scratch_and_fused_agree_after_moving_state_dict(cls, layers, bi, variable) -> None:
    """Outputs, final states and gradients agree after loading scratch's state_dict into fused."""
    torch.manual_seed(0)
    scratch = cls(C, H, num_layers=layers, bidirectional=bi, backend="scratch")
    fused = cls(C, H, num_layers=layers, bidirectional=bi, backend="fused")
    fused.load_state_dict(scratch.state_dict())  # strict: same names and shapes
    x, state = torch.randn(B, T, C), _initial_state(cls, layers, 2 if bi else 1)
    lengths = LENGTHS if variable else None
    _assert_close(_run(scratch, x, state, lengths), _run(fused, x, state, lengths))


def _torch_copy(layer: nn.Module) -> nn.Module:
    """A torch.nn.RNN/LSTM/GRU holding copies of the layer's weights (b_hh = 0 unless GRU)."""
    ref = TORCH_CLASSES[type(layer)](
        C, H, num_layers=layer.num_layers, bidirectional=layer.bidirectional, batch_first=True
    )
    with torch.no_grad():
        for k, cell in enumerate(layer.cells):
            layer_index, direction = divmod(k, layer.num_directions)
            suffix = f"_l{layer_index}" + ("_reverse" if direction else "")
            w_ih, w_hh, b_ih, b_hh = cell.fused_weights(layer.zero_bias)
            for name, w in zip(
                ("weight_ih", "weight_hh", "bias_ih", "bias_hh"),
                (w_ih, w_hh, b_ih, b_hh),
                strict=True,
            ):
                getattr(ref, name + suffix).copy_(w)
    return ref


@pytest.mark.parametrize(("cls", "layers", "bi", "variable"), CASES, ids=IDS)
def test_both_backends_match_torch_nn(cls, layers, bi, variable) -> None:
    """Reference test: torch.nn.RNN/LSTM/GRU with copied weights (packed when lengths vary)."""
    torch.manual_seed(0)
    layer = cls(C, H, num_layers=layers, bidirectional=bi)
    ref = _torch_copy(layer)
    x, state = torch.randn(B, T, C), _initial_state(cls, layers, 2 if bi else 1)
    if variable:
        packed = pack_padded_sequence(x, LENGTHS, batch_first=True, enforce_sorted=False)
        ref_out, ref_state = ref(packed, state)
        ref_out, _ = pad_packed_sequence(ref_out, batch_first=True, total_length=T)
    else:
        ref_out, ref_state = ref(x, state)
    for backend in ("scratch", "fused"):
        layer.backend = backend
        with torch.no_grad():
            out, final = layer(x, state, lengths=LENGTHS if variable else None)
        torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
        for got, want in zip(_parts(final), _parts(ref_state), strict=True):
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_scratch_gradients_match_finite_differences(cls) -> None:
    """gradcheck (float64 finite differences) through a bidirectional layer with padding."""
    torch.manual_seed(0)
    layer = cls(2, 3, num_layers=2, bidirectional=True).double()
    x = torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([3, 2])

    def f(inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out, state = layer(inputs, lengths=lengths)
        return (out, *_parts(state))

    assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-6)
