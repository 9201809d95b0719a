"""The simple recurrent network of Goodfellow et al. (2016), §10.2, eqs. 10.8-10.11, in NumPy.

    a_t = b + W h_{t-1} + U x_t        (rnn_unit)
    h_t = tanh(a_t)                    (activation)
    o_t = c + V h_t                    (output_rnn)
    ŷ_t = softmax(o_t)

Shapes: input size C, hidden size n, output size K; W (n, n), U (n, C), V (K, n), b (n,), c (K,).
Vectors may also be R-style column matrices ((n, 1)), as in the course's `rnn_example`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from seqlab.reference._checks import as_float, matrix, token_labels, vector
from seqlab.reference.attention import softmax


class RNNParams(NamedTuple):
    """The RNN's parameters as checked float arrays (vectors flattened to 1-D)."""

    W: np.ndarray  # (n, n)
    U: np.ndarray  # (n, C)
    V: np.ndarray  # (K, n)
    b: np.ndarray  # (n,)
    c: np.ndarray  # (K,)


class RNNOutput(NamedTuple):
    """Hidden states h_t and softmax outputs ŷ_t of an RNN layer, one row per input row."""

    h: np.ndarray  # (T, n)
    y_hat: np.ndarray  # (T, K)
    tokens: tuple[str, ...] | None = None


def square(name: str, W: np.ndarray) -> np.ndarray:
    """W as a float (n, n) matrix, or a ValueError naming the expected shape."""
    W = matrix(name, W, "(n, n)")
    if W.shape[1] != W.shape[0]:
        raise ValueError(f"{name} must be square with shape (n, n), got shape {W.shape}")
    return W


def _check_recurrence(
    W: np.ndarray, U: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """W (n, n), U (n, C) and b (n,) of eq. 10.8, checked against each other, as float arrays."""
    W = square("W", W)
    n = W.shape[0]
    return W, matrix("U", U, f"(n={n}, C)", rows=n), vector("b", b, f"(n={n},)", size=n)


def check_params(
    W: np.ndarray, V: np.ndarray, U: np.ndarray, b: np.ndarray, c: np.ndarray
) -> RNNParams:
    """Validate the shapes of W, V, U, b, c against each other; return them as float arrays."""
    W, U, b = _check_recurrence(W, U, b)
    V = matrix("V", V, f"(K, n={W.shape[0]})", cols=W.shape[0])
    c = vector("c", c, f"(K={V.shape[0]},)", size=V.shape[0])
    return RNNParams(W, U, V, b, c)


def rnn_unit(
    h_prev: np.ndarray, x_t: np.ndarray, W: np.ndarray, U: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """The activation input a_t = b + W h_{t-1} + U x_t (Goodfellow et al. eq. 10.8); shape (n,)."""
    W, U, b = _check_recurrence(W, U, b)
    n = W.shape[0]
    h_prev = vector("h_prev", h_prev, f"(n={n},)", size=n)
    x_t = vector("x_t", x_t, f"(C={U.shape[1]},)", size=U.shape[1])
    return b + W @ h_prev + U @ x_t


def activation(a: np.ndarray) -> np.ndarray:
    """tanh(a) = (e^a − e^−a) / (e^a + e^−a), elementwise, written from its definition."""
    a = as_float("a", a)
    # Dividing numerator and denominator by e^|a| gives sign(a)·(1 − e^−2|a|)/(1 + e^−2|a|): the
    # same function, but the exponent is never positive, so large |a| gives ±1 instead of inf/inf.
    e = np.exp(-2.0 * np.abs(a))
    return np.sign(a) * (1.0 - e) / (1.0 + e)


def output_rnn(h_t: np.ndarray, V: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The output logits o_t = c + V h_t (Goodfellow et al. eq. 10.10); shape (K,)."""
    V = matrix("V", V, "(K, n)")
    h_t = vector("h_t", h_t, f"(n={V.shape[1]},)", size=V.shape[1])
    c = vector("c", c, f"(K={V.shape[0]},)", size=V.shape[0])
    return c + V @ h_t


def rnn_layer(
    X: np.ndarray,
    W: np.ndarray,
    V: np.ndarray,
    U: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    h0: np.ndarray | None = None,
    tokens: Sequence[str] | None = None,
) -> RNNOutput:
    """Run the RNN over the rows of X (T, C) from h0 (zeros by default): h_t and ŷ_t per row."""
    W, U, V, b, c = check_params(W, V, U, b, c)
    n = W.shape[0]
    X = matrix("X", X, f"(T, C={U.shape[1]})", cols=U.shape[1])
    h_prev = np.zeros(n, dtype=X.dtype) if h0 is None else vector("h0", h0, f"(n={n},)", size=n)
    hs, ys = [], []
    for x_t in X:  # the recurrence is sequential: h_t needs h_{t-1}
        h_t = activation(rnn_unit(h_prev, x_t, W, U, b))
        hs.append(h_t)
        ys.append(softmax(output_rnn(h_t, V, c)))
        h_prev = h_t
    K = V.shape[0]
    h = np.stack(hs) if hs else np.zeros((0, n))  # (T, n)
    y_hat = np.stack(ys) if ys else np.zeros((0, K))  # (T, K)
    return RNNOutput(h, y_hat, token_labels(tokens, X.shape[0]))
