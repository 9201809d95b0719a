"""Attention agrees with torch.nn.MultiheadAttention and F.scaled_dot_product_attention."""

import pytest
import torch
import torch.nn.functional as F

from seqlab.nn.attention import (
    MultiHeadAttention,
    Seq2SeqAttention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
)


def copy_into_torch(mha: MultiHeadAttention, ref: torch.nn.MultiheadAttention) -> None:
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([mha.Wq.weight, mha.Wk.weight, mha.Wv.weight]))
        ref.in_proj_bias.copy_(torch.cat([mha.Wq.bias, mha.Wk.bias, mha.Wv.bias]))
        ref.out_proj.weight.copy_(mha.Wo.weight)
        ref.out_proj.bias.copy_(mha.Wo.bias)


def test_masks():
    assert padding_mask(torch.tensor([1, 3]), 3).tolist() == [
        [True, False, False],
        [True, True, True],
    ]
    assert causal_mask(3).tolist() == [
        [True, False, False],
        [True, True, False],
        [True, True, True],
    ]


def test_sdpa_matches_torch_with_mask():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 4), torch.randn(2, 3, 6, 4), torch.randn(2, 3, 6, 4)
    mask = torch.rand(2, 1, 5, 6) > 0.3
    mask[..., 0] = True  # every query sees at least one key
    out, w = scaled_dot_product_attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 5))
    assert (w[~mask.expand_as(w)] == 0).all()


@pytest.mark.parametrize("backend", ["scratch", "fused"])
@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_matches_torch(backend, causal):
    torch.manual_seed(0)
    B, T, C, H = 3, 6, 16, 4
    mha = MultiHeadAttention(C, H, backend=backend)
    ref = torch.nn.MultiheadAttention(C, H, batch_first=True)
    copy_into_torch(mha, ref)
    x = torch.randn(B, T, C)
    lengths = torch.tensor([6, 4, 2])
    keep = padding_mask(lengths, T)
    attn_mask = ~causal_mask(T) if causal else None
    expected, _ = ref(x, x, x, key_padding_mask=~keep, attn_mask=attn_mask, need_weights=False)
    out, _ = mha(x, key_mask=keep, causal=causal)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_cross_attention_scratch_equals_fused_with_gradients():
    torch.manual_seed(1)
    scratch = MultiHeadAttention(8, 2, backend="scratch")
    fused = MultiHeadAttention(8, 2, backend="fused")
    fused.load_state_dict(scratch.state_dict())
    q, kv = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    keep = padding_mask(torch.tensor([5, 2]), 5)
    a, weights = scratch(q, kv, kv, key_mask=keep)
    b, _ = fused(q, kv, kv, key_mask=keep)
    torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    assert weights.shape == (2, 2, 3, 5) and (weights[1, :, :, 2:] == 0).all()
    a.square().sum().backward()
    b.square().sum().backward()
    for (name, p), p2 in zip(scratch.named_parameters(), fused.parameters(), strict=True):
        torch.testing.assert_close(p.grad, p2.grad, atol=1e-5, rtol=1e-4, msg=name)


def test_padded_keys_do_not_matter():
    torch.manual_seed(2)
    mha = MultiHeadAttention(8, 2)
    x = torch.randn(1, 4, 8)
    keep = padding_mask(torch.tensor([2]), 4)
    out1, _ = mha(x, key_mask=keep)
    x2 = x.clone()
    x2[:, 2:] = torch.randn(1, 2, 8)
    out2, _ = mha(x2, key_mask=keep)
    torch.testing.assert_close(out1[:, :2], out2[:, :2])


def test_bad_shapes_raise():
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match=r"\(B, T, C\)"):
        mha(torch.randn(4, 8))
    with pytest.raises(ValueError, match=r"key_mask must have shape \(B, S=4\)"):
        mha(torch.randn(1, 4, 8), key_mask=torch.ones(1, 3, dtype=torch.bool))


def test_seq2seq_scores():
    torch.manual_seed(3)
    s, h = torch.randn(2, 3, 4), torch.randn(2, 5, 4)
    keep = padding_mask(torch.tensor([5, 3]), 5)
    ctx, w = Seq2SeqAttention("dot", 4, 4)(s, h, keep)
    expected_w = (s @ h.transpose(1, 2)).masked_fill(~keep[:, None], -torch.inf).softmax(-1)
    torch.testing.assert_close(w, expected_w)
    torch.testing.assert_close(ctx, expected_w @ h)
    cos = Seq2SeqAttention("cosine", 4, 4)
    _, w = cos(s, h)
    sim = F.cosine_similarity(s[:, :, None, :], h[:, None, :, :], dim=-1)
    torch.testing.assert_close(w, sim.softmax(-1))
    general = Seq2SeqAttention("general", 4, 6)
    h6 = torch.randn(2, 5, 6)
    _, w = general(s, h6)
    torch.testing.assert_close(w, (s @ general.score.W(h6).transpose(1, 2)).softmax(-1))
    add = Seq2SeqAttention("additive", 4, 6)
    _, w = add(s, h6, keep)
    sc = add.score
    manual = torch.stack(
        [
            torch.stack(
                [sc.v(torch.tanh(sc.W1(s[b, t]) + sc.W2(h6[b]))).squeeze(-1) for t in range(3)]
            )
            for b in range(2)
        ]
    )
    torch.testing.assert_close(w, manual.masked_fill(~keep[:, None], -torch.inf).softmax(-1))
    assert (w[1, :, 3:] == 0).all()
    with pytest.raises(ValueError, match="score must be one of"):
        Seq2SeqAttention("bilinear", 4, 4)
