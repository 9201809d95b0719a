"""Recurrent cells written by hand: one time step of a simple RNN, an LSTM and a GRU.

Each cell maps one time step `x` (B, C) and the previous state to the next state, with the same
call convention as `torch.nn.RNNCell` / `LSTMCell` / `GRUCell`. The gate blocks are stacked in
PyTorch's row order, so `fused_weights()` hands the very same tensors to PyTorch's fused kernels
(see `seqlab.nn.recurrent` and docs/recurrent.md). Names follow Goodfellow et al. (2016) eq. 10.8,
a = b + W h + U x, as `seqlab.reference` does: U is input-to-hidden, W hidden-to-hidden. One bias
per gate, as Keras counts them; the GRU keeps a second, recurrent bias b_W (Keras
`reset_after=True`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _uniform_(params: list[Tensor], hidden_size: int) -> None:
    """Initialise like torch.nn.RNN/LSTM/GRU: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / math.sqrt(hidden_size)
    with torch.no_grad():
        for p in params:
            p.uniform_(-bound, bound)


def _masked(h: Tensor, recurrent_mask: Tensor | None) -> Tensor:
    """Apply a recurrent (variational) dropout mask to the state that feeds W, if any."""
    return h if recurrent_mask is None else h * recurrent_mask


class RNNCell(nn.Module):
    """Elman RNN step h' = tanh(b + W h + U x) (Goodfellow §10.2, eq. 10.8) from nn.Linear."""

    num_gates = 1

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.U = nn.Linear(input_size, hidden_size)  # input-to-hidden; U.bias is the one bias b
        self.W = nn.Linear(hidden_size, hidden_size, bias=False)  # hidden-to-hidden
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh weights with torch.nn.RNN's initialisation."""
        _uniform_([self.U.weight, self.U.bias, self.W.weight], self.hidden_size)

    def forward(self, x: Tensor, h: Tensor, recurrent_mask: Tensor | None = None) -> Tensor:
        """One step: x (B, C), h (B, H) -> h' (B, H)."""
        return torch.tanh(self.U(x) + self.W(_masked(h, recurrent_mask)))

    def fused_weights(self, zero_bias: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(w_ih, w_hh, b_ih, b_hh) for torch's fused kernel; b_hh is zero (one bias per gate)."""
        return self.U.weight, self.W.weight, self.U.bias, zero_bias


class LSTMCell(nn.Module):
    """LSTM step (Hochreiter & Schmidhuber 1997; Goodfellow §10.10.1) with nn.Parameter gates.

    Rows of U (4H, C) (input-to-hidden), W (4H, H) (hidden-to-hidden) and b (4H) hold the input,
    forget, cell and output gates in this order (PyTorch's and Keras' order), so gate k is
    `U[k*H:(k+1)*H]`.
    """

    num_gates = 4

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.U = nn.Parameter(torch.empty(4 * hidden_size, input_size))  # input weights
        self.W = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))  # recurrent weights
        self.b = nn.Parameter(torch.empty(4 * hidden_size))  # one bias per gate unit
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh weights with torch.nn.LSTM's initialisation."""
        _uniform_([self.U, self.W, self.b], self.hidden_size)

    def forward(
        self, x: Tensor, state: tuple[Tensor, Tensor], recurrent_mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """One step: x (B, C), (h, c) each (B, H) -> (h', c')."""
        h, c = state
        z = F.linear(x, self.U, self.b) + F.linear(_masked(h, recurrent_mask), self.W)  # (B, 4H)
        zi, zf, zg, zo = z.chunk(4, dim=1)  # each (B, H)
        i = torch.sigmoid(zi)  # input gate: how much of the candidate to write
        f = torch.sigmoid(zf)  # forget gate: how much of the old cell to keep
        g = torch.tanh(zg)  # candidate cell value
        o = torch.sigmoid(zo)  # output gate: how much of the cell to expose
        c = f * c + i * g
        h = o * torch.tanh(c)
        return h, c

    def fused_weights(self, zero_bias: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(w_ih, w_hh, b_ih, b_hh) for torch's fused kernel; b_hh is zero (one bias per gate)."""
        return self.U, self.W, self.b, zero_bias


class GRUCell(nn.Module):
    """GRU step (Cho et al. 2014) in the cuDNN / Keras `reset_after=True` form, as torch.nn.GRU.

    Rows of U (3H, C), W (3H, H), b (3H) and b_W (3H) hold the reset, update and new gates in this
    order (PyTorch's order; Keras stores update, reset, new). The reset gate multiplies W h + b_W
    after the product, which is why this form needs the second bias b_W.
    """

    num_gates = 3

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.U = nn.Parameter(torch.empty(3 * hidden_size, input_size))  # input weights
        self.W = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))  # recurrent weights
        self.b = nn.Parameter(torch.empty(3 * hidden_size))  # input bias
        self.b_W = nn.Parameter(torch.empty(3 * hidden_size))  # recurrent bias (inside r * ...)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh weights with torch.nn.GRU's initialisation."""
        _uniform_([self.U, self.W, self.b, self.b_W], self.hidden_size)

    def forward(self, x: Tensor, h: Tensor, recurrent_mask: Tensor | None = None) -> Tensor:
        """One step: x (B, C), h (B, H) -> h' (B, H)."""
        xr, xz, xn = F.linear(x, self.U, self.b).chunk(3, dim=1)  # each (B, H)
        hr, hz, hn = F.linear(_masked(h, recurrent_mask), self.W, self.b_W).chunk(3, dim=1)
        r = torch.sigmoid(xr + hr)  # reset gate: how much of the past enters the candidate
        z = torch.sigmoid(xz + hz)  # update gate: how much of the old state to keep
        n = torch.tanh(xn + r * hn)  # candidate state
        return (1 - z) * n + z * h

    def fused_weights(self, zero_bias: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(w_ih, w_hh, b_ih, b_hh) for torch's fused kernel; the GRU uses its own b_W as b_hh."""
        return self.U, self.W, self.b, self.b_W
