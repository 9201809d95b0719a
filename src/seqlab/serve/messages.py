"""Error messages more than one part of the server gives, written once.

A served model is named by the name it is served under, never by its checkpoint's folder: an
answer tells a client nothing of the server's files.
"""

from __future__ import annotations

from collections.abc import Iterable

from seqlab.serve.limits import ApiError


def no_model_named(name: str, served: Iterable[str]) -> str:
    """The message of a request for a model that is not served: the served names, sorted."""
    return f"no model named {name!r}; this server has: {', '.join(sorted(served))}"


def unknown_model(name: str, served: Iterable[str]) -> ApiError:
    """The 404 for a request for a model that is not served (`no_model_named`)."""
    return ApiError(404, no_model_named(name, served))
