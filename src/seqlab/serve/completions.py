"""`POST /v1/completions`: the OpenAI completions API for the served language models.

The request and answer follow OpenAI's shape (`model`, `prompt` a string or a list, `max_tokens`,
`temperature`, `top_p`, `n`, `seed`, `stream`; `choices` of `{text, index, finish_reason,
logprobs: null}` and `usage`), so the official clients work against it. `text` is the
continuation alone (no echo), starting with a space after a prompt; there is no stop sequence,
so every choice runs `max_tokens` tokens (`finish_reason` "length"). Choice `i * n + j` is the
`j`-th continuation of prompt `i`; with a seed each prompt's generator starts from it, so the
same request gives the same choices, streamed or not. Other OpenAI fields (`stop`, `echo`,
`logprobs`, ...) are refused (422) rather than ignored.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from pydantic import Field

from seqlab.errors import SeqlabError
from seqlab.serve.limits import ApiError, Limits, Strict, check_texts, over
from seqlab.serve.streaming import DONE, error_event, event, open_stream, sse
from seqlab.tasks.interfaces import Generates


class CompletionRequest(Strict):
    """`POST /v1/completions` (OpenAI's legacy completions API)."""

    model: str
    prompt: str | list[str] = ""
    max_tokens: int = Field(16, ge=1)
    temperature: float = Field(1.0, ge=0, le=2, allow_inf_nan=False)
    top_p: float = Field(1.0, gt=0, le=1, allow_inf_nan=False)
    n: int = Field(1, ge=1)
    seed: int | None = Field(None, ge=0, lt=2**63)
    stream: bool = False
    user: str | None = None


def prompt_tokens(loaded: Any, prompt: str) -> list[str]:
    """The prompt's tokens, as the task reads them (none for a blank prompt)."""
    return loaded.encoder.tokenize(prompt) if prompt.strip() else []


def choice_texts(loaded: Any, prompt: str, steps: Iterator, n: int) -> Iterator[list[str]]:
    """Per step, each choice's new text: the words after the prompt's, each after a space
    (but the first word when there is no prompt)."""
    skip = len(loaded.encoder.words(prompt_tokens(loaded, prompt)))
    seen = [0] * n
    for step in steps:
        out = []
        for j, words in enumerate(step):
            text = ""
            for word in words:
                if seen[j] >= skip:
                    text += word if seen[j] == 0 else " " + word
                seen[j] += 1
            out.append(text)
        yield out


def add_completions(app: FastAPI, limits: Limits, model: Callable[[str, type], Any]) -> None:
    """Add `POST /v1/completions` to `app`; `model(name, Generates)` finds the served model."""

    @app.post("/v1/completions")
    def completions(req: CompletionRequest) -> Any:
        """OpenAI-style completions of one prompt or a list of prompts (`n` each); with
        `stream`, OpenAI's server-sent chunks, then `data: [DONE]`."""
        prompts = [req.prompt] if isinstance(req.prompt, str) else req.prompt
        if not prompts:
            raise ApiError(422, "invalid request: prompt: an empty list")
        check_texts(limits, prompts, "prompt")
        over(limits, "max_texts", len(prompts) * req.n, "prompts times n")
        over(limits, "max_words", req.max_tokens, "max_tokens")
        entry = model(req.model, Generates)
        loaded = entry.loaded
        options = {
            "words": req.max_tokens,
            "num": req.n,
            "temperature": req.temperature,
            "top_p": req.top_p,
            "seed": req.seed,
        }
        head = {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": req.model,
        }

        def choice(index: int, text: str, finish: str | None) -> dict[str, Any]:
            return {"text": text, "index": index, "finish_reason": finish, "logprobs": None}

        first = open_stream(entry, prompts[0], **options)[1]  # bad settings: a 422 here
        if req.stream:

            def chunks() -> Iterator[str]:
                try:
                    for i, prompt in enumerate(prompts):
                        steps = first if i == 0 else open_stream(entry, prompt, **options)[1]
                        for texts in choice_texts(loaded, prompt, steps, req.n):
                            for j, text in enumerate(texts):
                                if text:
                                    yield event(
                                        {**head, "choices": [choice(i * req.n + j, text, None)]}
                                    )
                        for j in range(req.n):
                            yield event({**head, "choices": [choice(i * req.n + j, "", "length")]})
                except (SeqlabError, ApiError) as e:
                    yield error_event(SeqlabError(getattr(e, "message", str(e))))
                    return
                yield DONE

            return sse(chunks())
        choices, used = [], 0
        for i, prompt in enumerate(prompts):
            try:
                steps = first if i == 0 else open_stream(entry, prompt, **options)[1]
                texts = [""] * req.n
                for step in choice_texts(loaded, prompt, steps, req.n):
                    texts = [a + b for a, b in zip(texts, step, strict=True)]
            except SeqlabError as e:
                raise ApiError(422, str(e)) from None
            choices += [choice(i * req.n + j, t, "length") for j, t in enumerate(texts)]
            used += len(prompt_tokens(loaded, prompt))
        made = len(choices) * req.max_tokens
        usage = {"prompt_tokens": used, "completion_tokens": made, "total_tokens": used + made}
        return {**head, "choices": choices, "usage": usage}
