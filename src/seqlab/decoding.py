"""Decoding written once for every model with `decode(tokens, state) -> (logits, state)`.

Sampling follows the course's `generate` (temperature-scaled softmax, a random first token when
there is no prompt) and adds top-k (Fan et al. 2018) and nucleus / top-p sampling (Holtzman et
al. 2020). `generate(cached=True)` feeds one new token per step and carries the model's state (an
RNN's hidden state, a Transformer's key/value cache): O(T) work for T tokens. `cached=False` is
the course's reference, which re-runs the model over the whole prefix for every new token
(O(T^2)); both draw the same random numbers, so they give the same tokens.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def sample_next(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw one token per row of logits (B, V) -> (B,); temperature 0 takes the argmax."""
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    logits = logits.float()
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = logits.topk(top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        # Keep the smallest prefix whose mass reaches top_p: drop a token if the mass before
        # it already does (so the most likely token is always kept).
        drop = probs.cumsum(dim=-1) - probs >= top_p
        logits = logits.scatter(-1, order, sorted_logits.masked_fill(drop, float("-inf")))
    probs = logits.softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


@torch.no_grad()
def generate(
    model: Any,
    prompt: Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    cached: bool = True,
    stop: int | None = None,
) -> Tensor:
    """Extend prompt (B, T >= 1) by up to `max_new_tokens` sampled tokens -> (B, T + new).

    `stop` (e.g. the `<eos>` id) ends the generation once every row has produced it.
    """
    if prompt.dim() != 2 or prompt.size(1) < 1:
        raise ValueError(f"prompt must have shape (B, T) with T >= 1, got {tuple(prompt.shape)}")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    was_training = model.training
    model.eval()
    try:
        tokens, state, step_input = prompt, None, prompt
        done = torch.zeros(prompt.size(0), dtype=torch.bool, device=prompt.device)
        for _ in range(max_new_tokens):
            if cached:
                logits, state = model.decode(step_input, state)
            else:
                logits, _ = model.decode(tokens)  # the whole prefix again
            nxt = sample_next(logits[:, -1], temperature, top_k, top_p, generator)  # (B,)
            tokens = torch.cat([tokens, nxt[:, None]], dim=1)
            step_input = nxt[:, None]  # (B, 1)
            if stop is not None:
                done |= nxt == stop
                if bool(done.all()):
                    break
        return tokens
    finally:
        model.train(was_training)
