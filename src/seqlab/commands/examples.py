"""`seqlab examples attention|rnn|norms`: the course's worked examples, by seqlab.reference."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

# The 3 images × 3 channels × 2×2 pixels of the course's normalisation exercise, as (N, C, H, W).
NORMS_BATCH = np.array(
    [
        [[[0, 1], [1, 0]], [[1, 0], [0, 1]], [[1, 1], [1, 1]]],  # n=1: C1, C2, C3
        [[[0.5, 0.5], [0.5, 0.5]], [[0.5, 0], [0.5, 0]], [[0, 0.5], [0, 0.5]]],  # n=2
        [[[1, 1], [1, 0.5]], [[0.5, 1], [0.5, 1]], [[1, 0.5], [1, 1]]],  # n=3
    ],
    dtype=np.float64,
)


def format_matrix(
    values: np.ndarray,
    rows: Sequence[str] | None = None,
    cols: Sequence[str] | None = None,
    digits: int = 7,
) -> str:
    """A matrix as text like R prints it: row labels (tokens) on the left, columns [,1], [,2], …"""
    values = np.atleast_2d(values)
    rows = list(rows) if rows is not None else [f"[{i + 1},]" for i in range(values.shape[0])]
    cols = list(cols) if cols is not None else [f"[,{j + 1}]" for j in range(values.shape[1])]
    cells = [[f"{v:#.{digits}g}" for v in row] for row in values]  # keep trailing zeros, as R
    widths = [max(len(cols[j]), *(len(r[j]) for r in cells)) for j in range(len(cols))]
    label_w = max(len(r) for r in rows)
    lines = [" " * label_w + "".join(f"  {c:>{w}}" for c, w in zip(cols, widths, strict=True))]
    for label, row in zip(rows, cells, strict=True):
        lines.append(
            f"{label:<{label_w}}" + "".join(f"  {c:>{w}}" for c, w in zip(row, widths, strict=True))
        )
    return "\n".join(lines)


def _show(title: str, values: np.ndarray, rows=None, cols=None) -> None:
    print(f"{title}\n{format_matrix(values, rows, cols)}\n")


def run_attention(args: argparse.Namespace) -> int:
    """Print the course's attention exercise: one head on three tokens, then all heads."""
    from seqlab.examples import attention_steps

    ex = attention_steps(args.data_dir)
    head, tokens3 = ex["head"], ex["head"]["tokens"]
    print(f"transformer_example, head 1, tokens: {' '.join(tokens3)}\n")
    for name in "QKV":
        _show(name, head[name], tokens3)
    _show("Z = softmax(Q Kᵀ / √d_k) V", head["Z"], tokens3)
    _show("attention", head["weights"], tokens3, tokens3)
    _show("multi-head self-attention, first three tokens", ex["first_three"]["output"], tokens3)
    _show("multi-head self-attention, all tokens", ex["multi_head"]["output"], ex["tokens"])
    return 0


def run_rnn(args: argparse.Namespace) -> int:
    """Print the course's RNN exercise: one step for the first token, then the whole layer."""
    from seqlab.examples import rnn_steps

    ex = rnn_steps(args.data_dir)
    first, tokens = ex["first"], ex["tokens"]
    print(f"rnn_example, first token: {first['token']}\n")
    _show("a_t = b + W h_{t-1} + U x_t", first["a"], tokens[:1])
    _show("h_t = tanh(a_t)", first["h"], tokens[:1])
    _show("ŷ_t = softmax(c + V h_t)", first["y_hat"], tokens[:1])
    _show("rnn_layer: h, all tokens", ex["h"], tokens)
    _show("rnn_layer: ŷ, all tokens", ex["y_hat"], tokens)
    return 0


def _format_images(x: np.ndarray) -> str:
    """An (N, C, H, W) batch as text: one block of H lines per image, channels side by side."""
    N, C, H, W = x.shape
    width = W * 8
    lines = ["      " + "   ".join(f"{f'C{c + 1}':<{width}}" for c in range(C)).rstrip()]
    for n in range(N):
        for i in range(H):
            label = f"n={n + 1}" if i == 0 else ""
            planes = ("".join(f"{v:8.4f}" for v in x[n, c, i]) for c in range(C))
            lines.append(f"{label:<5}" + "   ".join(planes))
    return "\n".join(lines)


def run_norms(args: argparse.Namespace) -> int:
    """Print batch, layer, instance and group normalisation of the course's 3×3×2×2 batch."""
    from seqlab.errors import SeqlabError
    from seqlab.reference import batch_norm, group_norm, instance_norm, layer_norm

    C = NORMS_BATCH.shape[1]
    if args.groups < 1 or C % args.groups:
        raise SeqlabError(f"--groups must divide the number of channels ({C}), got {args.groups}")
    center_only = not args.scale
    how = "x − mean" if center_only else "(x − mean) / sqrt(var + 1e-5)"
    print(f"input batch (N=3, C=3, H=W=2)\n{_format_images(NORMS_BATCH)}\n")
    results = [
        ("batch_norm", "one mean per channel, over (N, H, W)", batch_norm),
        ("layer_norm", "one mean per image, over (C, H, W)", layer_norm),
        ("instance_norm", "one mean per image and channel, over (H, W)", instance_norm),
    ]
    for name, stats, norm in results:
        out = norm(NORMS_BATCH, center_only=center_only)
        print(f"{name}: {how}, {stats}\n{_format_images(out)}\n")
    out = group_norm(NORMS_BATCH, args.groups, center_only=center_only)
    note = {1: " (= layer_norm)", C: " (= instance_norm)"}.get(args.groups, "")
    print(f"group_norm, groups={args.groups}{note}: {how}, one mean per image and channel group")
    print(_format_images(out))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `seqlab examples attention|rnn|norms`."""
    parser = subparsers.add_parser(
        "examples", help="the course's worked examples (attention, RNN, normalisation)"
    )
    sub = parser.add_subparsers(dest="example", metavar="EXAMPLE")
    parser.set_defaults(func=lambda args: parser.print_help() or 2)

    data_help = "folder holding uuml/*.rda (default: $SEQLAB_DATA, then ../shared/data)"
    p = sub.add_parser("attention", help="qkv, attention and multi-head self-attention")
    p.add_argument("--data-dir", default=None, help=data_help)
    p.set_defaults(func=run_attention)

    p = sub.add_parser("rnn", help="rnn_unit, activation, output_rnn and rnn_layer")
    p.add_argument("--data-dir", default=None, help=data_help)
    p.set_defaults(func=run_rnn)

    p = sub.add_parser("norms", help="batch, layer, instance and group norm of a 3×3×2×2 batch")
    p.add_argument(
        "--groups", type=int, default=1, help="channel groups for group_norm (divides C=3)"
    )
    p.add_argument(
        "--scale",
        action="store_true",
        help="also divide by sqrt(var + 1e-5) (default: subtract the mean only, as the course)",
    )
    p.set_defaults(func=run_norms)

    def run_theory(args: argparse.Namespace) -> int:
        from seqlab.theory import run  # torch and the checks load only for this command

        return run(args)

    p = sub.add_parser("theory", help="the theory answers of docs/theory.md, each computed")
    p.add_argument("--only", help="comma-separated check names (default: all)")
    p.set_defaults(func=run_theory)
