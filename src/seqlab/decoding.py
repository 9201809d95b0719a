"""Decoding written once for every model with a `decode(..., state) -> (logits, state)` method.

Language models: `decode(tokens, state)`; translation models: `memory = encode(src, lengths)`
then `decode(tgt_in, memory, state)`. States and memories are batch-first (an RNN's state as a
tuple of (B, layers, H), a Transformer's `KVCache`), so `select_rows` reorders any of them for
beam search without knowing the model.

Sampling follows the course's `generate` (temperature-scaled softmax, a random first token when
there is no prompt) and adds top-k (Fan et al. 2018) and nucleus / top-p sampling (Holtzman et
al. 2020). `generate(cached=True)` feeds one new token per step and carries the model's state (an
RNN's hidden state, a Transformer's key/value cache): O(T) work for T tokens. `cached=False` is
the course's reference, which re-runs the model over the whole prefix for every new token
(O(T^2)); both draw the same random numbers, so they give the same tokens.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor

from seqlab.nn.attention import KVCache
from seqlab.nn.output import cached_projections


def decoding_loop(fn: Callable) -> Callable:
    """Run `fn(model, ...)` in inference mode (no autograd, and none of its per-operation
    bookkeeping: a one-token step runs about a hundred small operations) and with the model's
    output layers multiplying by cached transposed weights (`seqlab.nn.cached_projections`) for
    the length of the call. What it returns are inference tensors: read them, or `.clone()` one
    to change it in place."""

    @functools.wraps(fn)
    def wrapper(model: Any, *args: Any, **kwargs: Any) -> Any:
        with torch.inference_mode(), cached_projections(model):
            return fn(model, *args, **kwargs)

    return wrapper


GREEDY_BELOW = 1e-6
"""Sampling temperatures below this (0 included) take the argmax: its one-hot is the limit of
the temperature-scaled softmax, which float32 cannot compute for so small a divisor."""


def sample_next(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw one token per row of logits (B, V) -> (B,); temperature 0 (or any temperature below
    `GREEDY_BELOW`, whose softmax would divide by what float32 rounds to zero) takes the
    argmax."""
    return _sample(logits, temperature, top_k, top_p, generator)[0]


def _sample(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """`sample_next`'s tokens (B,) and the probabilities (B, V) they were drawn from (after
    temperature, top-k and top-p; temperature 0 or below `GREEDY_BELOW`: all of it on the
    argmax)."""
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    logits = logits.float()
    if temperature < GREEDY_BELOW:
        best = logits.argmax(dim=-1)
        return best, torch.zeros_like(logits).scatter_(-1, best[:, None], 1.0)
    if temperature != 1.0:
        # Each row's max subtracted first (softmax is shift-invariant): a small temperature
        # then sends the other logits towards -inf instead of every logit to +inf (inf - inf:
        # NaN probabilities).
        logits = (logits - logits.amax(dim=-1, keepdim=True)) / temperature
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
    # Inverse-CDF sampling: one uniform number per row against the cumulative probabilities
    # (20x faster than torch.multinomial over a 29k-word vocabulary, measured here).
    probs = logits.softmax(dim=-1)  # (B, V)
    cdf = probs.cumsum(dim=-1)
    # u in (0, 1]: the first index whose cumulative mass reaches u has probability > 0
    u = 1.0 - torch.rand(cdf.size(0), 1, generator=generator, device=cdf.device)
    u = u * cdf[:, -1:]
    return torch.searchsorted(cdf, u).squeeze(1).clamp_max(cdf.size(1) - 1), probs


def _check_prompt(prompt: Tensor, max_new_tokens: int) -> None:
    """ValueError unless prompt is (B, T >= 1) and max_new_tokens >= 0."""
    if prompt.dim() != 2 or prompt.size(1) < 1:
        raise ValueError(f"prompt must have shape (B, T) with T >= 1, got {tuple(prompt.shape)}")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")


def _draw(last: Tensor, banned: Tensor, *sampling: Any) -> tuple[Tensor, Tensor]:
    """One token per row of the last logits (B, V), never a `banned` one: a row that draws one
    draws again with them removed (without top-k/p: exactly p renormalised without them).
    Also the probabilities (B, V) each row's token was drawn from."""
    nxt, probs = _sample(last, *sampling)  # (B,), (B, V)
    redraw = torch.isin(nxt, banned)
    if bool(redraw.any()):
        again, again_probs = _sample(ban(last, banned), *sampling)
        nxt = torch.where(redraw, again, nxt)
        probs = torch.where(redraw[:, None], again_probs, probs)
    return nxt, probs


@decoding_loop
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
    banned: Sequence[int] = (),
) -> Tensor:
    """Extend prompt (B, T >= 1) by up to `max_new_tokens` sampled tokens -> (B, T + new).

    `stop` (e.g. the `<eos>` id) ends the generation once every row has produced it; `banned`
    tokens (e.g. `<pad>`, `<sos>`) are never drawn: a row that draws one draws again with them
    removed (rejection sampling), so the output is what it was without `banned` until a banned
    token comes up.
    """
    _check_prompt(prompt, max_new_tokens)
    was_training = model.training
    model.eval()
    try:
        tokens, state, step_input = prompt, None, prompt
        done = torch.zeros(prompt.size(0), dtype=torch.bool, device=prompt.device)
        banned = _banned_index(banned, prompt.device)
        for _ in range(max_new_tokens):
            if cached:
                logits, state = model.decode(step_input, state)
            else:
                logits, _ = model.decode(tokens)  # the whole prefix again
            nxt = _draw(logits[:, -1], banned, temperature, top_k, top_p, generator)[0]  # (B,)
            tokens = torch.cat([tokens, nxt[:, None]], dim=1)
            step_input = nxt[:, None]  # (B, 1)
            if stop is not None:
                done |= nxt == stop
                if bool(done.all()):
                    break
        return tokens
    finally:
        model.train(was_training)


def select_rows(obj: Any, index: Tensor) -> Any:
    """Rows `index` (dim 0) of every tensor in obj (tensor, tuple, NamedTuple, KVCache, None)."""
    if obj is None:
        return None
    if isinstance(obj, Tensor):
        return obj.index_select(0, index)
    if isinstance(obj, KVCache):
        obj.select(index)
        return obj
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a NamedTuple
        return type(obj)(*(select_rows(x, index) for x in obj))
    if isinstance(obj, tuple | list):
        return type(obj)(select_rows(x, index) for x in obj)
    raise TypeError(f"cannot select rows of {type(obj).__name__}")


def ban(logits: Tensor, banned: Sequence[int] | Tensor) -> Tensor:
    """Logits (..., V) with the `banned` tokens at -inf, so no search can choose them. The
    searches pass a tensor made once per call, so no step copies the list to the device."""
    if len(banned) == 0:
        return logits
    index = torch.as_tensor(banned, dtype=torch.long, device=logits.device)  # no copy if made
    return logits.index_fill(-1, index, float("-inf"))


def _banned_index(banned: Sequence[int], device: torch.device) -> Tensor:
    """The banned ids as one long tensor on the decoding device (built once per search)."""
    return torch.tensor(list(banned), dtype=torch.long, device=device)


@decoding_loop
def greedy_decode(
    model: Any,
    src: Tensor,
    src_lengths: Tensor | None,
    sos_id: int,
    eos_id: int,
    max_length: int,
    banned: Sequence[int] = (),
) -> Tensor:
    """The most likely next token at every step (never one of `banned`): (B, <= max_length),
    no <sos>, pads after <eos>."""
    memory = model.encode(src, src_lengths)
    B = src.size(0)
    banned = _banned_index(banned, src.device)
    token = torch.full((B, 1), sos_id, dtype=torch.long, device=src.device)
    done = torch.zeros(B, dtype=torch.bool, device=src.device)
    out, state = [], None
    for _ in range(max_length):
        logits, state = model.decode(token, memory, state)
        token = ban(logits[:, -1:], banned).argmax(-1).masked_fill(done[:, None], 0)  # (B, 1)
        out.append(token)
        done |= token[:, 0] == eos_id
        if bool(done.all()):
            break
    return torch.cat(out, dim=1)


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's ((5 + length) / 6) ** alpha (Wu et al. 2016, eq. 14); alpha 0: no penalty."""
    return ((5 + length) / 6) ** alpha


class Candidate(NamedTuple):
    """A finished beam-search hypothesis: its tokens (no <sos>; <eos> if it ended), the sum of
    their log-probabilities and the length-normalised score the search ranks by."""

    tokens: list[int]
    log_prob: float
    score: float


def beam_search(
    model: Any,
    src: Tensor,
    src_lengths: Tensor | None,
    sos_id: int,
    eos_id: int,
    max_length: int,
    beam_size: int = 5,
    alpha: float = 0.6,
    banned: Sequence[int] = (),
) -> list[list[int]]:
    """Batched beam search: for each source, the hypothesis with the best length-normalised
    log-probability (log p / `length_penalty`), without <sos> and with its <eos> if it ended;
    `banned` tokens are never chosen (the others' probabilities are renormalised). The best of
    `beam_candidates`."""
    final = beam_candidates(
        model, src, src_lengths, sos_id, eos_id, max_length, beam_size, alpha, banned
    )
    return [beam[0].tokens if beam else [] for beam in final]


@decoding_loop
def beam_candidates(
    model: Any,
    src: Tensor,
    src_lengths: Tensor | None,
    sos_id: int,
    eos_id: int,
    max_length: int,
    beam_size: int = 5,
    alpha: float = 0.6,
    banned: Sequence[int] = (),
) -> list[list[Candidate]]:
    """The final beam of each source: its `beam_size` best finished hypotheses, best first
    (see `beam_search`; the log-probabilities are those of the search, `banned` tokens removed).

    Every step extends each of the `beam_size` live hypotheses by every word, sets aside those
    of the best `beam_size` candidates that end in <eos>, and keeps the best `beam_size`
    continuations that do not end. A source is done when `beam_size` hypotheses have ended; at
    `max_length` the best live ones end there.
    """
    if beam_size < 1 or max_length < 1:
        raise ValueError(f"beam_size and max_length must be >= 1, got {beam_size}, {max_length}")
    B, k, device = src.size(0), beam_size, src.device
    banned = _banned_index(banned, device)
    rows = torch.arange(B, device=device).repeat_interleave(k)  # (B*k,): beam j of source b
    memory = select_rows(model.encode(src, src_lengths), rows)
    tokens = torch.full((B * k, 1), sos_id, dtype=torch.long, device=device)
    scores = torch.full((B, k), -math.inf, device=device)
    scores[:, 0] = 0.0  # all beams start equal: keep one so the first step has no duplicates
    finished: list[list[tuple[float, list[int], float]]] = [[] for _ in range(B)]
    done = [False] * B
    state = None
    for step in range(1, max_length + 1):
        logits, state = model.decode(tokens[:, -1:], memory, state)
        logp = ban(logits[:, -1].float(), banned).log_softmax(-1)  # (B*k, V)
        V = logp.size(-1)
        candidates = (scores.view(-1, 1) + logp).view(B, k * V)
        top_scores, top_index = candidates.topk(min(2 * k, k * V), dim=1)  # (B, 2k)
        next_rows, next_tokens, next_scores = [], [], []
        for b in range(B):
            kept = []
            pairs = zip(top_scores[b].tolist(), top_index[b].tolist(), strict=True)
            for rank, (score, index) in enumerate(pairs):
                beam, word = divmod(index, V)
                if score == -math.inf:
                    break
                if word == eos_id or step == max_length:
                    # Only a top-k candidate may end a hypothesis (so a beam of 1 is greedy).
                    if rank < k and not done[b]:
                        words = tokens[b * k + beam, 1:].tolist() + [word]
                        normalised = score / length_penalty(step, alpha)
                        finished[b].append((normalised, words, score))
                    continue
                if len(kept) < k:
                    kept.append((score, beam, word))
            if len(finished[b]) >= k:
                done[b] = True
            kept += [(-math.inf, 0, eos_id)] * (k - len(kept))  # dead beams keep the shape
            for score, beam, word in kept:
                next_rows.append(b * k + beam)
                next_tokens.append(word)
                next_scores.append(-math.inf if done[b] else score)
        if all(done):
            break
        index = torch.tensor(next_rows, device=device)
        tokens = torch.cat([tokens[index], torch.tensor(next_tokens, device=device)[:, None]], 1)
        scores = torch.tensor(next_scores, device=device).view(B, k)
        state = select_rows(state, index)
    # Ties rank by the tokens, as max() of (score, tokens) pairs does.
    ranked = (sorted(f, key=lambda c: (c[0], c[1]), reverse=True)[:k] for f in finished)
    return [[Candidate(words, raw, norm) for norm, words, raw in f] for f in ranked]


def sample_steps(
    model: Any,
    prompt: Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    banned: Sequence[int] = (),
) -> Iterator[Tensor]:
    """`generate(cached=True)` one step at a time: yields each new token (B,) as it is drawn,
    with the same random numbers, so the same tokens. Every step runs in inference mode with
    the cached projections on its own (nothing is held between steps but the model's state),
    so the caller may run each step in another thread, or stop between two."""
    sampling = dict(temperature=temperature, top_k=top_k, top_p=top_p, generator=generator)
    for nxt, _ in sample_distributions(model, prompt, max_new_tokens, banned=banned, **sampling):
        yield nxt


def sample_distributions(
    model: Any,
    prompt: Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    banned: Sequence[int] = (),
) -> Iterator[tuple[Tensor, Tensor]]:
    """`sample_steps`, each token (B,) with the probabilities (B, V) it was drawn from (after
    temperature, top-k, top-p and the removal of `banned` tokens where a row drew one)."""
    _check_prompt(prompt, max_new_tokens)
    state, step_input = None, prompt
    banned = _banned_index(banned, prompt.device)
    for _ in range(max_new_tokens):
        was_training = model.training
        model.eval()
        try:
            nxt, probs, state = _sample_step(
                model, step_input, state, banned, temperature, top_k, top_p, generator
            )
        finally:
            model.train(was_training)
        step_input = nxt[:, None]  # (B, 1)
        yield nxt, probs


@decoding_loop
def _sample_step(model: Any, step_input: Tensor, state: Any, banned: Tensor, *sampling: Any):
    """One cached step of `sample_steps`: (the token drawn per row (B,), the probabilities it
    was drawn from (B, V), the new state)."""
    logits, state = model.decode(step_input, state)
    return *_draw(logits[:, -1], banned, *sampling), state
