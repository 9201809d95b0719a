"""Server-sent events for `seqlab serve`: a language model's words step by step.

A stream is opened under the model's lock and its first step drawn there, so bad settings are
still a JSON 422 before any event. After that each step takes the lock for itself alone (other
requests to the model run between two steps), and an error in a later step is one
`data: {"error": ...}` event that ends the stream without `[DONE]`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi.responses import StreamingResponse

from seqlab.errors import SeqlabError
from seqlab.serve.limits import refused

DONE = "data: [DONE]\n\n"


def event(data: Any) -> str:
    """One server-sent event carrying `data` as JSON."""
    return f"data: {json.dumps(data)}\n\n"


def error_event(e: SeqlabError) -> str:
    """The event that ends a stream whose step failed."""
    return event(refused(e).body())


def locked(entry: Any, items: Iterator) -> Iterator:
    """The items, each drawn under the model's lock (so never two steps of a model at once)."""
    while True:
        with entry.lock:
            try:
                item = next(items)
            except StopIteration:
                return
        yield item


def open_stream(
    entry: Any, prompt: str, explain: bool = False, **options: Any
) -> tuple[list[str], Iterator]:
    """`task.stream(...)` (with `explain`: `task.explain_stream(...)`, whose words come with
    their "top") of the model with its first step drawn: (unknown words, the steps). A
    SeqlabError here (bad settings, a prompt past the positional table) is an ApiError 422."""
    task = entry.loaded.task
    opened = task.explain_stream if explain else task.stream
    with entry.lock:
        try:
            unknown, steps = opened(entry.loaded, prompt, **options)
            first = next(steps)
        except SeqlabError as e:
            raise refused(e) from None
    return unknown, itertools.chain([first], locked(entry, steps))


def sse(events: Iterable[str]) -> StreamingResponse:
    """A `text/event-stream` response (not cached, not buffered by proxies)."""
    headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


def word_events(steps: Iterator[list[list[str]]]) -> Iterator[str]:
    """`data: {"word": ...}` per word of the one text, then `data: [DONE]`."""
    try:
        for step in steps:
            for word in step[0]:
                yield event({"word": word})
    except SeqlabError as e:
        yield error_event(e)
        return
    yield DONE


def explain_events(steps: Iterator[list[tuple[str, list]]]) -> Iterator[str]:
    """`data: {"word": ..., "top": [...]}` per word of an explained stream (the top of the step
    that drew the word's last token; [] for the prompt's words), then `data: [DONE]`."""
    try:
        for step in steps:
            for word, top in step:
                yield event({"word": word, "top": top})
    except SeqlabError as e:
        yield error_event(e)
        return
    yield DONE
