"""`seqlab translate CHECKPOINT TEXT...`: translate sentences with a trained model."""

from __future__ import annotations

import argparse


def run_translate(args: argparse.Namespace) -> int:
    """Handler of `seqlab translate`."""
    from seqlab.commands.options import print_results, read_texts
    from seqlab.config import FINITE, check_options
    from seqlab.data.readers import read_lines
    from seqlab.errors import SeqlabError
    from seqlab.tasks import load
    from seqlab.tasks.base import Translates, require

    # --beam and --max-length below 1: seqlab.translation.check_decoding, in every decoding
    check_options(args, {"length_penalty": FINITE})
    if args.file:
        texts = read_lines(args.file)
    else:
        texts = read_texts(args.texts, args.encoding)
    if not texts:
        raise SeqlabError("nothing to translate: give sentences, --file FILE or - for stdin")
    loaded = load(args.checkpoint, args.device)
    out, notes = require(loaded, Translates, "a translator").translate(
        loaded,
        texts,
        max_decode=args.max_length,
        **{k: getattr(args, k) for k in ("beam", "length_penalty", "allow_unk", "plot_attention")},
    )
    print_results(out, notes)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `translate` to the seqlab command line."""
    from seqlab.commands.options import checkpoint_command

    p = checkpoint_command(
        subparsers,
        "translate",
        "translate sentences with a translation checkpoint",
        "Translate sentences (one output line per input line; empty lines stay "
        "empty). Words the model does not know are read as <unk>, and a note names them.",
        "seqlab train translate",
    )
    p.add_argument("texts", nargs="*", metavar="TEXT", help="sentences ('-': read stdin)")
    p.add_argument("--file", help="a UTF-8 text file, one sentence a line")
    p.add_argument(
        "--encoding", default="utf-8", help="of standard input; undecodable bytes are an error "
        "(default: utf-8)",
    )  # fmt: skip
    p.add_argument("--beam", type=int, help="beam width (default: as trained; 1 = greedy)")
    p.add_argument("--length-penalty", type=float, help="beam search: GNMT alpha")
    p.add_argument("--max-length", type=int, help="longest translation in tokens")
    p.add_argument(
        "--allow-unk",
        action=argparse.BooleanOptionalAction,
        help="may a translation contain <unk>? (default: as trained; not for checkpoints "
        "from before this option)",
    )
    p.add_argument(
        "--plot-attention",
        metavar="OUT.png",
        help="draw the source-target attention of the first sentence (seq2seq with attention: "
        "the decoder's attention; Transformer: the last decoder layer's cross-attention, "
        "averaged over heads)",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda or mps (default: cpu)")
    p.set_defaults(func=run_translate, trailing_words="texts")
