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


# `--model` names of this command that stand for other training options: translate's cells are
# seq2seq models of that cell.
ALIASES = {("translate", c): {"model": "seq2seq", "cell": c} for c in ("rnn", "lstm", "gru")}


def build_model(args: argparse.Namespace):
    """The model described by the command-line options, built by its task from the task's own
    model settings (the same code that builds it for training)."""
    from seqlab.config import options, run_from_options
    from seqlab.errors import SeqlabError
    from seqlab.tasks import get_task

    default = {"classify": "lstm", "lm": "transformer", "translate": "gru"}[args.task]
    name = args.model or default
    if name not in TASK_MODELS[args.task]:
        raise SeqlabError(
            f"--model {name!r} is not a {args.task} model; choose one of "
            f"{', '.join(TASK_MODELS[args.task])}"
        )
    task = get_task(args.task)
    given = {k: getattr(args, k) for k in SIZE_OPTIONS}
    given |= {"model": name, "attention": args.attention or "none"}
    given |= ALIASES.get((args.task, name), {})
    known = options(task.run_class)  # the options this task's models have
    run = run_from_options(
        task.run_class, {k: v for k in known if (v := given.get(k)) is not None}, "summary"
    )
    tgt_vocab = args.tgt_vocab_size or args.vocab_size
    sizes = {"vocab_size": args.vocab_size, "num_classes": args.num_classes}
    sizes |= {"src_vocab_size": args.vocab_size, "tgt_vocab_size": tgt_vocab}
    try:
        return task.make_model(run, **{k: sizes[k] for k in task.size_names})
    except ValueError as e:
        raise SeqlabError(str(e)) from e


# Options of `seqlab summary` that are model settings of the tasks (by their option names).
SIZE_OPTIONS = ("embed", "hidden", "layers", "heads", "max_length", "bidirectional", "tie_weights",
                "buckets", "ngram")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Handler of `seqlab summary`."""
    from seqlab.config import COUNT, check_options
    from seqlab.summary import summary

    sizes = ("vocab_size", "tgt_vocab_size", "embed", "hidden", "layers", "heads", "max_length")
    check_options(args, dict.fromkeys((*sizes, "num_classes", "buckets", "ngram"), COUNT))
    if args.checkpoint:
        from seqlab.tasks import load

        model = load(args.checkpoint).model
    else:
        model = build_model(args)
    length = args.max_length if not args.checkpoint else None
    print(summary(model, length=length, explain=args.explain))
    return 0
