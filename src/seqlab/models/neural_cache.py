"""The continuous cache of Grave, Joulin & Usunier (2017), "Improving Neural Language Models
with a Continuous Cache": a language model's evaluation-time memory of its own recent text.

The model's top-layer state h_i at each of the last `window` positions is stored with the word
x_{i+1} that followed it. The next word is then predicted by the mixture

    p(w | h_t) = (1 - lambda) p_model(w | h_t) + lambda p_cache(w | h_t),
    p_cache(w | h_t)  proportional to  sum over stored i with x_{i+1} = w of exp(theta h_t . h_i),

so a word that appeared in a similar context recently becomes more likely (names, topics). It
needs no training: `theta` and `lambda` are chosen on validation text. The cache only looks
back, so the model stays a proper causal language model.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from seqlab.data.lm import LMBatches


@torch.no_grad()
def cache_pass(
    model: Any, stream: Tensor, batch_size: int, bptt: int, window: int
) -> tuple[list[Tensor], list[Tensor]]:
    """Run the model over the stream once: per bptt batch, the target log-probabilities
    (B, T) and the dot products h_t . h_i with the cache (B, T, W + T) (-inf where no entry),
    and which of those entries hold the target word (B, T, W + T) bool."""
    model.eval()
    logp_targets, scores_and_hits = [], []
    keys = values = None  # the cache: states (B, W', C) and the word after each (B, W')
    state = None
    for batch in LMBatches(stream, batch_size, bptt):
        x, y = batch["tokens"], batch["targets"]  # (B, T)
        h, state = model.features(x, state)  # (B, T, C)
        logp = model.logits(h).float().log_softmax(-1)  # (B, T, V)
        logp_targets.append(logp.gather(2, y[..., None])[..., 0])  # (B, T)
        k = h if keys is None else torch.cat([keys, h], dim=1)  # (B, W' + T, C)
        v = y if values is None else torch.cat([values, y], dim=1)  # (B, W' + T)
        past = k.size(1) - h.size(1)
        scores = h.float() @ k.float().transpose(1, 2)  # (B, T, W' + T)
        # Position t may use stored entries and the window's entries before it (their next
        # word is x_{j+1}, known at time t only for j < t).
        T = h.size(1)
        allowed = torch.ones(T, k.size(1), dtype=torch.bool).tril(past - 1)
        scores = scores.masked_fill(~allowed, -math.inf)
        hits = v[:, None, :] == y[:, :, None]  # (B, T, W' + T)
        scores_and_hits.append((scores, hits))
        keys, values = k[:, -window:], v[:, -window:]
    return logp_targets, scores_and_hits


def cache_perplexity(
    logp_targets: list[Tensor],
    scores_and_hits: list[tuple[Tensor, Tensor]],
    theta: float,
    lam: float,
) -> float:
    """Perplexity of the mixture for given theta and lambda (lambda 0: the model alone)."""
    total, count = 0.0, 0
    for logp, (scores, hits) in zip(logp_targets, scores_and_hits, strict=True):
        weights = (theta * scores).softmax(-1)  # (B, T, W'+T); rows with no entry are NaN
        p_cache = (weights * hits).sum(-1).nan_to_num(0.0)  # (B, T)
        has_cache = torch.isfinite(scores).any(-1)
        p_model = logp.exp()
        mixed = torch.where(has_cache, (1 - lam) * p_model + lam * p_cache, p_model)
        total += -mixed.clamp_min(1e-30).log().sum().item()
        count += logp.numel()
    return math.exp(total / max(count, 1))


def tune(
    valid: tuple[list[Tensor], list[tuple[Tensor, Tensor]]],
    thetas: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0),
    lambdas: tuple[float, ...] = (0.05, 0.1, 0.15, 0.2, 0.3),
) -> tuple[float, float, float]:
    """(theta, lambda, validation perplexity) of the best grid point on the validation pass."""
    best = (0.0, 0.0, cache_perplexity(*valid, 1.0, 0.0))
    for theta in thetas:
        for lam in lambdas:
            ppl = cache_perplexity(*valid, theta, lam)
            if ppl < best[2]:
                best = (theta, lam, ppl)
    return best
