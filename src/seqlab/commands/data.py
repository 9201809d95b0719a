"""`seqlab data info NAME`: split sizes, labels, tokens and vocabulary of a data set."""

from __future__ import annotations

import argparse
from pathlib import Path

NAMES = ("imdb", "wikitext-2", "multi30k")


def register(subparsers) -> None:
    """Add `seqlab data info`."""
    data = subparsers.add_parser("data", help="inspect data sets", description=__doc__)
    sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    info = sub.add_parser(
        "info",
        help="split sizes, labels, tokens and vocabulary size",
        description="Print split sizes (reviews per label, tokens, pairs) and vocabulary size.",
    )
    info.add_argument(
        "name", help="imdb, wikitext-2, multi30k, or a path (CSV/TSV/JSONL or plain text)"
    )
    info.add_argument("--data-dir", help="data directory (default: $SEQLAB_DATA or ../shared/data)")
    info.add_argument(
        "--offline", action="store_true", help="never download; fail if the data is missing"
    )
    info.add_argument(
        "--tokenizer", default=None, help="tokenizer (default: basic_english; whitespace for text)"
    )
    info.add_argument("--text-column", default="text", help="text column of a CSV/TSV/JSONL file")
    info.add_argument("--label-column", default="label", help="label column of a table file")
    info.set_defaults(func=info_command)


def _fmt(v) -> str:
    return f"{v:,}" if isinstance(v, int) else str(v)


def format_table(header: list[str], rows: list[list]) -> str:
    """Left-aligned first column, right-aligned numbers."""
    cells = [header] + [[_fmt(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for r in cells:
        first = r[0].ljust(widths[0])
        lines.append(
            "  ".join([first] + [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)])
        )
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _classification_table(d, title: str) -> str:
    names = d.label_names
    rows = []
    for split in ("train", "valid", "test"):
        ds = getattr(d, split)
        if len(ds):
            rows.append([split, len(ds), *ds.label_counts(len(names)), ds.num_tokens])
    table = format_table(["split", "items", *names, "tokens"], rows)
    vocab = f"vocabulary: {len(d.encoder.vocab):,} ids (built on train; <pad>, <unk> included)"
    return f"{title}\n{table}\n{vocab}"


def _lm_table(d, title: str) -> str:
    unk = d.vocab.unk_id
    rows = [
        [s, getattr(d, s).numel(), int((getattr(d, s) == unk).sum())]
        for s in ("train", "valid", "test")
        if getattr(d, s).numel()
    ]
    table = format_table(["split", "tokens", "<unk>"], rows)
    vocab = (
        f"vocabulary: {d.num_types:,} types (+ <pad> = {len(d.vocab):,} ids; one <eos> per line)"
    )
    return f"{title}\n{table}\n{vocab}"


def _translation_table(d, title: str, src: str = "src", tgt: str = "tgt") -> str:
    rows = []
    for split in ("train", "valid", "test"):
        ds = getattr(d, split)
        if len(ds):
            # Tokens without the <sos>/<eos> added to each sentence.
            rows.append(
                [
                    split,
                    len(ds),
                    int(ds.src_offsets[-1]) - 2 * len(ds),
                    int(ds.tgt_offsets[-1]) - 2 * len(ds),
                ]
            )
    table = format_table(["split", "pairs", f"{src} tokens", f"{tgt} tokens"], rows)
    vocab = (
        f"vocabulary: {src} {len(d.src_vocab):,}, {tgt} {len(d.tgt_vocab):,} ids "
        "(built on train, min_freq 2; <pad>, <unk>, <sos>, <eos> included)"
    )
    return f"{title}\n{table}\n{vocab}"


def _named_table(name: str, root, download: bool | None, tok: str | None) -> str:
    """The table of a named data set under data dir `root`."""
    from seqlab.data import imdb, lm, translation
    from seqlab.data.paths import data_dir

    if name == "imdb":
        tok = tok or "basic_english"
        d = imdb.load_imdb(root, valid_fraction=0.0, tokenizer=tok, download=download)
        return _classification_table(d, f"IMDB ({imdb.imdb_source(root, False)})")
    if name in ("wikitext-2", "wikitext2"):
        files = lm.wikitext2_files(root, download)
        d = lm.load_wikitext2(root, download=download)
        return _lm_table(d, f"WikiText-2 ({files['train'].parent})")
    d = translation.load_multi30k(root, download=download)
    return _translation_table(d, f"Multi30k de->en ({data_dir(root)})", "de", "en")


def info_command(args: argparse.Namespace) -> int:
    """Print the table for one data set."""
    from seqlab.data import lm, user_data
    from seqlab.errors import DataNotFoundError

    download = False if args.offline else None
    name, tok = args.name.lower(), args.tokenizer
    if name in NAMES or name == "wikitext2":
        print(_named_table(name, args.data_dir, download, tok))
        return 0
    path = Path(args.name)
    if not path.exists():
        raise DataNotFoundError(
            f"{path}: no such file; NAME is one of {', '.join(NAMES)} or a path"
        )
    if path.is_dir():
        # A data folder (or an aclImdb/ tree): the first data set found in it, never downloaded.
        for known in NAMES:
            try:
                print(_named_table(known, path, False, tok))
                return 0
            except DataNotFoundError:
                continue
        raise DataNotFoundError(f"{path}: no IMDB, WikiText-2 or Multi30k files in this folder")
    if path.name.lower().removesuffix(".gz").endswith((".csv", ".tsv", ".jsonl", ".ndjson")):
        d = user_data.load_text_classification(
            path,
            split="1:0:0",
            text_column=args.text_column,
            label_column=args.label_column,
            tokenizer=tok or "basic_english",
        )
        print(_classification_table(d, f"{path} (all records as 'train')"))
    else:
        d = lm.load_lm_text({"train": path}, tokenizer=tok or "whitespace")
        print(_lm_table(d, f"{path} (plain text, {tok or 'whitespace'} tokens + <eos> per line)"))
    return 0
