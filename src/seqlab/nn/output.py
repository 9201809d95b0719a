"""The output layer onto a vocabulary, fast for one-token decoding steps.

`VocabProjection` is an `nn.Linear` (same parameters, same checkpoints, weight tying works) whose
inference path multiplies by a cached, contiguous transpose of its weight. torch stores a linear
layer's weight as (V, C); for the few rows of a decoding step, `h @ W.T` with that layout runs a
strided matrix-vector product that on the CPUs measured here (AMD EPYC, MKL) is about 3x slower
than `h @ Wt` with Wt (C, V) contiguous: for WikiText-2's 28,784 words it is most of a cached
Transformer step (`benchmarks/lm_generate.py`). The copy costs V*C floats of memory. It is made
again after every `train()`/`eval()` switch and whenever the weight's storage, dtype or version
counter changes; training mode, autograd and autocast take the ordinary `F.linear`. (torch's
fused optimizers update weights without bumping the version counter, hence the mode switch: a
weight changed in place in eval mode by such an optimizer, or through `.data`, needs an
`invalidate()`.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class VocabProjection(nn.Linear):
    """`nn.Linear(in_features, vocab_size)` with a cached transposed weight for inference."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__(in_features, out_features, bias)
        self._transposed: Tensor | None = None
        self._key: tuple | None = None

    def invalidate(self) -> None:
        """Forget the cached transpose (made again on the next inference call)."""
        self._transposed, self._key = None, None

    def train(self, mode: bool = True) -> VocabProjection:
        """Switch mode (as nn.Module.train) and forget the cached transpose."""
        self.invalidate()
        return super().train(mode)

    def transposed_weight(self) -> Tensor:
        """The weight as a contiguous (in_features, out_features) tensor, made when it changed."""
        w = self.weight
        key = (w.data_ptr(), w._version, w.dtype, w.device, w.shape)
        if self._key != key:
            self._transposed = w.detach().t().contiguous()
            self._key = key
        return self._transposed

    def forward(self, x: Tensor) -> Tensor:
        """x (..., C) -> (..., V); the cached layout in eval mode without gradient or autocast."""
        if self.training or torch.is_grad_enabled() or torch.is_autocast_enabled(x.device.type):
            return F.linear(x, self.weight, self.bias)
        rows = x.reshape(-1, x.size(-1))
        wt = self.transposed_weight()
        out = rows @ wt if self.bias is None else torch.addmm(self.bias, rows, wt)
        return out.view(*x.shape[:-1], wt.size(1))
