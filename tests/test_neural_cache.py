"""The continuous cache (Grave et al. 2017): lambda 0 is the model, causality, and a cache that
finds repeated words where the model cannot."""

from __future__ import annotations

import math

import pytest
import torch

from seqlab.data.lm import LMBatches
from seqlab.models import LanguageModel, LanguageModelConfig, language_model
from seqlab.models.neural_cache import cache_pass, cache_perplexity, tune
from seqlab.train import CarryState, Perplexity, evaluate


def tiny(arch: str = "lstm") -> LanguageModel:
    torch.manual_seed(0)
    cfg = LanguageModelConfig(60, arch=arch, embed_dim=16, hidden_size=16, dropout=0.0)
    return language_model(cfg).eval()


def repeating_stream(n_docs: int = 12, seed: int = 0) -> torch.Tensor:
    """Documents of 60 tokens, each drawing its words from its own 4 of the 60 types: an
    untrained model cannot know them, a cache of the document's recent words can."""
    g = torch.Generator().manual_seed(seed)
    docs = []
    for _ in range(n_docs):
        words = torch.randperm(57, generator=g)[:4] + 3
        docs.append(words[torch.randint(0, 4, (60,), generator=g)])
    return torch.cat(docs)


@pytest.mark.parametrize("arch", ["lstm", "transformer"])
def test_lambda_zero_is_the_model(arch):
    model = tiny(arch)
    stream = repeating_stream()
    passes = cache_pass(model, stream, batch_size=3, bptt=7, window=50)
    alone = evaluate(model, LMBatches(stream, 3, 7), Perplexity(), forward=CarryState())
    assert cache_perplexity(*passes, theta=0.5, lam=0.0) == pytest.approx(
        alone["perplexity"], rel=1e-5
    )


def test_the_cache_only_looks_back():
    model = tiny()
    stream = repeating_stream()
    changed = stream.clone()
    changed[400:] = 5  # rows of 3 columns: positions < 400 // 3 of each column see no change
    a = cache_pass(model, stream, batch_size=1, bptt=7, window=50)
    b = cache_pass(model, changed, batch_size=1, bptt=7, window=50)
    early = 399 // 7  # bptt windows entirely before position 399
    for (sa, ha), (sb, hb) in zip(a[1][:early], b[1][:early], strict=True):
        torch.testing.assert_close(sa, sb)
        assert torch.equal(ha, hb)
    assert cache_perplexity(a[0][:early], a[1][:early], 0.3, 0.2) == pytest.approx(
        cache_perplexity(b[0][:early], b[1][:early], 0.3, 0.2)
    )


def test_a_cache_finds_the_repeated_words():
    model = tiny()  # untrained: about uniform over 60 types
    valid = cache_pass(model, repeating_stream(seed=1), batch_size=2, bptt=10, window=100)
    theta, lam, ppl = tune(valid, thetas=(0.0, 0.5), lambdas=(0.5, 0.9))
    alone = cache_perplexity(*valid, 1.0, 0.0)
    assert alone > 40 and ppl < alone / 3  # each document's 4 words are found in the cache
    assert lam == 0.9 and not math.isnan(ppl)
