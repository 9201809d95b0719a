"""`seqlab generate CHECKPOINT`: sample text from a language model."""

from __future__ import annotations

import argparse

OPTIONS = ("words", "num", "temperature", "top_k", "top_p", "seed", "cached")  # of generate()


def run_generate(args: argparse.Namespace) -> int:
    """Handler of `seqlab generate`."""
    from seqlab.commands.options import print_results
    from seqlab.config import COUNT, NON_NEGATIVE, check_options
    from seqlab.tasks import load
    from seqlab.tasks.base import Generates, require

    # --top-p is checked by the sampler (seqlab.decoding), whose message names top_p
    check_options(args, {"words": COUNT, "num": COUNT, "temperature": NON_NEGATIVE, "top_k": COUNT})
    loaded = load(args.checkpoint, args.device)
    texts, unknown = require(loaded, Generates, "a language model").generate(
        loaded,
        args.prompt,
        **{k: getattr(args, k) for k in OPTIONS},
    )
    notes = [f"not in the vocabulary, read as <unk>: {', '.join(sorted(set(unknown)))}"]
    print_results(texts, notes if unknown else [])
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `generate` to the seqlab command line."""
    from seqlab.commands.options import checkpoint_command

    p = checkpoint_command(
        subparsers,
        "generate",
        "sample text from a language model checkpoint",
        "Continue a prompt (or a random first word) with a trained language model. "
        "Transformers decode with a key/value cache, RNNs carry their state: each new word "
        "costs one step, not a re-run over the whole text.",
        "seqlab train lm",
    )
    p.add_argument("--prompt", default="", help="text to continue (default: a random word)")
    p.add_argument("--words", type=int, default=20, help="words to generate (default: 20)")
    p.add_argument("--num", type=int, default=3, help="how many texts (default: 3)")
    p.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="softmax temperature; 0 = always the most likely word (default: 1.0)",
    )
    p.add_argument("--top-k", type=int, help="sample among the k most likely words only")
    p.add_argument(
        "--top-p", type=float, help="nucleus sampling: the smallest set with this probability"
    )
    p.add_argument("--seed", type=int, help="random seed (default: a fresh one each run)")
    p.add_argument(
        "--cached",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="carry the state / key-value cache (--no-cached re-runs the whole prefix, as the "
        "course's reference does; same words, slower)",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda or mps (default: cpu)")
    p.set_defaults(func=run_generate)
