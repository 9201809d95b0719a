"""Back-propagation through time for the RNN of Goodfellow et al. §10.2, derived by hand.

The loss is the cross-entropy summed over time, L = −Σ_t log ŷ_t[y_t], for integer targets y_t.
The gradients follow Goodfellow et al. §10.2.2, eqs. 10.18-10.28; docs/reference.md derives them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from seqlab.reference._checks import matrix, vector
from seqlab.reference.rnn import check_params, rnn_layer


class RNNGradients(NamedTuple):
    """The loss and its gradients, each shaped like the argument it belongs to."""

    loss: float
    U: np.ndarray
    W: np.ndarray
    V: np.ndarray
    b: np.ndarray
    c: np.ndarray
    h0: np.ndarray


def rnn_backward(
    X: np.ndarray,
    targets: np.ndarray,
    W: np.ndarray,
    V: np.ndarray,
    U: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    h0: np.ndarray | None = None,
) -> RNNGradients:
    """Loss −Σ_t log ŷ_t[targets_t] of `rnn_layer(X, …)` and its gradients by BPTT (no autograd)."""
    P = check_params(W, V, U, b, c)
    n, K = P.W.shape[0], P.V.shape[0]
    X = matrix("X", X, f"(T, C={P.U.shape[1]})", cols=P.U.shape[1])
    T = X.shape[0]
    h_start = np.zeros(n) if h0 is None else vector("h0", h0, f"(n={n},)", size=n)
    y = np.asarray(targets)
    if y.shape != (T,) or y.dtype.kind not in "iu" or (T and (y.min() < 0 or y.max() >= K)):
        raise ValueError(
            f"targets must be integers in [0, K={K}) with shape (T={T},), got {y.dtype} {y.shape}"
        )

    h, y_hat, _ = rnn_layer(X, P.W, P.V, P.U, P.b, P.c, h0=h_start)  # (T, n), (T, K)
    t_idx = np.arange(T)
    loss = float(-np.sum(np.log(y_hat[t_idx, y])))

    # eq. 10.18: ∂L/∂o_t = ŷ_t − onehot(y_t)  (softmax followed by cross-entropy).
    d_o = y_hat.copy()  # (T, K)
    d_o[t_idx, y] -= 1.0

    h_prev = np.vstack([h_start[None, :], h[:-1]])  # (T, n): h_{t-1} for every t
    d_h = np.zeros((T, n))  # ∂L/∂h_t
    d_a = np.zeros((T, n))  # ∂L/∂a_t = diag(1 − h_t²) ∂L/∂h_t, as tanh'(a) = 1 − tanh(a)²
    # eqs. 10.19-10.21, walking backwards in time: h_t reaches L through o_t and through
    # a_{t+1} = b + W h_t + U x_{t+1}; at t = T only the first path exists.
    for t in reversed(range(T)):
        d_h[t] = P.V.T @ d_o[t]
        if t + 1 < T:
            d_h[t] += P.W.T @ d_a[t + 1]
        d_a[t] = (1.0 - h[t] ** 2) * d_h[t]

    # eqs. 10.22-10.28: each parameter is shared across time, so its gradient sums over t.
    d_c = d_o.sum(axis=0)
    d_b = d_a.sum(axis=0)
    d_V = d_o.T @ h  # Σ_t ∂L/∂o_t h_tᵀ        (K, n)
    d_W = d_a.T @ h_prev  # Σ_t ∂L/∂a_t h_{t-1}ᵀ  (n, n)
    d_U = d_a.T @ X  # Σ_t ∂L/∂a_t x_tᵀ        (n, C)
    d_h0 = P.W.T @ d_a[0] if T else np.zeros(n)  # h0 reaches L only through a_1

    def like(grad: np.ndarray, arg: np.ndarray | None) -> np.ndarray:
        # Shape each gradient like its argument, so R's (n, 1) column vectors get (n, 1) back.
        return grad if arg is None else grad.reshape(np.shape(arg))

    return RNNGradients(loss, d_U, d_W, d_V, like(d_b, b), like(d_c, c), like(d_h0, h0))
