"""The `seqlab serve` ASGI app: loaded checkpoints behind a JSON API under `/v1`.

The checkpoints are fixed when the app is made (`create_app(models)`); a request names a model,
never a file. Every error is JSON, `{"error": {"status", "message"[, "limit"]}}`, and leaves the
server as it was. Each model answers one request at a time (a lock per model): the tasks' calls
are not written for several threads sharing one model. Classify requests to one model are
batched dynamically (`seqlab.serve.batching`): those that arrive within a few milliseconds share
one forward pass (translate requests too, when they ask for the same decoding).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from seqlab.errors import SeqlabError
from seqlab.serve.batching import Batcher, BatchSettings, by_length
from seqlab.serve.completions import add_completions
from seqlab.serve.jsonsafe import json_safe
from seqlab.serve.limits import ApiError, Guard, Limits, Strict, check_texts, over, refused
from seqlab.serve.messages import unknown_model
from seqlab.serve.pages import add_pages
from seqlab.serve.streaming import explain_events, open_stream, sse, word_events
from seqlab.tasks.interfaces import Classifies, Explains, Generates, Loaded, Translates
from seqlab.tasks.multilabel import decision_thresholds

# What each capability is called in errors, and the endpoint that uses it.
CAPABILITIES = {
    Classifies: ("a classifier", "/v1/classify"),
    Generates: ("a language model", "/v1/generate"),
    Translates: ("a translator", "/v1/translate"),
}


class ClassifyRequest(Strict):
    """`POST /v1/classify`."""

    model: str
    texts: list[str] = Field(min_length=1)
    explain: bool = False  # each result also says what the model looked at


class GenerateRequest(Strict):
    """`POST /v1/generate`: one continuation; with `stream`, server-sent events of its words."""

    model: str
    prompt: str = ""
    max_words: int = Field(20, ge=1)
    temperature: float = Field(1.0, ge=0, allow_inf_nan=False)
    top_k: int | None = Field(None, ge=1)
    top_p: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)
    seed: int | None = Field(None, ge=0, lt=2**63)
    stream: bool = False
    explain: bool = False  # each drawn token's top 10; maps and traces of the whole text


class TranslateRequest(Strict):
    """`POST /v1/translate`; settings left out are as trained."""

    model: str
    texts: list[str] = Field(min_length=1)
    beam: int | None = Field(None, ge=1)
    length_penalty: float | None = Field(None, ge=-10, le=10, allow_inf_nan=False)
    max_length: int | None = Field(None, ge=1)
    explain: bool = False  # each text's final beam and attention maps


@dataclass
class Served:
    """One loaded checkpoint under its name, with what `/v1/models` says of it."""

    name: str
    loaded: Loaded
    info: dict[str, Any]
    lock: threading.Lock = field(default_factory=threading.Lock)
    batcher: Batcher | None = None  # classifiers and translators: their texts, batched


def describe(name: str, loaded: Loaded) -> dict[str, Any]:
    """Name, task, model kind, parameters, saved run config and test metrics of a checkpoint."""
    from seqlab.config import to_dict

    test = None
    results = loaded.path.parent / "results.json"
    try:
        test = json.loads(results.read_text(encoding="utf-8")).get("test")
    except (OSError, ValueError, AttributeError):  # no results.json, or not one of ours
        pass
    task = loaded.task
    capabilities = [path for cap, (_, path) in CAPABILITIES.items() if isinstance(task, cap)]
    return json_safe(
        {
            "name": name,
            "task": task.name,
            "model_kind": loaded.state.get("model_kind"),
            "parameters": sum(p.numel() for p in loaded.model.parameters()),
            "capabilities": capabilities,
            "label_names": loaded.label_names,
            "config": to_dict(loaded.run),
            "test": test,
        }
    )


def labelled(
    names: list[str], row: list[float], thresholds: list[float] | None = None
) -> dict[str, Any]:
    """A classify result: the best label, its probability and every class's; for a
    multi-label model (`thresholds`: one per label) also "labels", those above their
    thresholds, most probable first."""
    best = max(range(len(row)), key=row.__getitem__)
    result = {
        "label": names[best],
        "probability": row[best],
        "probabilities": dict(zip(names, row, strict=True)),
    }
    if thresholds is not None:
        above = sorted((k for k, t in enumerate(thresholds) if row[k] > t), key=lambda k: -row[k])
        result["labels"] = [names[k] for k in above]
    return result


def probabilities_batcher(entry: Served, settings: BatchSettings) -> Batcher:
    """A Batcher answering each text with its row of class probabilities (as a list)."""
    task, loaded = entry.loaded.task, entry.loaded

    def rows(texts: list[str], options: None) -> list[list[float]]:
        return by_length(lambda part: task.probabilities(loaded, part).tolist(), texts)

    return Batcher(rows, settings, entry.lock, entry.name)


def translations_batcher(entry: Served, settings: BatchSettings) -> Batcher:
    """A Batcher answering each text with (translation, score); requests share a batch only
    when they ask for the same decoding (beam, length_penalty, max_decode)."""
    task, loaded = entry.loaded.task, entry.loaded

    def translations(texts: list[str], options: tuple) -> list[tuple[str, float]]:
        out, scores, _ = task.translate_with_scores(loaded, texts, **dict(options))
        return list(zip(out, scores, strict=True))

    return Batcher(translations, settings, entry.lock, entry.name)


def create_app(
    models: dict[str, Loaded],
    limits: Limits | None = None,
    api_key: str | None = None,
    batching: BatchSettings | None = None,
    data_dir: str | None = None,
) -> FastAPI:
    """The ASGI app serving `models` (name -> loaded checkpoint); no CORS headers. `batching`
    says how classify and translate requests are gathered (`BatchSettings(max_batch=1)`: one
    at a time) and how long any request waits for a busy model (`timeout_s`);
    `data_dir` holds the course examples of the explorer pages (`seqlab.serve.pages`)."""
    limits = limits or Limits()
    served = {name: Served(name, loaded, describe(name, loaded)) for name, loaded in models.items()}
    for entry in served.values():
        if isinstance(entry.loaded.task, Classifies):
            entry.batcher = probabilities_batcher(entry, batching or BatchSettings())
        elif isinstance(entry.loaded.task, Translates):
            entry.batcher = translations_batcher(entry, batching or BatchSettings())

    batchers = [entry.batcher for entry in served.values() if entry.batcher is not None]
    timeout = (batching or BatchSettings()).timeout_s

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        # Off the event loop: each worker finishes its queue (the batchers restart on demand).
        await asyncio.to_thread(lambda: [b.close() for b in batchers])

    app = FastAPI(
        lifespan=lifespan,
        title="seqlab serve",
        description="Trained seqlab checkpoints over HTTP. Errors are JSON: "
        '`{"error": {"status", "message", "limit"}}`.',
        version="1",
    )
    app.add_middleware(Guard, limits=limits, api_key=api_key)
    app.state.served = served

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # The offending input is left out: it may be megabytes long.
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:10]]
        return JSONResponse(
            ApiError(422, "invalid request: " + "; ".join(problems)).body(), status_code=422
        )

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not the client's doing: the traceback goes to the server's log (uvicorn
        # logs the exception re-raised after this answer), never into the response.
        message = f"internal error ({type(exc).__name__}); the server's log has the details"
        return JSONResponse(ApiError(500, message).body(), status_code=500)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(
            ApiError(exc.status_code, str(exc.detail)).body(), status_code=exc.status_code
        )

    def model(name: str, capability: type) -> Served:
        """The served model called `name` that has `capability`; else a 404 / 400 ApiError."""
        if name not in served:
            raise unknown_model(name, served)
        entry = served[name]
        if not isinstance(entry.loaded.task, capability):
            what, _ = CAPABILITIES[capability]
            task = entry.loaded.task.name
            can = ", ".join(entry.info["capabilities"]) or "none of the /v1 tasks"
            raise ApiError(400, f"model {name!r} ({task} task) is not {what}; it serves: {can}")
        return entry

    def call(entry: Served, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """`fn(loaded, ...)` under the model's lock, waited for at most the timeout (504); a
        SeqlabError (bad settings) is a 422."""
        if not entry.lock.acquire(timeout=timeout):
            raise ApiError(
                504, f"model {entry.name!r} was busy for timeout_s={timeout:g} seconds",
                limit="timeout_s",
            )  # fmt: skip
        try:
            return fn(entry.loaded, *args, **kwargs)
        except SeqlabError as e:
            raise refused(e) from None
        finally:
            entry.lock.release()

    def explainer(entry: Served) -> Any:
        """The task of a model that can explain (`Explains`); else a 400 ApiError."""
        if not isinstance(entry.loaded.task, Explains):
            raise ApiError(400, f"model {entry.name!r} cannot explain its answers")
        return entry.loaded.task

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """The server is up; how many models it holds."""
        return {"status": "ok", "models": len(served)}

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        """Every served model: name, task, model kind, parameters, config, test metrics."""
        return {"models": [entry.info for entry in served.values()]}

    def explaining(texts: list[str]) -> None:
        """ApiError 422 for more texts than one request may have explained."""
        over(limits, "max_explain_texts", len(texts), "texts with explain")

    @app.post("/v1/classify")
    async def classify(req: ClassifyRequest) -> dict[str, Any]:
        """Label and the probability of every class, per text."""
        check_texts(limits, req.texts)
        entry = model(req.model, Classifies)
        if req.explain:
            explaining(req.texts)
            results = await run_in_threadpool(classify_explained, entry, req.texts)
            return {"model": req.model, "results": results}
        probs = await entry.batcher.asubmit(req.texts)  # (B, num_classes), in a shared batch
        names, cuts = entry.loaded.label_names, decision_thresholds(entry.loaded)
        results = [labelled(names, row, cuts) for row in probs]
        return {"model": req.model, "results": results}

    def classify_explained(entry: Served, texts: list[str]) -> list[dict[str, Any]]:
        """Each text's result with its "explain", one text at a time (never batched)."""
        task, bound = explainer(entry), limits.max_explain_tokens

        def explained(loaded: Loaded) -> list[dict[str, Any]]:
            found = [task.explain(loaded, text, max_tokens=bound) for text in texts]
            rows = task.probabilities(loaded, texts).tolist()
            names, cuts = loaded.label_names, decision_thresholds(loaded)
            results = [labelled(names, r, cuts) for r in rows]
            return [{**r, "explain": e} for r, e in zip(results, found, strict=True)]

        return call(entry, explained)

    @app.post("/v1/generate")
    def generate(req: GenerateRequest) -> Any:
        """One continuation of the prompt (a random first word without one). With `stream`:
        `text/event-stream`, `data: {"word": ...}` per word as it is drawn, then
        `data: [DONE]`; the same words, prompt first, as without for the same seed."""
        over(limits, "max_words", req.max_words, "max_words")
        over(limits, "max_chars", len(req.prompt), "prompt: characters")
        entry = model(req.model, Generates)
        options = req.model_dump(exclude={"model", "prompt", "max_words", "stream", "explain"})
        if req.explain:
            return generate_explained(entry, req, options)
        if req.stream:
            _, steps = open_stream(entry, req.prompt, words=req.max_words, num=1, **options)
            return sse(word_events(steps))
        texts, unknown = call(
            entry, entry.loaded.task.generate, req.prompt, words=req.max_words, num=1, **options
        )
        return {"model": req.model, "text": texts[0], "unknown_words": sorted(set(unknown))}

    def generate_explained(entry: Served, req: GenerateRequest, options: dict) -> Any:
        """`generate` with `explain`: the answer with its "explain", or a stream whose events
        carry each word's "top"."""
        task, settings = explainer(entry), {"words": req.max_words, **options}
        bound = limits.max_explain_tokens
        if req.stream:
            _, steps = open_stream(entry, req.prompt, explain=True, max_tokens=bound, **settings)
            return sse(explain_events(steps))

        # One seed for both calls, drawn here when the request has none: the text and its
        # explanation are then the same draw.
        settings["seed"] = req.seed if req.seed is not None else secrets.randbelow(2**63)

        def explained(loaded: Loaded) -> dict[str, Any]:
            found = task.explain(loaded, req.prompt, max_tokens=bound, **settings)
            texts, unknown = task.generate(loaded, req.prompt, num=1, **settings)
            return {"text": texts[0], "unknown_words": sorted(set(unknown)), "explain": found}

        return {"model": req.model, **call(entry, explained)}

    @app.post("/v1/translate")
    async def translate(req: TranslateRequest) -> dict[str, Any]:
        """Translations of the texts (empty texts stay empty) and notes on the input."""
        check_texts(limits, req.texts)
        if req.beam is not None:
            over(limits, "max_beam", req.beam, "beam")
        if req.max_length is not None:
            over(limits, "max_length", req.max_length, "max_length")
        entry = model(req.model, Translates)
        decode = {"beam": req.beam, "length_penalty": req.length_penalty}
        decode["max_decode"] = req.max_length
        if req.explain:
            explaining(req.texts)
            explained = await run_in_threadpool(translate_explained, entry, req.texts, decode)
            return {"model": req.model, **explained}
        notes = entry.loaded.task.input_notes(entry.loaded, req.texts)  # this request's own
        results = await entry.batcher.asubmit(req.texts, tuple(sorted(decode.items())))
        out, scores = [list(column) for column in zip(*results, strict=True)]
        return {"model": req.model, "translations": out, "scores": scores, "notes": notes}

    def translate_explained(entry: Served, texts: list[str], decode: dict) -> dict[str, Any]:
        """The translations with each text's "explain" (an over-long text refused first)."""
        task, bound = explainer(entry), limits.max_explain_tokens

        def explained(loaded: Loaded) -> dict[str, Any]:
            found = [task.explain(loaded, text, max_tokens=bound, **decode) for text in texts]
            out, scores, notes = task.translate_with_scores(loaded, texts, **decode)
            return {"translations": out, "scores": scores, "notes": notes, "explain": found}

        return call(entry, explained)

    add_completions(app, limits, model)
    add_pages(app, served, data_dir)
    return app
