"""`seqlab predict CHECKPOINT TEXT...`: label texts with a classifier checkpoint."""

from __future__ import annotations

import argparse
import sys


def run_predict(args: argparse.Namespace) -> int:
    """Handler of `seqlab predict`."""
    from seqlab.commands.options import read_texts
    from seqlab.errors import SeqlabError
    from seqlab.tasks import load
    from seqlab.tasks.base import Classifies, require

    texts = args.texts
    if texts == ["-"]:  # before the checkpoint loads: bad input fails fast
        texts = [t for t in read_texts(texts, args.encoding) if t.strip()]
        if not texts:
            raise SeqlabError("nothing to classify: standard input holds no text")
    loaded = load(args.checkpoint, args.device)
    if args.ensemble:
        from seqlab.ensemble import predict

        members = [loaded] + [load(path, args.device) for path in args.ensemble]
        labels, weights = predict(members, texts, args.weights)
        print("ensemble weights: " + ", ".join(f"{w:.2f}" for w in weights), file=sys.stderr)
    else:
        labels = require(loaded, Classifies, "a classifier").predict(loaded, texts)
    for text, (label, prob) in zip(texts, labels, strict=True):
        short = text if len(text) <= 60 else text[:57] + "..."
        print(f"{label}\t{prob:.4f}\t{short}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `predict` to the seqlab command line."""
    from seqlab.commands.evaluate import add_ensemble_options
    from seqlab.commands.options import checkpoint_command

    pr = checkpoint_command(
        subparsers, "predict", "label and probability for texts",
        "Classify texts with a checkpoint.", "seqlab train",
    )  # fmt: skip
    pr.add_argument(
        "texts", nargs="+", metavar="TEXT", help="texts to classify ('-': stdin, one a line)"
    )
    pr.add_argument(
        "--encoding", default="utf-8", help="of standard input; undecodable bytes are an error "
        "(default: utf-8)",
    )  # fmt: skip
    pr.add_argument("--device", default="cpu", help="cpu, cuda or mps (default: cpu)")
    add_ensemble_options(pr)
    pr.set_defaults(func=run_predict)
