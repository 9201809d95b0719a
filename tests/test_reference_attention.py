"""seqlab.reference attention against torch (F.softmax, F.scaled_dot_product_attention)."""

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.reference import attention, multi_head_self_attention, qkv, softmax


def test_softmax_exact_at_extreme_logits():
    assert softmax(np.array([1000.0, -1000.0])).tolist() == [1.0, 0.0]
    assert softmax(np.array([1000.0, 1000.0])).tolist() == [0.5, 0.5]
    assert softmax(np.array([-1000.0, -1000.0, -1000.0, -1000.0])).tolist() == [0.25] * 4
    out = softmax(np.array([[1000.0, 0.0, -1000.0], [-1000.0, -999.0, -1000.0]]))
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[1], F.softmax(torch.tensor([-1.0, 0.0, -1.0]), 0), rtol=1e-7)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_matches_torch(axis):
    x = np.random.default_rng(0).normal(size=(3, 4, 5)) * 5
    expected = torch.softmax(torch.from_numpy(x), dim=axis).numpy()
    np.testing.assert_allclose(softmax(x, axis=axis), expected, rtol=1e-12, atol=1e-15)


@settings(max_examples=25, deadline=None)
@given(
    t_q=st.integers(1, 5),
    t_k=st.integers(1, 5),
    d=st.integers(1, 6),
    d_v=st.integers(1, 4),
    masked=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_attention_matches_torch_sdpa(t_q, t_k, d, d_v, masked, seed):
    rng = np.random.default_rng(seed)
    Q, K, V = rng.normal(size=(t_q, d)), rng.normal(size=(t_k, d)), rng.normal(size=(t_k, d_v))
    mask = rng.random((t_q, t_k)) < 0.6 if masked else None
    if mask is not None:
        mask[:, 0] = True  # every query keeps at least one key
    out = attention(Q, K, V, mask=mask)
    tm = None if mask is None else torch.from_numpy(mask)
    Z = F.scaled_dot_product_attention(*map(torch.from_numpy, (Q, K, V)), attn_mask=tm)
    np.testing.assert_allclose(out.Z, Z.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out.attention.sum(axis=1), 1.0, rtol=1e-12)
    if mask is not None:
        assert (out.attention[~mask] == 0).all()


def test_multi_head_matches_torch_heads_as_batch():
    # Independent route: all heads at once as a batch dimension of torch's SDPA.
    rng = np.random.default_rng(1)
    T, C, D, H, out_dim = 6, 5, 3, 4, 7
    X = rng.normal(size=(T, C))
    Wq, Wk, Wv = (rng.normal(size=(C, D, H)) for _ in range(3))
    W0 = rng.normal(size=(H * D, out_dim))
    tX = torch.from_numpy(X)
    q, k, v = (torch.einsum("tc,cdh->htd", tX, torch.from_numpy(W)) for W in (Wq, Wk, Wv))
    Z = F.scaled_dot_product_attention(q, k, v)  # (H, T, D)
    expected = Z.permute(1, 0, 2).reshape(T, H * D) @ torch.from_numpy(W0)  # heads in order
    out = multi_head_self_attention(X, Wq, Wk, Wv, W0)
    np.testing.assert_allclose(out.Z, expected.numpy(), rtol=1e-10, atol=1e-12)
    assert out.attention.shape == (H, T, T)


def test_tokens_label_rows_and_stay_optional():
    rng = np.random.default_rng(2)
    X, W = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    res = qkv(X, W, W, W, tokens=["the", "quick", "brown"])
    assert res.tokens == ("the", "quick", "brown")
    assert qkv(X, W, W, W).tokens is None
    assert attention(res.Q, res.K, res.V, tokens=res.tokens).tokens == res.tokens
    with pytest.raises(ValueError, match="tokens"):
        qkv(X, W, W, W, tokens=["the", "quick"])


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda X, W: qkv(X[0], W, W, W), "X"),
        (lambda X, W: qkv(X, W[:3], W, W), "Wq"),
        (lambda X, W: qkv(X, W, W[:, :1], W), "Wk"),
        (lambda X, W: attention(X, X[:, :2], X), "K"),
        (lambda X, W: attention(X, X, X[:2]), "V"),
        (lambda X, W: attention(X, X, X, mask=np.ones((3, 2), bool)), "mask"),
        (lambda X, W: attention(X, X, X, mask=np.eye(3, dtype=bool) & False), "mask"),
        (lambda X, W: multi_head_self_attention(X, W, W, W, W), "Wq"),
        (lambda X, W: multi_head_self_attention(X, *[W[:, :, None]] * 3, np.ones((3, 1))), "W0"),
        (lambda X, W: softmax(np.float64(1.0)), "x"),
    ],
)
def test_shape_errors_name_the_argument(call, name):
    X, W = np.ones((3, 4)), np.ones((4, 2))
    with pytest.raises(ValueError, match=rf"^{name} "):
        call(X, W)


def test_reference_never_imports_torch():
    code = "import sys, seqlab.reference; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
