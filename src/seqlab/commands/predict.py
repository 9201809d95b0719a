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
    from seqlab.tasks.multilabel import loaded_is_multi_label

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
        task = require(loaded, Classifies, "a classifier")
        if loaded_is_multi_label(loaded):  # every label above its threshold, or "-"
            for text, given in zip(texts, task.labels_above(loaded, texts), strict=True):
                shown = ", ".join(f"{label} {prob:.4f}" for label, prob in given)
                print(f"{shown or '-'}\t{_short(text)}")
            return 0
        labels = task.predict(loaded, texts)
    for text, (label, prob) in zip(texts, labels, strict=True):
        print(f"{label}\t{prob:.4f}\t{_short(text)}")
    return 0


def _short(text: str) -> str:
    """The text, or its first 57 characters and "..." if longer than 60."""
    return text if len(text) <= 60 else text[:57] + "..."


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `predict` to the seqlab command line."""
    from seqlab.commands.evaluate import add_ensemble_options
    from seqlab.commands.options import checkpoint_command

    pr = checkpoint_command(
        subparsers, "predict", "label and probability for texts",
        "Classify texts with a checkpoint: the most likely label and its probability, or for a "
        "multi-label checkpoint every label above its threshold with its probability ('-': "
        "none).", "seqlab train",
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
