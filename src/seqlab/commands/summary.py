"""`seqlab summary`: print a Keras-like table of a model's layers, shapes and parameter counts."""

from __future__ import annotations

import argparse

from seqlab.tasks.configs import ENCODERS

TASK_MODELS = {
    "classify": ENCODERS,
    "lm": ("transformer", "rnn", "lstm", "gru"),
    "translate": ("rnn", "lstm", "gru", "transformer", "compact"),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `summary` sub-command."""
    p = subparsers.add_parser(
        "summary",
        help="print a model's layers, output shapes and parameter counts (Keras-style)",
        description="Build a model from options (or a checkpoint) and print its summary table. "
        "Example, the Keras course baseline (170,305 parameters): seqlab summary --task classify "
        "--model dense --vocab-size 10000 --embed 16 --hidden 32 --max-length 20",
    )
    p.add_argument("--task", choices=sorted(TASK_MODELS), default="classify", help="model family")
    p.add_argument(
        "--model",
        default=None,
        help=f"classify: {'|'.join(ENCODERS)} (default lstm); lm: transformer|rnn|"
        "lstm|gru (default transformer); translate: rnn|lstm|gru|transformer|compact (default gru)",
    )
    p.add_argument("--checkpoint", default=None, help="summarise the model saved in this file")
    p.add_argument("--vocab-size", type=int, default=10_000, help="(source) vocabulary size")
    p.add_argument("--tgt-vocab-size", type=int, default=None, help="translate: target vocabulary")
    p.add_argument("--embed", type=int, default=16, help="embedding size (Transformer d_model)")
    p.add_argument(
        "--hidden", type=int, default=32, help="dense units / recurrent state / feed-forward size"
    )
    p.add_argument("--layers", type=int, default=1, help="number of stacked layers")
    p.add_argument("--heads", type=int, default=2, help="attention heads (Transformer models)")
    p.add_argument("--max-length", type=int, default=20, help="input length of the example")
    p.add_argument("--num-classes", type=int, default=2, help="classify: number of classes")
    p.add_argument("--bidirectional", action="store_true", help="classify: bidirectional RNN")
    p.add_argument("--tie-weights", action="store_true", help="lm: share embedding and decoder")
    p.add_argument(
        "--attention",
        choices=["dot", "general", "additive", "cosine"],
        default=None,
        help="translate (rnn|lstm|gru): attention score; none by default",
    )
    p.add_argument("--buckets", type=int, default=2**18, help="classify ngram/nbsvm: hash buckets")
    p.add_argument("--ngram", type=int, default=2, help="classify ngram/nbsvm: use 1..N-grams")
    p.add_argument(
        "--explain",
        action="store_true",
        help="split each recurrent cell's parameters into U (input-to-hidden), W "
        "(hidden-to-hidden) and biases, as in Goodfellow eq. 10.8",
    )
    p.set_defaults(func=run)


def build_model(args: argparse.Namespace):
    """The model described by the command-line options."""
    from seqlab.errors import SeqlabError
    from seqlab.models import (
        CompactTranslator,
        CompactTranslatorConfig,
        LanguageModel,
        LanguageModelConfig,
        Seq2Seq,
        Seq2SeqConfig,
        SequenceClassifier,
        SequenceClassifierConfig,
        TransformerTranslator,
        TransformerTranslatorConfig,
    )

    default = {"classify": "lstm", "lm": "transformer", "translate": "gru"}[args.task]
    name = args.model or default
    if name not in TASK_MODELS[args.task]:
        raise SeqlabError(
            f"--model {name!r} is not a {args.task} model; choose one of "
            f"{', '.join(TASK_MODELS[args.task])}"
        )
    try:
        if args.task == "classify":
            cfg = SequenceClassifierConfig(
                args.vocab_size, args.num_classes, name, args.embed, args.hidden, args.layers,
                args.bidirectional, max_length=args.max_length, num_heads=args.heads,
                ngram_n=args.ngram, num_buckets=args.buckets,
            )  # fmt: skip
            return SequenceClassifier(cfg)
        if args.task == "lm":
            cfg = LanguageModelConfig(
                args.vocab_size, name, args.embed, args.hidden, args.layers, args.heads,
                tie_weights=args.tie_weights, max_length=max(args.max_length, 1),
            )  # fmt: skip
            return LanguageModel(cfg)
        tgt_vocab = args.tgt_vocab_size or args.vocab_size
        if name == "transformer":
            cfg = TransformerTranslatorConfig(
                args.vocab_size, tgt_vocab, args.embed, args.heads, args.hidden, args.layers,
                args.layers, max_length=max(args.max_length, 1),
            )  # fmt: skip
            return TransformerTranslator(cfg)
        if name == "compact":
            cfg = CompactTranslatorConfig(
                args.vocab_size, tgt_vocab, args.embed, args.heads, args.hidden, args.layers,
                max_length=max(args.max_length, 1),
            )  # fmt: skip
            return CompactTranslator(cfg)
        cfg = Seq2SeqConfig(
            args.vocab_size, tgt_vocab, name, args.embed, args.hidden, args.layers, args.attention
        )
        return Seq2Seq(cfg)
    except ValueError as e:
        raise SeqlabError(str(e)) from e


def load_checkpoint_model(path: str):
    """Rebuild the model stored in a seqlab checkpoint (its kind and config; weights unused)."""
    from pathlib import Path

    import torch

    from seqlab.errors import CheckpointError
    from seqlab.models import model_from_config

    if not Path(path).is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file: say so in one line
        raise CheckpointError(f"cannot read checkpoint {path}: {e}") from e
    if not isinstance(ckpt, dict) or "model_kind" not in ckpt or "model_config" not in ckpt:
        raise CheckpointError(f"{path} is not a seqlab checkpoint (no model_kind/model_config)")
    model = model_from_config(ckpt["model_kind"], ckpt["model_config"])
    if "model" in ckpt:
        model.load_state_dict(ckpt["model"])
    return model


def run(args: argparse.Namespace) -> int:
    """Handler of `seqlab summary`."""
    from seqlab.errors import SeqlabError
    from seqlab.summary import summary

    for option in ("vocab_size", "embed", "hidden", "layers", "heads", "max_length"):
        if getattr(args, option) < 1:
            raise SeqlabError(f"--{option.replace('_', '-')} must be >= 1")
    model = load_checkpoint_model(args.checkpoint) if args.checkpoint else build_model(args)
    length = args.max_length if not args.checkpoint else None
    print(summary(model, length=length, explain=args.explain))
    return 0
