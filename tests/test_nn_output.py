"""VocabProjection: an nn.Linear whose inference path uses a cached transposed weight."""

import pytest
import torch
from torch import nn

from seqlab.nn import VocabProjection


def test_matches_nn_linear_with_and_without_grad():
    torch.manual_seed(0)
    proj, ref = VocabProjection(16, 50).eval(), nn.Linear(16, 50)
    ref.load_state_dict(proj.state_dict())  # same parameters, same checkpoint keys
    x = torch.randn(2, 3, 16)
    torch.testing.assert_close(proj(x), ref(x))  # training path
    with torch.no_grad():
        torch.testing.assert_close(proj(x), ref(x))  # cached-transpose path
        assert proj._transposed is not None and proj._transposed.is_contiguous()


@pytest.mark.parametrize("fused", [False, True])
def test_cache_follows_weight_updates_and_loads(fused):
    """Fused optimizers do not bump the version counter: the train()/eval() switch of every
    training loop clears the cache."""
    torch.manual_seed(0)
    proj = VocabProjection(8, 20).eval()
    x = torch.randn(4, 8)
    with torch.no_grad():
        before = proj(x)
    opt = torch.optim.Adam(proj.parameters(), lr=0.5, fused=fused)
    proj.train()
    proj(x).sum().backward()
    opt.step()  # in-place update: the cached transpose must be remade
    proj.eval()
    with torch.no_grad():
        after = proj(x)
        assert not torch.allclose(before, after)
        torch.testing.assert_close(after, nn.functional.linear(x, proj.weight, proj.bias))
        proj.load_state_dict({"weight": torch.zeros(20, 8), "bias": torch.ones(20)})
        torch.testing.assert_close(proj(x), torch.ones(4, 20))


def test_tied_weight_follows_the_embedding():
    emb = nn.Embedding(20, 8)
    proj = VocabProjection(8, 20).eval()
    proj.weight = emb.weight
    x = torch.randn(3, 8)
    with torch.no_grad():
        proj(x)
        emb.weight.mul_(2.0)
        torch.testing.assert_close(proj(x), nn.functional.linear(x, emb.weight, proj.bias))
