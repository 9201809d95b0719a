"""Transformer parts agree with torch.nn.TransformerEncoderLayer/DecoderLayer on shared weights."""

import math

import pytest
import torch

from seqlab.nn.attention import MultiHeadAttention, causal_mask, padding_mask
from seqlab.nn.transformer import (
    FeedForward,
    LearnedPositionalEncoding,
    SinusoidalPositionalEncoding,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

C, H, FF = 16, 4, 32


def copy_attn(mine: MultiHeadAttention, ref: torch.nn.MultiheadAttention) -> None:
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([mine.Wq.weight, mine.Wk.weight, mine.Wv.weight]))
        ref.in_proj_bias.copy_(torch.cat([mine.Wq.bias, mine.Wk.bias, mine.Wv.bias]))
        ref.out_proj.load_state_dict(mine.Wo.state_dict())


def copy_common(mine, ref) -> None:
    copy_attn(mine.self_attn, ref.self_attn)
    ref.linear1.load_state_dict(mine.ffn.linear1.state_dict())
    ref.linear2.load_state_dict(mine.ffn.linear2.state_dict())
    for name in ("norm1", "norm2", "norm3"):
        if hasattr(ref, name):
            with torch.no_grad():
                getattr(mine, name).weight.uniform_(0.5, 1.5)
                getattr(mine, name).bias.uniform_(-0.5, 0.5)
            getattr(ref, name).load_state_dict(getattr(mine, name).state_dict())


def test_sinusoidal_table():
    pe = SinusoidalPositionalEncoding(6, max_len=10)
    out = pe(torch.zeros(1, 10, 6))[0]
    pos, i = 7, 1  # PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(...)
    assert out[pos, 2 * i].item() == pytest.approx(math.sin(pos / 10000 ** (2 * i / 6)), abs=1e-6)
    assert out[pos, 2 * i + 1].item() == pytest.approx(
        math.cos(pos / 10000 ** (2 * i / 6)), abs=1e-6
    )
    assert len(pe.state_dict()) == 0
    with pytest.raises(ValueError, match="exceeds"):
        pe(torch.zeros(1, 11, 6))


def test_learned_positions():
    pe = LearnedPositionalEncoding(4, max_len=5)
    x = torch.randn(2, 3, 4)
    torch.testing.assert_close(pe(x), x + pe.embedding.weight[:3])
    with pytest.raises(ValueError, match="max_len=5"):
        pe(torch.zeros(1, 6, 4))


def test_feed_forward():
    ffn = FeedForward(4, 8)
    x = torch.randn(2, 3, 4)
    expected = torch.relu(x @ ffn.linear1.weight.T + ffn.linear1.bias) @ ffn.linear2.weight.T
    torch.testing.assert_close(ffn(x), expected + ffn.linear2.bias)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("backend", ["scratch", "fused"])
def test_encoder_layer_matches_torch(norm_first, backend):
    torch.manual_seed(0)
    mine = TransformerEncoderLayer(C, H, FF, dropout=0.1, norm_first=norm_first, backend=backend)
    ref = torch.nn.TransformerEncoderLayer(
        C, H, FF, dropout=0.1, batch_first=True, norm_first=norm_first
    )
    copy_common(mine, ref)
    mine.eval(), ref.eval()
    x = torch.randn(3, 5, C)
    keep = padding_mask(torch.tensor([5, 3, 1]), 5)
    with torch.no_grad():
        expected = ref(x, src_key_padding_mask=~keep)
        out = mine(x, key_mask=keep)
        torch.testing.assert_close(out[keep], expected[keep], atol=1e-5, rtol=1e-5)
        causal_ref = ref(x, src_mask=~causal_mask(5))
        torch.testing.assert_close(mine(x, causal=True), causal_ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_torch(norm_first):
    torch.manual_seed(1)
    mine = TransformerDecoderLayer(C, H, FF, dropout=0.1, norm_first=norm_first)
    ref = torch.nn.TransformerDecoderLayer(
        C, H, FF, dropout=0.1, batch_first=True, norm_first=norm_first
    )
    copy_common(mine, ref)
    copy_attn(mine.cross_attn, ref.multihead_attn)
    mine.eval(), ref.eval()
    x, memory = torch.randn(2, 4, C), torch.randn(2, 6, C)
    tgt_keep = padding_mask(torch.tensor([4, 2]), 4)
    mem_keep = padding_mask(torch.tensor([6, 3]), 6)
    with torch.no_grad():
        expected = ref(
            x,
            memory,
            tgt_mask=~causal_mask(4),
            tgt_key_padding_mask=~tgt_keep,
            memory_key_padding_mask=~mem_keep,
        )
        out = mine(x, memory, memory_mask=mem_keep, tgt_mask=tgt_keep)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_encoder_stack_matches_torch_pre_norm():
    torch.manual_seed(2)
    mine = TransformerEncoder(C, H, FF, num_layers=2, norm_first=True).eval()
    layer = torch.nn.TransformerEncoderLayer(C, H, FF, batch_first=True, norm_first=True)
    ref = torch.nn.TransformerEncoder(
        layer, 2, norm=torch.nn.LayerNorm(C), enable_nested_tensor=False
    ).eval()
    for m, r in zip(mine.layers, ref.layers, strict=True):
        copy_common(m, r)
    ref.norm.load_state_dict(mine.norm.state_dict())
    x = torch.randn(2, 5, C)
    with torch.no_grad():
        torch.testing.assert_close(mine(x), ref(x), atol=1e-5, rtol=1e-5)
