"""The output layer onto a vocabulary, fast for one-token decoding steps.

`VocabProjection` is an `nn.Linear` (same parameters, same checkpoints, weight tying works). torch
stores a linear layer's weight as (V, C); for the few rows of a decoding step, `h @ W.T` with that
layout runs a strided matrix-vector product that on the CPUs measured here (AMD EPYC, MKL) is
about 3x slower than `h @ Wt` with Wt (C, V) contiguous: for WikiText-2's 28,784 words it is most
of a cached Transformer step (`benchmarks/lm_generate.py`).

Inside `with cached_projections(model):` each VocabProjection of the model multiplies by a
contiguous transpose of its weight, made on first use and dropped on exit (V * C floats while it
lives). The decoding loops of `seqlab.decoding` wrap themselves in it: weights cannot change
during a decode, so the copy is never stale. Everywhere else (training, evaluation, autograd,
autocast) the layer is a plain `F.linear`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class VocabProjection(nn.Linear):
    """`nn.Linear(in_features, vocab_size)` that can multiply by a cached transposed weight."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__(in_features, out_features, bias)
        self._use_cache = False
        self._transposed: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        """x (..., C) -> (..., V); the cached layout inside `cached_projections` without
        autograd or autocast."""
        if (
            not self._use_cache
            or torch.is_grad_enabled()
            or torch.is_autocast_enabled(x.device.type)
        ):
            return F.linear(x, self.weight, self.bias)
        if self._transposed is None:
            self._transposed = self.weight.detach().t().contiguous()
        rows = x.reshape(-1, x.size(-1))
        wt = self._transposed
        out = rows @ wt if self.bias is None else torch.addmm(self.bias, rows, wt)
        return out.view(*x.shape[:-1], wt.size(1))


@contextmanager
def cached_projections(model: nn.Module) -> Iterator[None]:
    """Within the block, the model's VocabProjections use a transposed copy of their weights
    (see the module docstring); the weights must not change inside it."""
    layers = [m for m in model.modules() if isinstance(m, VocabProjection)]
    outer = [m._use_cache for m in layers]  # nested blocks leave the outer one's cache alone
    for m in layers:
        m._use_cache = True
    try:
        yield
    finally:
        for m, keep in zip(layers, outer, strict=True):
            if not keep:
                m._use_cache, m._transposed = False, None
