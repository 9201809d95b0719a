"""Transformer parts (Vaswani et al. 2017): positional encodings, feed-forward, encoder, decoder.

Parameter names follow `torch.nn.TransformerEncoderLayer` where they can (linear1, linear2, norm1,
norm2, norm3) and seqlab's attention names inside (self_attn.Wq ...), so tests copy weights across.
All tensors are batch-first: (B, T, C).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from seqlab.nn.attention import KVCache, MultiHeadAttention


class SinusoidalPositionalEncoding(nn.Module):
    """Adds PE(pos, 2i) = sin(pos / 10000^(2i/C)), PE(pos, 2i+1) = cos(...) (§3.5), then dropout."""

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        position = torch.arange(max_len, dtype=torch.float32)[:, None]  # (T, 1)
        div = torch.exp(
            torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(1e4) / d_model)
        )
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div)
        pe[:, 1::2] = torch.cos(position * div[: d_model // 2])
        # A fixed table, not a parameter: non-persistent so checkpoints and counts exclude it.
        self.register_buffer("pe", pe, persistent=False)  # (T, C)

    def forward(self, x: Tensor, start: int = 0) -> Tensor:
        """x (B, T, C) -> x + PE[start:start+T], with dropout (`start` > 0 when decoding on)."""
        end = start + x.size(1)
        if end > self.pe.size(0):
            raise ValueError(f"position {end} exceeds the positional table ({self.pe.size(0)})")
        return self.dropout(x + self.pe[start:end])


class LearnedPositionalEncoding(nn.Module):
    """Adds a trained embedding of each position (as in BERT/GPT), then dropout."""

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.embedding = nn.Embedding(max_len, d_model)

    def forward(self, x: Tensor, start: int = 0) -> Tensor:
        """x (B, T, C) -> x + P[start:start+T], with dropout."""
        end = start + x.size(1)
        if end > self.embedding.num_embeddings:
            raise ValueError(
                f"position {end} exceeds max_len={self.embedding.num_embeddings} positions"
            )
        return self.dropout(x + self.embedding.weight[start:end])


def positional_encoding(kind: str, d_model: int, max_len: int, dropout: float) -> nn.Module:
    """Build a "sinusoidal" or "learned" positional encoding."""
    if kind == "sinusoidal":
        return SinusoidalPositionalEncoding(d_model, max_len, dropout)
    if kind == "learned":
        return LearnedPositionalEncoding(d_model, max_len, dropout)
    raise ValueError(f"positional encoding must be 'sinusoidal' or 'learned', got {kind!r}")


class FeedForward(nn.Module):
    """Position-wise feed-forward network FFN(x) = W2 dropout(ReLU(W1 x + b1)) + b2 (§3.3)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_ff)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(d_ff, d_model)

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, C) -> (B, T, C)."""
        return self.linear2(self.dropout(torch.relu(self.linear1(x))))


class TransformerEncoderLayer(nn.Module):
    """Self-attention and feed-forward sub-layers, each wrapped in residual + LayerNorm (§3.1).

    Post-norm (default) is Vaswani's LayerNorm(x + Sublayer(x)); `norm_first=True` is the pre-norm
    x + Sublayer(LayerNorm(x)) of Xiong et al. (2020), which trains deep stacks without warm-up.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.1,
        norm_first: bool = False,
        backend: str = "fused",
    ) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout, backend=backend)
        self.ffn = FeedForward(d_model, d_ff, dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def _sa(self, x: Tensor, key_mask: Tensor | None, causal: bool, cache, layer: int) -> Tensor:
        out = self.self_attn(x, key_mask=key_mask, causal=causal, cache=cache, layer=layer)[0]
        return self.dropout1(out)

    def forward(
        self,
        x: Tensor,
        key_mask: Tensor | None = None,
        causal: bool = False,
        cache: KVCache | None = None,
        layer: int = 0,
    ) -> Tensor:
        """x (B, T, C) -> (B, T, C); key_mask (B, T) True at real tokens; `cache` entry `layer`
        holds the keys/values of earlier positions (see `KVCache`)."""
        if self.norm_first:
            x = x + self._sa(self.norm1(x), key_mask, causal, cache, layer)
            return x + self.dropout2(self.ffn(self.norm2(x)))
        x = self.norm1(x + self._sa(x, key_mask, causal, cache, layer))
        return self.norm2(x + self.dropout2(self.ffn(x)))


class TransformerDecoderLayer(nn.Module):
    """Masked self-attention, cross-attention over the encoder memory, feed-forward (§3.1)."""

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.1,
        norm_first: bool = False,
        backend: str = "fused",
    ) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout, backend=backend)
        self.cross_attn = MultiHeadAttention(d_model, num_heads, dropout, backend=backend)
        self.ffn = FeedForward(d_model, d_ff, dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def _sa(self, x: Tensor, tgt_mask: Tensor | None, cache, layer: int) -> Tensor:
        out = self.self_attn(x, key_mask=tgt_mask, causal=True, cache=cache, layer=layer)[0]
        return self.dropout1(out)

    def _ca(self, x: Tensor, memory: Tensor, memory_mask: Tensor | None) -> Tensor:
        return self.dropout2(self.cross_attn(x, memory, memory, key_mask=memory_mask)[0])

    def forward(
        self,
        x: Tensor,
        memory: Tensor,
        memory_mask: Tensor | None = None,
        tgt_mask: Tensor | None = None,
        cache: KVCache | None = None,
        layer: int = 0,
    ) -> Tensor:
        """x (B, T, C), memory (B, S, C) -> (B, T, C); masks are (B, T)/(B, S), True = real.

        With a `cache`, x holds the positions after the cached ones (see `KVCache`)."""
        if self.norm_first:
            x = x + self._sa(self.norm1(x), tgt_mask, cache, layer)
            x = x + self._ca(self.norm2(x), memory, memory_mask)
            return x + self.dropout3(self.ffn(self.norm3(x)))
        x = self.norm1(x + self._sa(x, tgt_mask, cache, layer))
        x = self.norm2(x + self._ca(x, memory, memory_mask))
        return self.norm3(x + self.dropout3(self.ffn(x)))


class _LayerStack(nn.Module):
    """What the encoder and decoder stacks share: `num_layers` copies of `layer_class`, then a
    final LayerNorm for pre-norm stacks (whose residual stream is otherwise never normalised)."""

    layer_class: type[nn.Module]

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        num_layers: int,
        dropout: float = 0.1,
        norm_first: bool = False,
        backend: str = "fused",
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            self.layer_class(d_model, num_heads, d_ff, dropout, norm_first, backend)
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()


class TransformerEncoder(_LayerStack):
    """A stack of encoder layers; pre-norm stacks end with a final LayerNorm (as torch.nn does)."""

    layer_class = TransformerEncoderLayer

    def forward(
        self,
        x: Tensor,
        key_mask: Tensor | None = None,
        causal: bool = False,
        cache: KVCache | None = None,
    ) -> Tensor:
        """(B, T, C) -> (B, T, C); with a `cache`, x holds the positions after the cached ones."""
        for i, layer in enumerate(self.layers):
            x = layer(x, key_mask, causal, cache, i)
        return self.norm(x)


class TransformerDecoder(_LayerStack):
    """A stack of decoder layers; pre-norm stacks end with a final LayerNorm."""

    layer_class = TransformerDecoderLayer

    def forward(
        self,
        x: Tensor,
        memory: Tensor,
        memory_mask: Tensor | None = None,
        tgt_mask: Tensor | None = None,
        cache: KVCache | None = None,
    ) -> Tensor:
        """(B, T, C) over memory (B, S, C) -> (B, T, C); `cache` as in TransformerEncoder."""
        for i, layer in enumerate(self.layers):
            x = layer(x, memory, memory_mask, tgt_mask, cache, i)
        return self.norm(x)
