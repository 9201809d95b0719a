"""A language model's continuation word by word, and explained: what `LanguageModelling`'s
`stream`, `explain_stream` and `explain` share.

Tokens are drawn by `seqlab.decoding.sample_distributions` (the sampler of `generate`, so the
same tokens for the same seed), which also gives the distribution each token was drawn from;
a word is final once the next token does not join onto it (BPE pieces), or at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from seqlab.decoding import sample_distributions
from seqlab.errors import SeqlabError
from seqlab.explain import attention_maps, record, recurrent_traces, top_words


def first_words(vocab: Any) -> list[int]:
    """The ids a text without a prompt starts from, uniformly: every word but the specials
    (<pad>, <unk>, <sos>, <eos>)."""
    return [i for i, t in enumerate(vocab.itos) if not (t.startswith("<") and t.endswith(">"))]


def start_tops(loaded: Any, prompt: str, start: list[int]) -> list[list[dict[str, Any]]]:
    """The "top" of each start token: none for a prompt's (not drawn); for the random first
    word without a prompt, the uniform draw it came from (that word first, then 9 others)."""
    if prompt.strip():
        return [[] for _ in start]
    vocab = loaded.encoder.vocab
    first = first_words(vocab)
    ids = [start[0]] + [i for i in first if i != start[0]][:9]
    p = float(f"{1 / len(first):.7g}")
    return [[{"word": vocab.itos[i], "probability": p} for i in ids]]


def final_words(
    loaded: Any, start: torch.Tensor, steps: Iterator[torch.Tensor]
) -> Iterator[list[list[tuple[str, int]]]]:
    """Per step (a token (B,) per text from `steps`), per text, the words that became final
    then, each with the index of its last token (the start's tokens count first); the last
    item holds the words left at the end. A step's ValueError is a SeqlabError."""
    itos, words_of = loaded.encoder.vocab.itos, loaded.encoder.words
    tokens = [[itos[int(i)] for i in row] for row in start.tolist()]
    # last[r][j]: the index of the last token of word j of text r so far
    last = [{len(words_of(row[: k + 1])) - 1: k for k in range(len(row))} for row in tokens]
    sent, end = [0] * len(tokens), False
    while True:
        try:
            for r, (row, i) in enumerate(zip(tokens, next(steps).tolist(), strict=True)):
                row.append(itos[int(i)])
                last[r][len(words_of(row)) - 1] = len(row) - 1
        except StopIteration:
            end = True
        except ValueError as e:  # e.g. past the positional table
            raise SeqlabError(f"cannot generate: {e}") from None
        out = []
        for r, row in enumerate(tokens):
            done = words_of(row)
            upto = len(done) if end else len(done) - 1
            out.append([(done[j], last[r].get(j, -1)) for j in range(sent[r], upto)])
            sent[r] = max(sent[r], upto)
        yield out
        if end:
            return


def explained_words(
    loaded: Any, prompt: str, start: torch.Tensor, new: int, **sampling: Any
) -> Iterator[list[tuple[str, list[dict[str, Any]]]]]:
    """Per step, the words of the one text that became final then (see `final_words`), each
    with the "top" of the step that drew its last token ([] for a prompt's words)."""
    tops = start_tops(loaded, prompt, start[0].tolist())
    itos = loaded.encoder.vocab.itos
    draws = sample_distributions(loaded.model, start.to(loaded.device), new, **sampling)

    def steps() -> Iterator[torch.Tensor]:
        for nxt, probs in draws:
            tops.append(top_words(probs[0], itos))
            yield nxt

    for item in final_words(loaded, start, steps()):
        yield [(w, tops[i] if i >= 0 else []) for w, i in item[0]]


def explained(
    loaded: Any, prompt: str, start: torch.Tensor, new: int, **sampling: Any
) -> dict[str, Any]:
    """The explain contract's answer for one text: draw `new` tokens after `start` (1, T)
    (`sampling`: generator, banned, temperature, top_k, top_p as `generate` takes them), each
    step's word and top 10, then one recorded pass over all the tokens."""
    model, itos = loaded.model, loaded.encoder.vocab.itos
    ids, tops = start[0].tolist(), start_tops(loaded, prompt, start[0].tolist())
    try:
        for nxt, probs in sample_distributions(model, start.to(loaded.device), new, **sampling):
            ids.append(int(nxt[0]))
            tops.append(top_words(probs[0], itos))
    except ValueError as e:  # e.g. past the positional table, or a bad top-p
        raise SeqlabError(f"cannot generate: {e}") from None
    strings = [itos[i] for i in ids]
    with torch.no_grad(), record(model) as recording:
        model.decode(torch.tensor([ids], device=loaded.device))
    return {
        "steps": [{"word": w, "top": t} for w, t in zip(strings, tops, strict=True) if t],
        "tokens": strings,
        "attention": attention_maps(recording, 0, strings, model=model),
        "recurrent": recurrent_traces(recording, 0, strings, model),
    }
