"""`seqlab train classify|lm|translate`: train a model; under torchrun with DDP.

Every option is a field of the task's run config (seqlab.tasks.configs), declared there once
with its help text; `seqlab.commands.options` turns the fields into flags and TOML keys.
"""

from __future__ import annotations

import argparse

from seqlab.commands.options import DRY_RUN_LIMIT, add_run_options, train_task

# (task, help, description, dry-run note, its presets' help)
TRAIN_COMMANDS = (
    (
        "classify",
        "text classification (IMDB, TREC or your CSV/TSV/JSONL)",
        "Train a text classifier, then report its test accuracy.",
        f" on {DRY_RUN_LIMIT} texts",
        "duke = the Duke assignment's IMDB LSTM (7:1:2 split of all 50,000 reviews, English "
        "stop words removed, min-freq 5, 256 tokens, LSTM 100, SGD 0.01, 5 epochs)",
    ),
    (
        "lm",
        "language modelling (WikiText-2 or your text)",
        "Train a language model, then report its test perplexity. Recurrent models carry "
        "their state across bptt windows (truncated BPTT).",
        "",
        "course = the assignment's Transformer; cpu-lstm = seqlab's fast LSTM with an "
        "adaptive softmax",
    ),
    (
        "translate",
        "translation (Multi30k de-en or your parallel files)",
        "Train a seq2seq or Transformer translator, then report its teacher-forced perplexity "
        "and BLEU on the test split.",
        " on 200 pairs per split",
        "",
    ),
)


def run_train(args: argparse.Namespace) -> int:
    """Handler of `seqlab train TASK`."""
    from seqlab.tasks import get_task

    return train_task(get_task(args.task), args)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `train` to the seqlab command line."""
    from seqlab.tasks import configs
    from seqlab.tasks.presets import CLASSIFY_PRESETS, LM_PRESETS

    train = subparsers.add_parser(
        "train",
        help="train a model (classify, lm, translate)",
        description="Train a model; run under torchrun for DDP.",
    )
    tasks = train.add_subparsers(dest="task", metavar="TASK", required=True)
    run_classes = {"classify": configs.ClassifyRun, "lm": configs.LMRun}
    run_classes["translate"] = configs.TranslateRun
    presets = {"classify": CLASSIFY_PRESETS, "lm": LM_PRESETS}
    for name, help, description, dry, preset_help in TRAIN_COMMANDS:
        p = tasks.add_parser(
            name, help=help, description=description, argument_default=argparse.SUPPRESS
        )
        add_run_options(
            p, run_classes[name], out=f"runs/{name}", dry=dry, presets=presets.get(name),
            preset_help=preset_help,
        )  # fmt: skip
        p.set_defaults(func=run_train)
