"""What a request to `seqlab serve` may ask for, and the one guard every request passes first.

Each limit has a name that the JSON error repeats, so a client knows which one it hit. The
guard is plain ASGI (no framework): it checks the API key of every `/v1` request and reads the
body up to `max_body_bytes` before the app parses a byte of it.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from seqlab.errors import SeqlabError
from seqlab.explain import TooManyTokens

JSON_HEADERS = [(b"content-type", b"application/json")]


@dataclass(frozen=True)
class Limits:
    """Bounds on one request; each is refused with a JSON error that names it."""

    max_body_bytes: int = 1_000_000  # 413
    max_texts: int = 256  # texts per classify / translate request (422)
    max_chars: int = 10_000  # characters per text or prompt (422)
    max_words: int = 500  # words to generate (422)
    max_beam: int = 16  # beam width (422)
    max_length: int = 512  # tokens per translation (422)
    max_explain_tokens: int = 256  # tokens of one text explained (`"explain": true`, 422)
    max_explain_texts: int = 8  # texts of one request explained: each answer is ~T² numbers (422)


class Strict(BaseModel):
    """A request body: no unknown fields, no silent conversions ("5" is not 5)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ApiError(Exception):
    """A refused request: HTTP status, a message, and the limit it hit (if one)."""

    def __init__(self, status: int, message: str, limit: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.limit = status, message, limit

    def body(self) -> dict[str, Any]:
        """The JSON body of the error response."""
        error: dict[str, Any] = {"status": self.status, "message": self.message}
        if self.limit is not None:
            error["limit"] = self.limit
        return {"error": error}


def over(limits: Limits, name: str, value: int, what: str) -> None:
    """ApiError 422 if `value` exceeds the limit called `name`."""
    bound = getattr(limits, name)
    if value > bound:
        raise ApiError(422, f"{what}: {value}, more than the limit {name}={bound}", limit=name)


def refused(e: SeqlabError) -> ApiError:
    """The 422 of a task's SeqlabError (bad settings); an explanation over too many tokens
    names the limit `max_explain_tokens` (whose value the task was given as `max_tokens`)."""
    if isinstance(e, TooManyTokens):
        return ApiError(422, f"{e} (the limit max_explain_tokens)", limit="max_explain_tokens")
    return ApiError(422, str(e))


def check_texts(limits: Limits, texts: list[str], field: str = "texts") -> None:
    """ApiError 422 for too many texts or a text too long."""
    over(limits, "max_texts", len(texts), f"{field}: number of texts")
    for i, text in enumerate(texts):
        over(limits, "max_chars", len(text), f"{field}[{i}]: characters")


class Guard:
    """ASGI middleware: the API key of `/v1` requests (401), then the body size (413).

    The body is read here, in full but never past the limit, and replayed to the app: a client
    that sends no Content-Length (chunked) is bounded the same way as one that does.
    """

    def __init__(self, app: Any, limits: Limits, api_key: str | None = None) -> None:
        self.app, self.limits, self.api_key = app, limits, api_key

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if self.api_key is not None and scope["path"].startswith("/v1"):
            if not self._key_ok(headers):
                error = ApiError(401, "a valid API key is required: Authorization: Bearer KEY")
                extra = [(b"www-authenticate", b"Bearer")]
                await respond(send, error, extra)
                return
        limit = self.limits.max_body_bytes
        too_large = ApiError(413, f"the request body is over {limit} bytes", "max_body_bytes")
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await respond(send, too_large)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await respond(send, too_large)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:  # after the body: wait for the disconnect as the server reports it
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _key_ok(self, headers: dict[bytes, bytes]) -> bool:
        """Is `Authorization: Bearer KEY` (or `X-API-Key: KEY`) the server's key?"""
        given = headers.get(b"x-api-key", b"")
        auth = headers.get(b"authorization", b"")
        if auth[:7].lower() == b"bearer ":
            given = auth[7:].strip()
        # compare_digest: the time taken does not tell how much of the key was right
        return hmac.compare_digest(given, self.api_key.encode())


async def respond(send: Any, error: ApiError, extra: list | None = None) -> None:
    """Send `error` as a complete JSON response."""
    body = json.dumps(error.body()).encode()
    length = [(b"content-length", str(len(body)).encode())]
    headers = JSON_HEADERS + length + (extra or [])
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
