"""Attention: scaled dot-product, multi-head (scratch and fused), and seq2seq alignment scores.

Masks follow `torch.nn.functional.scaled_dot_product_attention`: a boolean mask is True where a
query may attend to a key. `padding_mask(lengths, S)` gives (B, S) with True at real tokens;
`causal_mask(T)` gives (T, T) with True on and below the diagonal.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

BACKENDS = ("scratch", "fused")
SCORES = ("dot", "general", "additive", "cosine")


def padding_mask(lengths: Tensor, max_length: int | None = None) -> Tensor:
    """(B, S) bool mask, True at positions `< lengths[b]` (real tokens), False at padding.

    S is `max_length`, or the longest length when it is None. The one length mask of seqlab:
    models (`seqlab.models.common.length_mask`) and batches use it too."""
    if lengths.dim() != 1:
        raise ValueError(f"lengths must have shape (B,), got {tuple(lengths.shape)}")
    S = int(lengths.max()) if max_length is None else max_length
    positions = torch.arange(S, device=lengths.device)
    return positions[None, :] < lengths[:, None]  # (B, S)


def causal_mask(T: int, device: torch.device | None = None) -> Tensor:
    """(T, T) bool mask, True where key position <= query position (no peeking ahead)."""
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, dropout_p: float = 0.0
) -> tuple[Tensor, Tensor]:
    """softmax(q k^T / sqrt(D)) v, Vaswani et al. (2017) eq. 1; returns (output, weights).

    q (..., T, D), k (..., S, D), v (..., S, Dv); mask broadcastable to (..., T, S), True = attend.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (..., T, S)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ v, weights  # (..., T, Dv), (..., T, S)


def _combine_masks(
    key_mask: Tensor | None, causal: bool, T: int, S: int, device: torch.device
) -> Tensor | None:
    """One (B or 1, 1, T, S) boolean mask from a (B, S) key mask and/or the causal rule."""
    mask = None
    if key_mask is not None:
        if key_mask.dim() != 2 or key_mask.size(1) != S:
            raise ValueError(f"key_mask must have shape (B, S={S}), got {tuple(key_mask.shape)}")
        mask = key_mask[:, None, None, :]  # (B, 1, 1, S)
    if causal:
        # Query i sits at position S - T + i (after S - T cached keys) and sees keys up to there.
        tri = torch.ones(T, S, dtype=torch.bool, device=device).tril(S - T)[None, None]
        mask = tri if mask is None else mask & tri
    return mask


class KVCache:
    """Keys and values of earlier positions, one (k, v) pair per attention layer, for decoding.

    Each self-attention layer appends the keys and values of its new positions and attends over
    all of them, so generating token t costs O(t) instead of re-running the whole prefix
    (O(t^2)). The cache is updated in place, as Hugging Face's `DynamicCache` is.
    """

    def __init__(self, num_layers: int) -> None:
        self.layers: list[tuple[Tensor, Tensor] | None] = [None] * num_layers

    def __len__(self) -> int:
        """Number of cached positions."""
        first = self.layers[0]
        return 0 if first is None else first[0].size(2)

    def append(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Add k, v (B, H, T, D) of new positions to `layer`; return all of them (B, H, S, D)."""
        past = self.layers[layer]
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        self.layers[layer] = (k, v)
        return k, v

    def select(self, index: Tensor) -> None:
        """Keep batch rows `index` (B',), e.g. the surviving hypotheses of a beam search."""
        self.layers = [None if kv is None else (kv[0][index], kv[1][index]) for kv in self.layers]


class MultiHeadAttention(nn.Module):
    """Multi-head attention (Vaswani et al. 2017, §3.2.2) with projections Wq, Wk, Wv, Wo.

    `backend="scratch"` computes the heads with explicit matrix products; `backend="fused"` calls
    `F.scaled_dot_product_attention` on the same parameters, so the two are interchangeable.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        backend: str = "scratch",
    ) -> None:
        super().__init__()
        if embed_dim % num_heads != 0:
            raise ValueError(f"embed_dim={embed_dim} must be divisible by num_heads={num_heads}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = dropout
        self.backend = backend
        self.Wq = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.Wk = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.Wv = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.Wo = nn.Linear(embed_dim, embed_dim, bias=bias)

    def _split(self, x: Tensor) -> Tensor:
        B, T, C = x.shape
        return x.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)  # (B, H, T, D)

    def forward(
        self,
        query: Tensor,
        key: Tensor | None = None,
        value: Tensor | None = None,
        key_mask: Tensor | None = None,
        causal: bool = False,
        cache: KVCache | None = None,
        layer: int = 0,
    ) -> tuple[Tensor, Tensor | None]:
        """Attend from query (B, T, C) to key/value (B, S, C); returns (output (B, T, C), weights).

        key_mask (B, S) is True at real keys; `causal=True` forbids attending to later positions.
        With a `cache` (self-attention only), the new keys and values are appended to entry
        `layer` and the queries attend over every cached position too.
        Weights (B, H, T, S) are returned by the scratch backend only (the fused kernel keeps them).
        """
        key = query if key is None else key
        value = key if value is None else value
        if query.dim() != 3 or key.dim() != 3:
            raise ValueError(f"query/key must have shape (B, T, C), got {tuple(query.shape)}")
        B, T, C = query.shape
        q, k, v = (
            self._split(self.Wq(query)),
            self._split(self.Wk(key)),
            self._split(self.Wv(value)),
        )  # (B, H, T, D), (B, H, S, D), (B, H, S, D)
        if cache is not None:
            k, v = cache.append(layer, k, v)  # (B, H, past + S, D)
        S = k.size(2)
        p = self.dropout if self.training else 0.0
        if self.backend == "fused":
            # Plain causal attention (or one new query that may see everything cached) needs no
            # mask tensor: SDPA's own causal path is faster than a boolean mask.
            plain = key_mask is None and causal and (S == T or T == 1)
            mask = None if plain else _combine_masks(key_mask, causal, T, S, query.device)
            is_causal = plain and S == T and T > 1
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=p, is_causal=is_causal
            )
            weights = None
        else:
            mask = _combine_masks(key_mask, causal, T, S, query.device)
            out, weights = scaled_dot_product_attention(q, k, v, mask, p)
        out = out.transpose(1, 2).reshape(B, T, C)  # (B, T, H*D)
        return self.Wo(out), weights


class AttentionScore(nn.Module):
    """Alignment score(s_t, h_s) of decoder states and encoder outputs (Luong et al. 2015, §3.1).

    kind: "dot" s·h; "general" s·W h (Luong); "additive" v·tanh(W1 s + W2 h) (Bahdanau et al.
    2015, eq. 6); "cosine" s·h / (|s| |h|).
    """

    def __init__(self, kind: str, query_size: int, key_size: int) -> None:
        super().__init__()
        if kind not in SCORES:
            raise ValueError(f"attention score must be one of {SCORES}, got {kind!r}")
        if kind in ("dot", "cosine") and query_size != key_size:
            raise ValueError(
                f"{kind} score needs query_size == key_size, got {query_size}, {key_size}"
            )
        self.kind = kind
        if kind == "general":
            self.W = nn.Linear(key_size, query_size, bias=False)
        elif kind == "additive":
            self.W1 = nn.Linear(query_size, query_size, bias=False)
            self.W2 = nn.Linear(key_size, query_size, bias=True)
            self.v = nn.Linear(query_size, 1, bias=False)

    def forward(self, queries: Tensor, keys: Tensor) -> Tensor:
        """Scores (B, T, S) for queries (B, T, Hq) and keys (B, S, Hk)."""
        if self.kind == "dot":
            return queries @ keys.transpose(1, 2)
        if self.kind == "general":
            return queries @ self.W(keys).transpose(1, 2)
        if self.kind == "cosine":
            qn = F.normalize(queries, dim=-1)
            kn = F.normalize(keys, dim=-1)
            return qn @ kn.transpose(1, 2)
        # additive: broadcast (B, T, 1, Hq) + (B, 1, S, Hq)
        hidden = torch.tanh(self.W1(queries)[:, :, None, :] + self.W2(keys)[:, None, :, :])
        return self.v(hidden).squeeze(-1)  # (B, T, S)


class Seq2SeqAttention(nn.Module):
    """Encoder-decoder attention: weights = softmax(score), context = weights @ encoder outputs."""

    def __init__(self, score: str, query_size: int, key_size: int) -> None:
        super().__init__()
        self.score = AttentionScore(score, query_size, key_size)

    def forward(
        self, queries: Tensor, keys: Tensor, key_mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Context (B, T, Hk) and weights (B, T, S) for queries (B, T, Hq), keys (B, S, Hk)."""
        scores = self.score(queries, keys)  # (B, T, S)
        if key_mask is not None:
            scores = scores.masked_fill(~key_mask[:, None, :], float("-inf"))
        weights = scores.softmax(dim=-1)
        return weights @ keys, weights
