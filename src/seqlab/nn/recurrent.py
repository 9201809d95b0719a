"""Recurrent layers RNN, LSTM and GRU with two backends that share one set of parameters.

`backend="scratch"` loops over time in Python with the hand-written cells of `seqlab.nn.cells`;
`backend="fused"` hands the very same parameter tensors to the kernels that `torch.nn.RNN/LSTM/GRU`
call (`torch._VF.rnn_tanh/lstm/gru`), with packed sequences when `lengths` are given. Both backends
own the same modules, so parameter names and shapes are identical: a `state_dict` moves between
them, and `layer.backend` may even be switched on a live layer. See docs/recurrent.md.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import _VF, Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from seqlab.nn.attention import padding_mask
from seqlab.nn.cells import GRUCell, LSTMCell, RNNCell

BACKENDS = ("scratch", "fused")

State = Tensor | tuple[Tensor, Tensor]


def _fp32_kernels(x: Tensor) -> bool:
    """True under CPU bf16 autocast: the fused kernels then run in float32.

    oneDNN's bf16 LSTM primitive fails on CPUs without native bf16 ("could not create a
    primitive descriptor", seen on an AVX2 AMD EPYC), so under autocast the recurrent kernels
    stay in float32 (whether bf16 ones would be faster on bf16 CPUs is not measured) while the
    layers around them run in bf16.
    """
    return x.device.type == "cpu" and torch.is_autocast_enabled("cpu")


def locked_dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """Dropout with one mask per sequence, shared by all its time steps: x (B, T, C).

    Variational dropout (Gal & Ghahramani 2016; AWD-LSTM's LockedDropout, Merity et al. 2018):
    a unit dropped in a sequence stays dropped at every step of it, instead of a fresh mask per
    step as `F.dropout` draws.
    """
    if not training or p == 0:
        return x
    keep = 1.0 - p
    return x * (torch.bernoulli(x.new_full((x.size(0), 1, x.size(2)), keep)) / keep)


def _reverse_padded(seq: Tensor, index: Tensor) -> Tensor:
    """Reverse each sequence within its own length: seq (B, T, C), index (B, T) -> (B, T, C)."""
    return seq.gather(1, index.unsqueeze(2).expand(-1, -1, seq.size(2)))


def _real_steps(lengths: Tensor, T: int) -> tuple[Tensor, Tensor]:
    """lengths (B,) -> the (B, T) mask of real steps and the (B, T) index reversing them.

    Reversing only the real part of each row keeps padding at the end, so the reverse
    direction starts at each sequence's own last real token (as packed sequences do).
    """
    steps = torch.arange(T, device=lengths.device)
    mask = padding_mask(lengths, T)  # (B, T): True at real steps
    return mask, torch.where(mask, lengths[:, None] - 1 - steps, steps)


class _Recurrent(nn.Module):
    """Shared code of RNN, LSTM and GRU; subclasses name the cell and the fused kernel."""

    cell_class: type[nn.Module]
    kernel: Any  # torch._VF function with torch.nn.RNNBase's argument order
    has_cell_state = False  # True for the LSTM, whose state is (h, c)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        backend: str = "scratch",
        batch_first: bool = True,
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        locked: bool = False,
    ) -> None:
        super().__init__()
        if input_size < 1 or hidden_size < 1 or num_layers < 1:
            raise ValueError(
                f"input_size, hidden_size and num_layers must be >= 1, got "
                f"{input_size}, {hidden_size}, {num_layers}"
            )
        rates = (
            ("dropout", dropout), ("recurrent_dropout", recurrent_dropout),
            ("weight_drop", weight_drop),
        )  # fmt: skip
        for name, p in rates:
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {p}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bidirectional, self.batch_first = bidirectional, batch_first
        self.dropout, self.recurrent_dropout = dropout, recurrent_dropout
        self.weight_drop = weight_drop
        self.locked = locked  # dropout between layers: one mask per sequence (locked_dropout)
        self.num_directions = 2 if bidirectional else 1
        self.output_size = self.num_directions * hidden_size
        self.backend = backend  # validated by the setter below
        # cells[layer * num_directions + direction], the order of torch.nn's h_n (layers*dirs, B, H)
        self.cells = nn.ModuleList(
            self.cell_class(input_size if layer == 0 else self.output_size, hidden_size)
            for layer in range(num_layers)
            for _ in range(self.num_directions)
        )
        # The fused kernels add two biases (b_ih + b_hh); one bias per gate means b_hh = 0.
        # Not persistent: it is no parameter and stays out of the state_dict.
        zero = torch.zeros(self.cell_class.num_gates * hidden_size)
        self.register_buffer("zero_bias", zero, persistent=False)

    @property
    def backend(self) -> str:
        """Which implementation runs: "scratch" (Python loop over cells) or "fused" (one kernel)."""
        return self._backend

    @backend.setter
    def backend(self, value: str) -> None:
        if value not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {value!r}")
        if value == "fused" and self.recurrent_dropout > 0:
            # torch's fused kernels have no recurrent dropout; refuse rather than silently drop it.
            raise ValueError(
                "recurrent_dropout > 0 needs backend='scratch' (the fused kernel has none); "
                "for inference build a fused layer with recurrent_dropout=0 and load the state_dict"
            )
        if value == "scratch" and self.weight_drop > 0:
            raise ValueError(
                "weight_drop > 0 needs backend='fused' (the scratch cells use their own weights); "
                "for inference build a scratch layer with weight_drop=0 and load the state_dict"
            )
        self._backend = value

    def extra_repr(self) -> str:
        """Show the configuration in print(model)."""
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"bidirectional={self.bidirectional}, dropout={self.dropout}, "
            f"recurrent_dropout={self.recurrent_dropout}, weight_drop={self.weight_drop}, "
            f"locked={self.locked}, "
            f"backend={self.backend!r}"
        )

    # ---- checks -------------------------------------------------------------------------
    def _check_inputs(self, inputs: Tensor, lengths: Tensor | None) -> Tensor | None:
        """Validate inputs (B, T, C) and lengths (B,); return lengths as a long tensor."""
        layout = "(B, T, C)" if self.batch_first else "(T, B, C)"
        if not isinstance(inputs, Tensor) or inputs.dim() != 3 or not inputs.is_floating_point():
            got = f"{tuple(inputs.shape)} {inputs.dtype}" if isinstance(inputs, Tensor) else inputs
            raise ValueError(
                f"inputs must be a float tensor of shape {layout} with C={self.input_size}, "
                f"got {got}"
            )
        if inputs.size(2) != self.input_size:
            raise ValueError(
                f"inputs must have shape {layout} with C={self.input_size}, "
                f"got {tuple(inputs.shape)}"
            )
        if lengths is None:
            return None
        lengths = torch.as_tensor(lengths)
        B, T = (inputs.size(0), inputs.size(1)) if self.batch_first else inputs.shape[1::-1]
        if lengths.dim() != 1 or lengths.size(0) != B or lengths.is_floating_point():
            raise ValueError(
                f"lengths must be an integer tensor of shape (B,)=({B},), got "
                f"{tuple(lengths.shape)} {lengths.dtype}"
            )
        lo, hi = int(lengths.min()), int(lengths.max())
        if lo < 1 or hi > T:
            raise ValueError(f"lengths must lie in [1, T={T}], got values in [{lo}, {hi}]")
        # No padding at all: skip packing, which costs the fused CPU kernel several times more.
        return None if lo == T else lengths.long()

    def _initial_state(self, state: State | None, inputs: Tensor) -> tuple[Tensor, ...]:
        """Zeros or the given state, as a tuple of (layers*dirs, B, H) tensors."""
        shape = (self.num_layers * self.num_directions, inputs.size(0), self.hidden_size)
        n = 2 if self.has_cell_state else 1
        if state is None:
            zeros = inputs.new_zeros(shape)
            return (zeros,) * n
        parts = tuple(state) if self.has_cell_state else (state,)
        what = "state (h, c)" if self.has_cell_state else "state h"
        if len(parts) != n or any(not isinstance(s, Tensor) or s.shape != shape for s in parts):
            got = [tuple(s.shape) if isinstance(s, Tensor) else type(s).__name__ for s in parts]
            raise ValueError(
                f"{what} must be {n} tensor(s) of shape (layers*dirs, B, H)={shape}, got {got}"
            )
        return parts

    # ---- forward ------------------------------------------------------------------------
    def forward(
        self, inputs: Tensor, state: State | None = None, lengths: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """inputs (B, T, C), lengths (B,) -> outputs (B, T, dirs*H), state (layers*dirs, B, H).

        Outputs at padded positions (t >= lengths[b]) are zero, and the final state is the state
        at each sequence's last real step; the reverse direction starts at that step.
        """
        lengths = self._check_inputs(inputs, lengths)
        if not self.batch_first:
            inputs = inputs.transpose(0, 1)  # (T, B, C) -> (B, T, C)
        hx = self._initial_state(state, inputs)
        if self.backend == "fused" and _fp32_kernels(inputs):
            with torch.autocast("cpu", enabled=False):
                hx = tuple(h.float() for h in hx)
                outputs, hx = self._forward_fused(inputs.float(), hx, lengths)
        elif self.backend == "fused":
            outputs, hx = self._forward_fused(inputs, hx, lengths)
        else:
            outputs, hx = self._forward_scratch(inputs, hx, lengths)
        if not self.batch_first:
            outputs = outputs.transpose(0, 1)
        return outputs, (hx if self.has_cell_state else hx[0])

    def outputs(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        """The outputs of `forward(inputs, lengths=lengths)` from a zero state, without the state.

        Classifiers pool over outputs and need no final state. The fused backend then avoids
        torch's packed-sequence kernels, which run several times slower on CPU: each direction
        runs unpacked, the reverse one over every row reversed within its own length. Padding
        then only ever follows the real steps of a causal pass, so real outputs are exact.
        """
        checked = self._check_inputs(inputs, lengths)
        if self.backend != "fused" or checked is None:
            return self.forward(inputs, lengths=lengths)[0]
        if _fp32_kernels(inputs):
            with torch.autocast("cpu", enabled=False):
                return self.outputs(inputs.float(), lengths)
        x = inputs if self.batch_first else inputs.transpose(0, 1)  # (B, T, C)
        B, T, _ = x.shape
        mask, reverse_index = _real_steps(checked.to(x.device), T)  # (B, T), (B, T)
        h0 = x.new_zeros(1, B, self.hidden_size)
        h0 = (h0, h0) if self.has_cell_state else h0
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                cell = self.cells[layer * self.num_directions + direction]
                seq = layer_input if direction == 0 else _reverse_padded(layer_input, reverse_index)
                weights = self._kernel_weights([cell])
                out = self.kernel(seq, h0, weights, True, 1, 0.0, self.training, False, True)[0]
                outputs.append(out if direction == 0 else _reverse_padded(out, reverse_index))
            layer_input = torch.cat(outputs, dim=2)  # (B, T, dirs*H)
            if layer < self.num_layers - 1:
                layer_input = self._between_layers(layer_input)
        outputs = layer_input * mask.unsqueeze(2)  # zero at padded steps, as forward()
        return outputs if self.batch_first else outputs.transpose(0, 1)

    def _forward_fused(
        self, x: Tensor, hx: tuple[Tensor, ...], lengths: Tensor | None
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """Run torch.nn.RNN/LSTM/GRU's kernel on our own parameters (no copy, one C++ call; with
        locked dropout while training, one call per layer and the masks drawn between them)."""
        if not (self.locked and self.training and self.dropout > 0 and self.num_layers > 1):
            return self._run_kernel(x, hx, lengths, self.cells, self.num_layers, self.dropout)
        D, finals = self.num_directions, []
        for layer in range(self.num_layers):
            if layer > 0:
                x = self._between_layers(x)
            cells = self.cells[layer * D : (layer + 1) * D]
            state = tuple(h[layer * D : (layer + 1) * D] for h in hx)
            x, final = self._run_kernel(x, state, lengths, cells, 1, 0.0)
            finals.append(final)
        return x, tuple(torch.cat(parts) for parts in zip(*finals, strict=True))

    def _run_kernel(
        self, x: Tensor, hx: tuple[Tensor, ...], lengths: Tensor | None, cells: Any,
        num_layers: int, dropout: float,
    ) -> tuple[Tensor, tuple[Tensor, ...]]:  # fmt: skip
        """One kernel call over `num_layers` layers of `cells` (dropout between them)."""
        # torch.nn.RNNBase's flat-weight order: per layer, per direction, w_ih, w_hh, b_ih, b_hh.
        weights = self._kernel_weights(cells)
        args = (True, num_layers, dropout, self.training, self.bidirectional)
        if lengths is None:
            h0 = hx if self.has_cell_state else hx[0]
            result = self.kernel(x, h0, weights, *args, True)  # batch_first=True
            return result[0], tuple(result[1:])
        # Packing skips padded steps, so they never touch the state (as torch.nn.LSTM does).
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        hx = tuple(h.index_select(1, packed.sorted_indices) for h in hx)
        h0 = hx if self.has_cell_state else hx[0]
        result = self.kernel(packed.data, packed.batch_sizes, h0, weights, *args)
        out = PackedSequence(
            result[0], packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices
        )
        outputs, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
        return outputs, tuple(h.index_select(1, packed.unsorted_indices) for h in result[1:])

    def _between_layers(self, x: Tensor) -> Tensor:
        """Dropout on a layer's outputs (B, T, C) before the next layer."""
        if self.locked:
            return locked_dropout(x, self.dropout, self.training)
        return F.dropout(x, self.dropout, self.training) if self.dropout > 0 else x

    def _kernel_weights(self, cells: Any) -> list[Tensor]:
        """The fused kernel's weights of `cells`, each (w_ih, w_hh, b_ih, b_hh). With
        `weight_drop` while training, w_hh is DropConnect-ed (Wan et al. 2013; AWD-LSTM's weight
        drop, Merity et al. 2018): one mask per call, shared by every time step of the window."""
        weights = []
        for cell in cells:
            w_ih, w_hh, b_ih, b_hh = cell.fused_weights(self.zero_bias)
            if self.weight_drop > 0 and self.training:
                w_hh = F.dropout(w_hh, self.weight_drop)
            weights += [w_ih, w_hh, b_ih, b_hh]
        return weights

    def _forward_scratch(
        self, x: Tensor, hx: tuple[Tensor, ...], lengths: Tensor | None
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """Loop over layers, directions and time steps with the hand-written cells."""
        B, T, _ = x.shape
        if lengths is None:
            lengths = torch.full((B,), T, dtype=torch.long, device=x.device)
        mask, reverse_index = _real_steps(lengths.to(x.device), T)  # (B, T), (B, T)
        layer_input, finals = x, []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                seq = layer_input if direction == 0 else _reverse_padded(layer_input, reverse_index)
                out, final = self._run_cell(self.cells[k], seq, tuple(h[k] for h in hx), mask)
                outputs.append(out if direction == 0 else _reverse_padded(out, reverse_index))
                finals.append(final)
            layer_input = torch.cat(outputs, dim=2)  # (B, T, dirs*H)
            if layer < self.num_layers - 1:  # not after the last (as torch.nn.LSTM)
                layer_input = self._between_layers(layer_input)
        state = tuple(torch.stack(parts) for parts in zip(*finals, strict=True))
        return layer_input, state

    def _run_cell(
        self, cell: nn.Module, seq: Tensor, state: tuple[Tensor, ...], mask: Tensor
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """seq (B, T, C), state tuple of (B, H), mask (B, T) -> outputs (B, T, H), final state."""
        B, T, _ = seq.shape
        recurrent_mask = None
        if self.recurrent_dropout > 0 and self.training:
            # Variational dropout (Gal & Ghahramani 2016; Keras' recurrent_dropout): one mask per
            # sequence, reused at every step, on the state that feeds the recurrent weights U.
            keep = 1.0 - self.recurrent_dropout
            recurrent_mask = torch.bernoulli(seq.new_full((B, self.hidden_size), keep)) / keep
        outputs = []
        for t in range(T):
            prev = state if self.has_cell_state else state[0]
            new = cell(seq[:, t], prev, recurrent_mask)
            new = new if self.has_cell_state else (new,)
            real = mask[:, t].unsqueeze(1)  # (B, 1)
            # Past a sequence's end the state is carried unchanged and the output is zero.
            state = tuple(torch.where(real, n, s) for n, s in zip(new, state, strict=True))
            outputs.append(new[0] * real)
        return torch.stack(outputs, dim=1), state


class RNN(_Recurrent):
    """Elman RNN layer with tanh (Goodfellow et al. §10.2); scratch or fused backend."""

    cell_class = RNNCell
    kernel = _VF.rnn_tanh


class LSTM(_Recurrent):
    """LSTM layer (Hochreiter & Schmidhuber 1997); state is (h, c); scratch or fused backend."""

    cell_class = LSTMCell
    kernel = _VF.lstm
    has_cell_state = True


class GRU(_Recurrent):
    """GRU layer (Cho et al. 2014, reset-after form as torch.nn.GRU); scratch or fused backend."""

    cell_class = GRUCell
    kernel = _VF.gru
