"""`seqlab evaluate CHECKPOINT`: a checkpoint's metrics on a split of its data (or of other
data); classifiers also get a per-class report, language models optionally the cache."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from seqlab.errors import SeqlabError

DECODING = ("beam", "length_penalty", "allow_unk")  # options some tasks' evaluate takes


def run_evaluate(args: argparse.Namespace) -> int:
    """Handler of `seqlab evaluate`."""
    from seqlab.config import COUNT, FINITE, POSITIVE, UNIT, check_options
    from seqlab.tasks import load
    from seqlab.tasks.configs import SUBSET

    # --beam below 1: seqlab.translation.check_decoding, in every decoding
    rules = {"batch_size": COUNT, "limit": SUBSET, "length_penalty": FINITE}
    check_options(
        args, rules | {"cache_window": COUNT, "cache_theta": POSITIVE, "cache_lambda": UNIT}
    )
    if args.ensemble:
        return _evaluate_ensemble(args)
    if args.checkpoint is None:
        raise SeqlabError("give a CHECKPOINT (or --ensemble A.pt B.pt ...)")
    loaded = load(args.checkpoint, args.device)
    if args.cache:
        return _evaluate_with_cache(args, loaded)
    decoding = {k: v for k in DECODING if (v := getattr(args, k)) is not None}
    foreign = sorted(set(decoding) - set(loaded.task.evaluate_options))
    if foreign:
        flags = ", ".join("--" + k.replace("_", "-") for k in foreign)
        raise SeqlabError(f"{flags}: not an option of {loaded.task.name} checkpoints")
    metrics = loaded.task.evaluate(
        loaded,
        split=args.split,
        data=args.data,
        data_dir=args.data_dir,
        batch_size=args.batch_size,
        limit=args.limit,
        limit_batches=2 if args.dry_run else None,
        **decoding,
    )
    counts = {k: metrics.pop(k) for k in ("examples", "tokens") if k in metrics}
    confusion, names = metrics.pop("confusion", None), metrics.pop("label_names", None)
    per_label = metrics.pop("per_label", None)  # multi-label classifiers
    signatures = {k: metrics.pop(k) for k in list(metrics) if k.endswith("_signature")}
    shown = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())
    print(f"{args.split}: {shown}" + "".join(f"  ({n:,} {k})" for k, n in counts.items()))
    for key, signature in signatures.items():  # what each BLEU figure computed (sacreBLEU)
        print(f"  {key.removesuffix('_signature')}: {signature}")
    if confusion is not None:
        _class_report(args, confusion, names, metrics)
    if per_label is not None:
        _label_report(args, per_label, names, metrics)
    return 0


def _report_folder(args: argparse.Namespace) -> Path:
    folder = Path(args.report or Path(args.checkpoint).parent)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def ensemble_paths(args: argparse.Namespace) -> list[str]:
    """The ensemble's checkpoints: CHECKPOINT (if given) and those after --ensemble."""
    return ([args.checkpoint] if args.checkpoint else []) + list(args.ensemble)


def _evaluate_ensemble(args: argparse.Namespace) -> int:
    """`seqlab evaluate --ensemble A.pt B.pt ...`: members and their weighted average."""
    from seqlab.atomic import write_text_atomic
    from seqlab.ensemble import evaluate_ensemble
    from seqlab.tasks import load

    used = [f for f in ("data", "limit", "cache", "beam") if getattr(args, f) not in (None, False)]
    if used:
        flags = ", ".join("--" + f for f in used)
        raise SeqlabError(f"{flags}: not an option of --ensemble (it scores the members' data)")
    if args.split not in ("valid", "test"):
        raise SeqlabError("--ensemble scores the valid or test split")
    members = [load(path, args.device) for path in ensemble_paths(args)]
    r = evaluate_ensemble(members, args.split, args.weights)
    split = args.split

    def figures(row: dict) -> str:
        valid = f"valid accuracy {row['valid_accuracy']:.4f}  " if "valid_accuracy" in row else ""
        return f"{valid}{split} accuracy {row[f'{split}_accuracy']:.4f}"

    for m, w in zip(r["members"], r["weights"], strict=True):
        print(f"{m['checkpoint']}: {figures(m)}  weight {w:.2f}")
    print(
        f"ensemble ({r['weights_from']} weights): {figures(r)}  loss {r[f'{split}_loss']:.4f}  "
        f"({r['examples']:,} texts)"
    )
    if args.report:
        path = _report_folder(args) / f"{split}-ensemble.json"
        write_text_atomic(path, json.dumps({"split": split, **r}, indent=1) + "\n")
        print(f"wrote {path}")
    return 0


def _evaluate_with_cache(args: argparse.Namespace, loaded: Any) -> int:
    """`seqlab evaluate --cache`: a language model with the continuous cache (Grave et al.)."""
    from seqlab.atomic import write_text_atomic
    from seqlab.tasks.base import EvaluatesWithCache, require

    task = require(loaded, EvaluatesWithCache, "a language model (--cache)")
    if args.data is not None or args.limit is not None:
        raise SeqlabError("--cache scores the checkpoint's own data: no --data or --limit")
    if (args.cache_theta is None) != (args.cache_lambda is None):
        raise SeqlabError("give both --cache-theta and --cache-lambda, or neither (then tuned)")
    r = task.evaluate_with_cache(
        loaded,
        window=args.cache_window,
        theta=args.cache_theta,
        lam=args.cache_lambda,
        **{k: getattr(args, k) for k in ("split", "data_dir", "batch_size")},
    )
    if "valid_perplexity_cache" in r:
        print(
            f"tuned on valid: theta {r['theta']}, lambda {r['lambda']} (window {r['window']}): "
            f"perplexity {r['valid_perplexity']:.2f} -> {r['valid_perplexity_cache']:.2f}"
        )
    print(
        f"{args.split}: perplexity {r['perplexity']:.2f}, with the cache "
        f"{r['perplexity_cache']:.2f}"
    )
    path = _report_folder(args) / f"{args.split}-cache.json"
    write_text_atomic(path, json.dumps({"split": args.split, **r}, indent=1) + "\n")
    print(f"wrote {path}")
    return 0


def _class_report(
    args: argparse.Namespace, confusion: list[list[int]], names: list[str], metrics: dict
) -> None:
    """Print per-class metrics and the confusion matrix; write them as JSON and a PNG heatmap."""
    from seqlab.atomic import write_text_atomic
    from seqlab.report import confusion_table, plot_confusion, report_table
    from seqlab.train.metrics import class_report

    rows = class_report(confusion, names)
    print()
    print(report_table(rows))
    print()
    print(confusion_table(confusion, names))
    folder = _report_folder(args)
    report = {"split": args.split, **metrics, "classes": rows, "confusion": confusion}
    report["label_names"] = names
    json_path = folder / f"{args.split}-report.json"
    write_text_atomic(json_path, json.dumps(report, indent=1) + "\n")
    png = plot_confusion(folder / f"{args.split}-confusion.png", confusion, names)
    print(f"\nwrote {json_path} and {png}")


def label_table(rows: list[dict]) -> str:
    """Per-label rows of `seqlab.train.metrics.label_report` as a Markdown table."""
    lines = [
        "| label | threshold | support | precision | recall | F1 |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        values = " | ".join(f"{r[k]:.4f}" for k in ("precision", "recall", "f1"))
        lines.append(f"| {r['label']} | {r['threshold']:.2f} | {r['support']:,} | {values} |")
    return "\n".join(lines)


def _label_report(args: argparse.Namespace, rows: list[dict], names: list[str], metrics: dict):
    """A multi-label checkpoint: print the per-label table and write SPLIT-report.json."""
    from seqlab.atomic import write_text_atomic

    print()
    print(label_table(rows))
    report = {"split": args.split, **metrics, "labels": rows, "label_names": names}
    json_path = _report_folder(args) / f"{args.split}-report.json"
    write_text_atomic(json_path, json.dumps(report, indent=1) + "\n")
    print(f"\nwrote {json_path}")


def add_ensemble_options(p: argparse.ArgumentParser) -> None:
    """--ensemble and --weights, of evaluate and predict."""
    from seqlab.config import _number

    p.add_argument(
        "--ensemble", nargs="+", default=[], metavar="CHECKPOINT",
        help="classifiers to average with CHECKPOINT (or each other): their class "
        "probabilities, weighted by weights chosen on the validation split",
    )  # fmt: skip
    p.add_argument(
        "--weights", nargs="+", type=_number, metavar="W",
        help="--ensemble: the members' weights, in order (default: chosen on valid)",
    )  # fmt: skip


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `evaluate` to the seqlab command line."""
    from seqlab.commands.options import checkpoint_command
    from seqlab.config import _number

    ev = checkpoint_command(
        subparsers,
        "evaluate",
        "loss and accuracy (or perplexity) of a checkpoint on a split",
        "Evaluate a checkpoint on a data split.",
        "seqlab train",
        optional=True,
    )
    add_ensemble_options(ev)
    ev.add_argument("--data", help="data set or file (default: the one it was trained on)")
    ev.add_argument("--data-dir", help="data folder (default: $SEQLAB_DATA or ../shared/data)")
    ev.add_argument(
        "--split",
        default="test",
        choices=("train", "valid", "test", "all"),
        help="which split (default: test; all: every record)",
    )
    ev.add_argument(
        "--batch-size", type=int, help="batch size (default: 256; language models: as trained)"
    )
    ev.add_argument("--limit", type=_number, help="a class-balanced subset: count or fraction")
    ev.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    ev.add_argument("--dry-run", action="store_true", help="evaluate 2 batches only")
    ev.add_argument(
        "--cache",
        action="store_true",
        help="language models: add the continuous cache of Grave et al. (2017), tuned on valid",
    )
    ev.add_argument(
        "--beam", type=int, help="translation: beam width (default: as trained; 1 = greedy)"
    )
    ev.add_argument("--length-penalty", type=float, help="translation: beam search GNMT alpha")
    ev.add_argument(
        "--allow-unk",
        action=argparse.BooleanOptionalAction,
        help="translation: may the output contain <unk>? (default: as trained; not for "
        "checkpoints from before this option)",
    )
    ev.add_argument("--cache-window", type=int, default=2000, help="cache size (default: 2000)")
    ev.add_argument("--cache-theta", type=float, help="cache: flatness theta (default: tuned)")
    ev.add_argument("--cache-lambda", type=float, help="cache: mixture weight (default: tuned)")
    ev.add_argument(
        "--report",
        metavar="DIR",
        help="folder for SPLIT-report.json and SPLIT-confusion.png (classifiers) or "
        "SPLIT-cache.json (--cache) (default: the checkpoint's folder)",
    )
    ev.set_defaults(func=run_evaluate)
