"""VocabProjection: an nn.Linear that multiplies by a cached transposed weight while decoding."""

import pytest
import torch
from torch import nn

from seqlab.decoding import greedy_decode
from seqlab.nn import VocabProjection, cached_projections


def test_matches_nn_linear_inside_and_outside_the_block():
    torch.manual_seed(0)
    proj, ref = VocabProjection(16, 50), nn.Linear(16, 50)
    ref.load_state_dict(proj.state_dict())  # same parameters, same checkpoint keys
    x = torch.randn(2, 3, 16)
    torch.testing.assert_close(proj(x), ref(x))
    with torch.no_grad(), cached_projections(proj):
        torch.testing.assert_close(proj(x), ref(x))
        assert cached_copy(proj) is not None
    assert cached_copy(proj) is None and not proj._use_cache  # dropped on exit


def cached_copy(proj: VocabProjection):
    """The layer's cached weight layout, if any: the transpose or the per-thread slices."""
    return proj._transposed if proj._split is None else proj._split[0]


@pytest.fixture
def threads():
    """Set torch's thread count inside a test; restored afterwards."""
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("bias", [True, False])
def test_split_product_equals_the_unsplit_one(threads, k, bias):
    """With k threads and few rows the vocabulary is cut into k slices (47 words: the last slice
    is padded); the logits are the same dot products, up to the kernels' rounding."""
    torch.manual_seed(0)
    proj = VocabProjection(16, 47, bias=bias)
    x = torch.randn(3, 1, 16)
    threads(1)
    with torch.no_grad(), cached_projections(proj):
        expected = proj(x)
        assert proj._split is None and proj._transposed.is_contiguous()
    threads(k)
    with torch.no_grad(), cached_projections(proj):
        got = proj(x)
        assert (proj._split is not None) == (k > 1)
    assert got.shape == (3, 1, 47) and got.is_contiguous()
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(got, nn.functional.linear(x, proj.weight, proj.bias))


def test_no_stale_weights_after_fused_optimizer_steps():
    """Fused optimizers update weights without bumping their version counter; the copy lives
    for one block only, so a later block sees the new weights."""
    torch.manual_seed(0)
    proj = VocabProjection(8, 20)
    x = torch.randn(4, 8)
    opt = torch.optim.Adam(proj.parameters(), lr=0.5, fused=True)
    with torch.no_grad(), cached_projections(proj):
        before = proj(x)
    proj(x).sum().backward()
    opt.step()
    with torch.no_grad(), cached_projections(proj):
        after = proj(x)
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, nn.functional.linear(x, proj.weight, proj.bias))


def test_nested_blocks_and_inference_mode():
    proj = VocabProjection(8, 20)
    x = torch.randn(3, 8)
    with torch.inference_mode(), cached_projections(proj):
        with cached_projections(proj):
            proj(x)
        assert proj._use_cache and cached_copy(proj) is not None  # the outer block's copy stays
        torch.testing.assert_close(proj(x), nn.functional.linear(x, proj.weight, proj.bias))


def test_decoding_loops_use_and_drop_the_copy():
    """greedy_decode runs inside the block (the copy is used) and leaves nothing behind."""
    from seqlab.models import TransformerTranslator, TransformerTranslatorConfig

    torch.manual_seed(0)
    model = TransformerTranslator(
        TransformerTranslatorConfig(20, 30, embed_dim=16, hidden_size=32)
    ).eval()
    used = []
    model.output.register_forward_hook(lambda m, a, o: used.append(cached_copy(m) is not None))
    src = torch.randint(4, 20, (2, 5))
    greedy_decode(model, src, torch.tensor([5, 3]), 2, 3, 6)
    assert used and all(used) and cached_copy(model.output) is None
