"""`seqlab serve CHECKPOINT...`: trained models over HTTP (JSON API under /v1)."""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

LOCAL = ("127.0.0.1", "localhost", "::1")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def model_names(checkpoints: list[str], names: list[str] | None) -> list[str]:
    """The name of each checkpoint: `--name` in order, else its parent folder's name."""
    from seqlab.errors import SeqlabError

    if names and len(names) != len(checkpoints):
        raise SeqlabError(
            f"{len(checkpoints)} checkpoints but {len(names)} --name: give one name each"
        )
    names = names or [Path(c).resolve().parent.name for c in checkpoints]
    for name in names:
        if not NAME.fullmatch(name):
            raise SeqlabError(f"model name {name!r}: use letters, digits, '.', '_' and '-' only")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SeqlabError(f"two checkpoints are named {', '.join(twice)}: give --name for each")
    return names


def run_serve(args: argparse.Namespace) -> int:
    """Handler of `seqlab serve`."""
    from seqlab.errors import SeqlabError

    try:
        import uvicorn

        from seqlab.serve.app import create_app
        from seqlab.serve.batching import BatchSettings
        from seqlab.serve.limits import Limits
    except ModuleNotFoundError as e:
        raise SeqlabError(
            f"seqlab serve needs {e.name}: pip install -e '.[serve]' (FastAPI and uvicorn)"
        ) from None
    from seqlab.tasks import load

    names = model_names(args.checkpoints, args.name)
    names_of_limits = (
        "max_body_bytes",
        "max_texts",
        "max_chars",
        "max_words",
        "max_explain_tokens",
        "max_explain_texts",
    )
    limits = Limits(**{k: getattr(args, k) for k in names_of_limits})
    for name in names_of_limits:
        if getattr(limits, name) < 1:
            raise SeqlabError(f"--{name.replace('_', '-')} must be at least 1")
    batching = BatchSettings(args.max_batch, args.batch_wait_ms, args.max_queue, args.timeout)
    for flag, value in (("--max-batch", args.max_batch), ("--max-queue", args.max_queue)):
        if value < 1:
            raise SeqlabError(f"{flag} must be at least 1, got {value}")
    if not (math.isfinite(args.batch_wait_ms) and args.batch_wait_ms >= 0):
        raise SeqlabError(f"--batch-wait-ms must be a finite number >= 0, got {args.batch_wait_ms}")
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise SeqlabError(f"--timeout must be a finite number of seconds > 0, got {args.timeout}")
    models = {}
    for name, path in zip(names, args.checkpoints, strict=True):
        models[name] = load(path, args.device)
        print(f"model {name}: {path} ({models[name].task.name})", file=sys.stderr)
    if args.host not in LOCAL:
        print(
            f"seqlab serve: warning: listening on {args.host}, not only this machine: anyone who "
            "can reach the port can use the models" + ("" if args.api_key else " (no --api-key)"),
            file=sys.stderr,
        )
    app = create_app(
        models, limits, api_key=args.api_key, batching=batching, data_dir=args.data_dir
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `serve` to the seqlab command line."""
    from seqlab.serve.batching import BatchSettings
    from seqlab.serve.limits import Limits

    defaults = Limits()
    p = subparsers.add_parser(
        "serve",
        help="serve checkpoints over HTTP (JSON API, OpenAPI at /docs)",
        description="Load checkpoints once and answer /v1/classify, /v1/generate and "
        "/v1/translate requests; /v1/models lists them, /health says the server is up, /docs "
        "describes the API. Binds to 127.0.0.1 unless --host says otherwise.",
    )
    p.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT", help="checkpoint files (.pt)")
    p.add_argument(
        "--name", action="append", help="name of each checkpoint, in order (default: the "
        "checkpoint's folder name)",
    )  # fmt: skip
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument("--api-key", help="require `Authorization: Bearer KEY` on every /v1 request")
    for name, what in (
        ("max_body_bytes", "bytes per request body"),
        ("max_texts", "texts per request"),
        ("max_chars", "characters per text"),
        ("max_words", "words to generate"),
        ("max_explain_tokens", 'tokens of one text explained ("explain": true)'),
        ("max_explain_texts", 'texts of one request explained ("explain": true)'),
    ):
        default = getattr(defaults, name)
        flag = "--" + name.replace("_", "-")
        p.add_argument(flag, type=int, default=default, help=f"{what} (default: {default})")
    batching = BatchSettings()
    p.add_argument(
        "--max-batch", type=int, default=batching.max_batch,
        help="texts gathered from concurrent classify or translate requests into one batch "
        "(classify runs it in length-sorted chunks of 16); 1 turns batching off "
        f"(default: {batching.max_batch})",
    )  # fmt: skip
    p.add_argument(
        "--batch-wait-ms", type=float, default=batching.wait_ms,
        help="how long a request waits for others to share its forward pass "
        f"(default: {batching.wait_ms:g})",
    )  # fmt: skip
    p.add_argument(
        "--max-queue", type=int, default=batching.max_queue,
        help=f"requests waiting per model before 503 (default: {batching.max_queue})",
    )  # fmt: skip
    p.add_argument(
        "--timeout", type=float, default=batching.timeout_s,
        help=f"seconds a request may wait for its batch or for a busy model before 504 (default: "
        f"{batching.timeout_s:g})",
    )  # fmt: skip
    p.add_argument("--device", default="cpu", help="cpu, cuda or mps (default: cpu)")
    p.add_argument(
        "--data-dir",
        default=None,
        help="folder holding uuml/*.rda for the explorer's course examples (default: "
        "$SEQLAB_DATA, then ../shared/data)",
    )
    p.set_defaults(func=run_serve)
