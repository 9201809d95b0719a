"""Scaled dot-product and multi-head self-attention in NumPy, named as in the uuml course.

Vaswani et al. (2017), "Attention Is All You Need", §3.2; the course follows Jay Alammar's
"The Illustrated Transformer". Rows are tokens: X is (T, C), one embedding per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from seqlab.reference._checks import as_float, matrix, token_labels


class QKV(NamedTuple):
    """Queries, keys and values of one attention head, one row per token."""

    Q: np.ndarray  # (T, D)
    K: np.ndarray  # (T, D)
    V: np.ndarray  # (T, Dv)
    tokens: tuple[str, ...] | None = None


class AttentionOutput(NamedTuple):
    """The attended values Z and the attention weights (row t: how token t weighs every key)."""

    Z: np.ndarray  # (T, Dv)
    attention: np.ndarray  # (T, T), rows sum to one
    tokens: tuple[str, ...] | None = None


class MultiHeadOutput(NamedTuple):
    """The multi-head output Z and each head's attention weights."""

    Z: np.ndarray  # (T, out_dim)
    attention: np.ndarray  # (H, T, T)
    tokens: tuple[str, ...] | None = None


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """exp(x) / sum(exp(x)) along `axis`, computed stably."""
    x = as_float("x", x)
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension, got a scalar")
    # softmax(x) = softmax(x - m) for any constant m; with m = max(x) every exponent is <= 0, so
    # exp never overflows and the largest term is exactly 1 (Goodfellow et al. §4.1).
    z = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return z / np.sum(z, axis=axis, keepdims=True)


def qkv(
    X: np.ndarray,
    Wq: np.ndarray,
    Wk: np.ndarray,
    Wv: np.ndarray,
    tokens: Sequence[str] | None = None,
) -> QKV:
    """Project the embeddings X (T, C) to queries, keys and values: Q = X Wq, K = X Wk, V = X Wv."""
    X = matrix("X", X, "(T, C)")
    C = X.shape[1]
    Wq = matrix("Wq", Wq, f"(C={C}, D)", rows=C)
    Wk = matrix("Wk", Wk, f"(C={C}, D={Wq.shape[1]})", rows=C, cols=Wq.shape[1])
    Wv = matrix("Wv", Wv, f"(C={C}, Dv)", rows=C)
    return QKV(X @ Wq, X @ Wk, X @ Wv, token_labels(tokens, X.shape[0]))


def attention(
    Q: np.ndarray,
    K: np.ndarray,
    V: np.ndarray,
    mask: np.ndarray | None = None,
    tokens: Sequence[str] | None = None,
) -> AttentionOutput:
    """Scaled dot-product attention: Z = softmax(Q Kᵀ / √d_k) V (Vaswani et al. 2017, eq. 1).

    `mask` is boolean (T_q, T_k), True where a query may attend to a key (as in torch's
    `scaled_dot_product_attention`); `tokens` label the rows (queries).
    """
    Q = matrix("Q", Q, "(T_q, D)")
    d_k = Q.shape[1]
    K = matrix("K", K, f"(T_k, D={d_k})", cols=d_k)
    V = matrix("V", V, f"(T_k={K.shape[0]}, Dv)", rows=K.shape[0])
    # Dividing by √d_k keeps the logits' variance near 1 when q and k have unit-variance entries,
    # so the softmax does not saturate as d_k grows (Vaswani et al. §3.2.1).
    scores = Q @ K.T / np.sqrt(d_k)  # (T_q, T_k)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != np.bool_ or mask.shape != scores.shape:
            raise ValueError(
                f"mask must be a boolean array of shape (T_q, T_k)={scores.shape}, "
                f"got {mask.dtype} {mask.shape}"
            )
        if not mask.any(axis=1).all():
            raise ValueError("mask must let every query attend to at least one key")
        scores = np.where(mask, scores, -np.inf)  # exp(-inf) = 0: masked keys get no weight
    weights = softmax(scores, axis=-1)  # (T_q, T_k)
    return AttentionOutput(weights @ V, weights, token_labels(tokens, Q.shape[0]))


def multi_head_self_attention(
    X: np.ndarray,
    Wq: np.ndarray,
    Wk: np.ndarray,
    Wv: np.ndarray,
    W0: np.ndarray,
    mask: np.ndarray | None = None,
    tokens: Sequence[str] | None = None,
) -> MultiHeadOutput:
    """Self-attention with H heads, the heads' outputs concatenated in order and projected by W0.

    Wq, Wk, Wv are (C, D, H) as in the course's R arrays (head h is `W[:, :, h]`), and W0 is
    (H·Dv, out_dim): MultiHead(X) = [Z_1, …, Z_H] W0 (Vaswani et al. §3.2.2).
    """
    X = matrix("X", X, "(T, C)")
    C = X.shape[1]
    weights = {}
    for name, W in (("Wq", Wq), ("Wk", Wk), ("Wv", Wv)):
        W = as_float(name, W)
        if W.ndim != 3 or W.shape[0] != C:
            raise ValueError(f"{name} must have shape (C={C}, D, H), got shape {W.shape}")
        weights[name] = W
    Wq, Wk, Wv = weights["Wq"], weights["Wk"], weights["Wv"]
    H = Wq.shape[2]
    if Wk.shape != Wq.shape or Wv.shape[2] != H:
        raise ValueError(
            f"Wk must have Wq's shape {Wq.shape} and Wv must have H={H} heads, "
            f"got Wk {Wk.shape}, Wv {Wv.shape}"
        )
    W0 = matrix("W0", W0, f"(H·Dv={H * Wv.shape[1]}, out_dim)", rows=H * Wv.shape[1])
    heads = []
    for h in range(H):
        q, k, v, _ = qkv(X, Wq[:, :, h], Wk[:, :, h], Wv[:, :, h])
        heads.append(attention(q, k, v, mask=mask))
    Z = np.concatenate([head.Z for head in heads], axis=1)  # (T, H·Dv), head 1 first
    A = np.stack([head.attention for head in heads])  # (H, T, T)
    return MultiHeadOutput(Z @ W0, A, token_labels(tokens, X.shape[0]))
