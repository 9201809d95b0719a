"""`seqlab predict CHECKPOINT TEXT...`: label texts with a classifier checkpoint."""

from __future__ import annotations

import argparse


def run_predict(args: argparse.Namespace) -> int:
    """Handler of `seqlab predict`."""
    from seqlab.commands.options import read_texts
    from seqlab.tasks import load
    from seqlab.tasks.base import Classifies, require

    loaded = load(args.checkpoint)
    task = require(loaded, Classifies, "a classifier")
    texts = args.texts
    if texts == ["-"]:
        texts = [t for t in read_texts(texts) if t.strip()]
    for text, (label, prob) in zip(texts, task.predict(loaded, texts), strict=True):
        short = text if len(text) <= 60 else text[:57] + "..."
        print(f"{label}\t{prob:.4f}\t{short}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `predict` to the seqlab command line."""
    from seqlab.commands.options import checkpoint_command

    pr = checkpoint_command(
        subparsers, "predict", "label and probability for texts",
        "Classify texts with a checkpoint.", "seqlab train",
    )  # fmt: skip
    pr.add_argument("texts", nargs="+", metavar="TEXT", help="texts to classify ('-': stdin)")
    pr.set_defaults(func=run_predict)
