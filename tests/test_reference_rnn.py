"""The §10.2 RNN: forward against torch.nn.RNN, BPTT against finite differences and autograd."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.reference import activation, output_rnn, rnn_backward, rnn_layer, rnn_unit


def random_problem(seed, T, C, n, K):
    """Inputs, integer targets and parameters (W, V, U, b, c, h0) of a random RNN problem."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(T, C))
    y = rng.integers(0, K, size=T)
    params = {
        "W": rng.normal(scale=0.6, size=(n, n)),
        "V": rng.normal(size=(K, n)),
        "U": rng.normal(scale=0.6, size=(n, C)),
        "b": rng.normal(size=n),
        "c": rng.normal(size=K),
        "h0": rng.normal(scale=0.5, size=n),
    }
    return X, y, params


def test_activation_is_tanh_even_far_out():
    a = np.concatenate([np.linspace(-30, 30, 601), [-1000.0, 1000.0, 0.0]])
    np.testing.assert_allclose(activation(a), np.tanh(a), rtol=1e-14, atol=1e-16)
    assert activation(np.array([-1000.0, 1000.0])).tolist() == [-1.0, 1.0]


def test_rnn_layer_matches_torch_rnn():
    X, _, p = random_problem(0, T=6, C=5, n=4, K=3)
    rnn = torch.nn.RNN(5, 4, nonlinearity="tanh", batch_first=True).double()
    with torch.no_grad():  # torch: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
        rnn.weight_ih_l0.copy_(torch.from_numpy(p["U"]))
        rnn.weight_hh_l0.copy_(torch.from_numpy(p["W"]))
        rnn.bias_ih_l0.copy_(torch.from_numpy(p["b"]))
        rnn.bias_hh_l0.zero_()
        h, _ = rnn(torch.from_numpy(X)[None], torch.from_numpy(p["h0"])[None, None])
    y_hat = torch.softmax(h[0] @ torch.from_numpy(p["V"]).T + torch.from_numpy(p["c"]), dim=-1)
    out = rnn_layer(X, p["W"], p["V"], p["U"], p["b"], p["c"], h0=p["h0"], tokens=list("abcdef"))
    np.testing.assert_allclose(out.h, h[0].numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(out.y_hat, y_hat.numpy(), rtol=1e-12, atol=1e-14)
    assert out.tokens == tuple("abcdef")


def test_single_step_functions_accept_r_column_vectors():
    _, _, p = random_problem(1, T=1, C=3, n=2, K=2)
    x = np.arange(3.0)
    a = rnn_unit(np.zeros((2, 1)), x[None, :], p["W"], p["U"], p["b"][:, None])
    np.testing.assert_allclose(a, p["b"] + p["U"] @ x)
    np.testing.assert_allclose(output_rnn(a[:, None], p["V"], p["c"][:, None]), p["c"] + p["V"] @ a)


def loss_of(X, y, p):
    """The summed cross-entropy, recomputed from the forward pass alone."""
    y_hat = rnn_layer(X, p["W"], p["V"], p["U"], p["b"], p["c"], h0=p["h0"]).y_hat
    return -np.sum(np.log(y_hat[np.arange(len(y)), y]))


def rel_error(a, b):
    """|a - b| / (|a| + |b|), floored at 1e-4: central differences with eps 1e-5 carry about
    1e-11 of rounding noise (float64 loss ~1 / eps), so gradients below ~1e-5 are compared
    absolutely (to 1e-10) instead of relative to their own tiny size."""
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-4)


sizes = dict(
    T=st.integers(1, 5), C=st.integers(1, 4), n=st.integers(1, 5), K=st.integers(2, 4),
    seed=st.integers(0, 2**16),
)  # fmt: skip


@settings(max_examples=20, deadline=None)
@given(**sizes)
def test_rnn_backward_matches_central_differences(T, C, n, K, seed):
    X, y, p = random_problem(seed, T, C, n, K)
    grads = rnn_backward(X, y, **p)
    assert grads.loss == pytest.approx(loss_of(X, y, p), rel=1e-12)
    eps = 1e-5
    for name, value in p.items():
        numeric = np.zeros_like(value)
        for i in np.ndindex(value.shape):
            plus, minus = {**p, name: value.copy()}, {**p, name: value.copy()}
            plus[name][i] += eps
            minus[name][i] -= eps
            numeric[i] = (loss_of(X, y, plus) - loss_of(X, y, minus)) / (2 * eps)
        assert rel_error(getattr(grads, name), numeric) < 1e-6, name


@settings(max_examples=20, deadline=None)
@given(**sizes)
def test_rnn_backward_matches_torch_autograd(T, C, n, K, seed):
    X, y, p = random_problem(seed, T, C, n, K)
    t = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
    h, loss = t["h0"], torch.zeros((), dtype=torch.float64)
    for x_t, y_t in zip(torch.from_numpy(X), y, strict=True):
        h = torch.tanh(t["b"] + t["W"] @ h + t["U"] @ x_t)
        loss = loss - torch.log_softmax(t["c"] + t["V"] @ h, dim=0)[y_t]
    loss.backward()
    grads = rnn_backward(X, y, **p)
    assert grads.loss == pytest.approx(loss.item(), rel=1e-12)
    for name in p:
        np.testing.assert_allclose(
            getattr(grads, name), t[name].grad.numpy(), rtol=1e-9, atol=1e-12
        )


def test_rnn_backward_shapes_follow_the_arguments():
    X, y, p = random_problem(3, T=4, C=5, n=4, K=3)
    p = {**p, "b": p["b"][:, None], "c": p["c"][:, None]}  # R's (n, 1) column vectors
    grads = rnn_backward(X, y, **p)
    assert grads.b.shape == (4, 1) and grads.c.shape == (3, 1) and grads.U.shape == (4, 5)
    no_h0 = rnn_backward(X, y, **{k: v for k, v in p.items() if k != "h0"})
    assert no_h0.h0.shape == (4,)


@pytest.mark.parametrize(
    "change, name",
    [
        ({"W": np.ones((4, 3))}, "W"),
        ({"U": np.ones((3, 5))}, "U"),
        ({"V": np.ones((3, 5))}, "V"),
        ({"b": np.ones(5)}, "b"),
        ({"c": np.ones(4)}, "c"),
        ({"h0": np.ones(3)}, "h0"),
        ({"X": np.ones((4, 6))}, "X"),
        ({"targets": np.array([0, 1, 2, 3])}, "targets"),
        ({"targets": np.array([0.0, 1, 2, 0])}, "targets"),
        ({"targets": np.array([0, 1])}, "targets"),
    ],
)
def test_shape_errors_name_the_argument(change, name):
    X, y, p = random_problem(4, T=4, C=5, n=4, K=3)
    args = {"X": X, "targets": y, **p, **change}
    with pytest.raises(ValueError, match=rf"^{name} "):
        rnn_backward(**args)
    if name not in ("targets", "h0"):
        with pytest.raises(ValueError, match=rf"^{name} "):
            rnn_layer(**{k: v for k, v in args.items() if k != "targets"})
