"""The output layer onto a vocabulary, fast for one-token decoding steps.

`VocabProjection` is an `nn.Linear` (same parameters, same checkpoints, weight tying works). torch
stores a linear layer's weight as (V, C); for the few rows of a decoding step, `h @ W.T` with that
layout runs a strided matrix-vector product that on the CPUs measured here (AMD EPYC, MKL) is
about 3x slower than `h @ Wt` with Wt (C, V) contiguous: for WikiText-2's 28,784 words it is most
of a cached Transformer step (`benchmarks/lm_generate.py`).

Inside `with cached_projections(model):` each VocabProjection of the model multiplies by a
contiguous transpose of its weight, made on first use and dropped on exit (V * C floats while it
lives). On a CPU with several torch threads and at most `SPLIT_MAX_ROWS` rows (a decoding
step), MKL runs that product on one thread; the layer then cuts the vocabulary into one slice per
thread, multiplied as one batched product (`baddbmm`) whose slices run in parallel: 2x faster at
2 threads for 3 rows of 200 x 28,784 (`benchmarks/lm_generate.py`). Each output is the same dot
product as without the cut (bit for bit in that case; other kernels may round differently).

The decoding loops of `seqlab.decoding` wrap themselves in the block: weights cannot change
during a decode, so the copy is never stale. Everywhere else (training, evaluation, autograd,
autocast) the layer is a plain `F.linear`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SPLIT_MAX_ROWS = 64  # measured on 2 threads: the split product is faster up to 256 rows


class VocabProjection(nn.Linear):
    """`nn.Linear(in_features, vocab_size)` that can multiply by a cached transposed weight."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__(in_features, out_features, bias)
        self._use_cache = False
        self._transposed: Tensor | None = None
        self._split: tuple[Tensor, Tensor | None] | None = None  # (k, C, V/k) and (k, 1, V/k)

    def forward(self, x: Tensor) -> Tensor:
        """x (..., C) -> (..., V); the cached layout inside `cached_projections` without
        autograd or autocast."""
        if (
            not self._use_cache
            or torch.is_grad_enabled()
            or torch.is_autocast_enabled(x.device.type)
        ):
            return F.linear(x, self.weight, self.bias)
        rows = x.reshape(-1, x.size(-1))
        threads = torch.get_num_threads()
        if threads > 1 and rows.size(0) <= SPLIT_MAX_ROWS and x.device.type == "cpu":
            out = self._split_product(rows, threads)
        else:
            if self._transposed is None:
                self._transposed = self.weight.detach().t().contiguous()
            wt = self._transposed
            out = rows @ wt if self.bias is None else torch.addmm(self.bias, rows, wt)
        return out.view(*x.shape[:-1], self.out_features)

    def _split_product(self, rows: Tensor, k: int) -> Tensor:
        """rows (R, C) -> (R, V), the vocabulary cut into k slices multiplied in parallel."""
        V, C = self.weight.shape
        n = -(-V // k)  # slice width; the last slice is padded with zero columns
        if self._split is None or self._split[0].size(0) != k:
            w = F.pad(self.weight.detach().t(), (0, k * n - V))  # (C, k * n)
            wk = w.view(C, k, n).permute(1, 0, 2).contiguous()  # (k, C, n)
            bias = self.bias
            bk = None if bias is None else F.pad(bias.detach(), (0, k * n - V)).view(k, 1, n)
            self._split = (wk, bk)
        wk, bk = self._split
        stacked = rows.expand(k, *rows.shape)  # (k, R, C), no copy
        out = torch.bmm(stacked, wk) if bk is None else torch.baddbmm(bk, stacked, wk)
        out = out.permute(1, 0, 2).reshape(rows.size(0), k * n)  # (R, k * n)
        return out[:, :V].contiguous() if k * n != V else out


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
                m._use_cache, m._transposed, m._split = False, None, None
