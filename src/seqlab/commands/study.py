"""`seqlab study sentiment|finetune|translation`: many runs reported as tables, CSV and plots."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from seqlab.study.translation import TranslationStudySettings


def _add_study(
    kinds: argparse._SubParsersAction,
    name: str,
    *,
    help: str,
    description: str,
    quick: str,
    listing: str,
) -> argparse.ArgumentParser:
    """Add `seqlab study NAME` with the options every study has: --out, --quick, --data-dir,
    --seed, --device, --list."""
    p = kinds.add_parser(name, help=help, description=description)
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    p.add_argument("--quick", action="store_true", help=quick)
    p.add_argument("--data-dir", help="data folder (default: $SEQLAB_DATA or ../shared/data)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data split and every run")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")
    p.add_argument("--list", action="store_true", help=listing)
    return p


def _timed(run_study: Callable[[], Path]) -> int:
    """Run a study; say where its README is and how long it took."""
    start = time.perf_counter()
    readme = run_study()
    print(f"study written to {readme} in {time.perf_counter() - start:.1f} s")
    return 0


def run_sentiment(args: argparse.Namespace) -> int:
    """Run (or continue) the sentiment study and write OUT/README.md."""
    from seqlab.errors import SeqlabError
    from seqlab.study import StudySettings, parse_only, plan, run_sentiment_study
    from seqlab.study.estimate import plan_summary
    from seqlab.study.runs import command

    tables = parse_only(args.only)
    if args.jobs < 1:
        raise SeqlabError(f"--jobs must be at least 1, got {args.jobs}")
    settings = StudySettings.for_mode(
        args.quick, args.seed, args.data_dir, args.device, args.threads
    )
    if args.list:
        specs = plan(tables, settings.quick)
        for spec in specs:
            print(f"{spec.name:<22} {command(spec, settings)}")
        if "e" in tables:
            print("e-bi-<best of b-d>      planned after tables b-d have run")
        print(f"planned: {plan_summary(specs, settings, args.jobs)}")
        return 0
    return _timed(lambda: run_sentiment_study(args.out, settings, tables, jobs=args.jobs))


def run_finetune(args: argparse.Namespace) -> int:
    """Run (or continue) the fine-tuning study and write OUT/README.md."""
    from seqlab.study.finetune import STEPS, FinetuneStudySettings, run_finetune_study

    if args.list:
        for step in STEPS:
            print(f"{step.name:<12} {step.strategy:<7} {step.epochs} epochs, lr {step.lr:g}, "
                  f"schedule {step.schedule}: {step.change}")  # fmt: skip
        return 0
    options = {k: v for k, v in vars(args).items() if k not in ("func", "command", "study", "list")}
    settings = FinetuneStudySettings(**{**options, "out": Path(args.out)})
    return _timed(lambda: run_finetune_study(settings))


def _add_finetune(kinds: argparse._SubParsersAction) -> None:
    """Add `seqlab study finetune`."""
    p = _add_study(
        kinds,
        "finetune",
        help="the fine-tuning assignment's steps: head only, more layers, full, longer, schedules",
        description=(
            "Fine-tune a pretrained encoder step by step (head only; the top 2 layers; all "
            "layers; more epochs; warm-up with linear or cosine decay) and write OUT/README.md: "
            "the steps as a table with the accuracy overall and per class after each, steps.csv, "
            "and the final confusion matrix (table and PNG). Finished steps are read back, so "
            "an interrupted study continues."
        ),
        quick="200 training and 100 evaluation texts, 32 word pieces, half the epochs",
        listing="print the steps; train none",
    )
    p.add_argument("--model", default="minilm", help="model folder or 'minilm' (default: minilm)")
    p.add_argument(
        "--data", default="trec", help="'trec', 'imdb' or a labelled file (default: trec)"
    )
    p.add_argument("--label-set", default="coarse", choices=("coarse", "fine"), help="trec labels")
    p.add_argument("--text-column", default="text", help="text column of a data file")
    p.add_argument("--label-column", default="label", help="label column of a data file")
    p.add_argument("--batch-size", type=int, default=32, help="batch size (default: 32)")
    p.add_argument("--threads", type=int, help="CPU threads (default: all cores)")
    p.set_defaults(func=run_finetune)


def run_translation(args: argparse.Namespace) -> int:
    """Run (or continue) the translation study and write OUT/README.md."""
    from seqlab.study.translation import TranslationStudySettings, run_translation_study

    only = [x for x in (args.only or "").split(",") if x]
    settings = TranslationStudySettings(
        Path(args.out), args.quick, args.data, args.data_dir, args.seed, args.device,
        args.threads, args.epochs, args.tune_epochs, only,
    )  # fmt: skip
    if args.list:
        _list_translation(settings)
        return 0
    return _timed(lambda: run_translation_study(settings))


def _list_translation(settings: TranslationStudySettings) -> None:
    """Print each run of the translation study with its command; a tuned run whose tuning has
    not finished yet says so instead."""
    from seqlab.config import command_line
    from seqlab.study.runs import LEAVE_OUT
    from seqlab.study.translation import ANY_CHOICE, choose, run_one

    tuning = settings.tuning_runs()
    finished = [
        run_one(r, settings)
        for r in tuning
        if (settings.out / "tuning" / r.name / "results.json").is_file()
    ]
    chosen = choose(finished)
    runs = settings.runs(chosen)
    pending = [r for r in settings.runs(ANY_CHOICE)
               if r.variant == "tuned" and r.group not in chosen]  # fmt: skip
    for run in tuning + runs:
        line = command_line("seqlab train translate", settings.configs(run), LEAVE_OUT)
        print(f"{run.name:<32} {line}")
    for run in pending:
        print(f"{run.name:<32} (its settings: the best {run.group} tuning candidate, once tuned)")


def _add_translation(kinds: argparse._SubParsersAction) -> None:
    """Add `seqlab study translation`."""
    p = _add_study(
        kinds,
        "translation",
        help="default versus tuned settings of seq2seq (RNN, LSTM, +/- attention) and Transformer",
        description=(
            "Train each translation model family of the course assignment (seq2seq with an RNN "
            "or LSTM, without and with cosine attention; the Transformer) with default and with "
            "tuned settings, same epochs, and write OUT/README.md: perplexity and BLEU per run, "
            "the gain of tuning per family, what each tuned run changed and why, and the "
            "command of every run. The tuned settings are chosen first: each candidate change "
            "is trained for --tune-epochs on one family of its group (seq2seq, Transformer) and "
            "the lowest validation perplexity wins. Finished runs (OUT/runs/NAME/results.json, "
            "OUT/tuning/NAME/results.json) are read back, so an interrupted study continues. "
            "The full study trains 7 candidates for 3 epochs and 10 models for 10 epochs on "
            "Multi30k: hours on a 2-core CPU."
        ),
        quick="small models (32-d), 2 epochs, 3,000 pairs per Multi30k split (minutes)",
        listing="print the runs and commands; train none",
    )
    p.add_argument(
        "--data",
        default="multi30k",
        help="'multi30k' or six parallel files (train, valid, test pairs) as in seqlab train "
        "translate (default: multi30k)",
    )
    p.add_argument("--epochs", type=int, help="epochs of every run (default: 10; quick: 2)")
    p.add_argument(
        "--tune-epochs",
        type=int,
        help="epochs of each tuning candidate (default: 3; quick: 1)",
    )
    p.add_argument("--only", metavar="RUNS", help="comma-separated run names or families")
    p.add_argument("--threads", type=int, help="CPU threads (default: all cores)")
    p.set_defaults(func=run_translation)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `seqlab study sentiment`, `finetune` and `translation`."""
    study = subparsers.add_parser("study", help="run a study of many models; write tables/plots")
    kinds = study.add_subparsers(dest="study", metavar="STUDY", parser_class=type(study))
    p = _add_study(
        kinds,
        "sentiment",
        help="the IMDB sentiment study (tables a-f)",
        description=(
            "Train every model of the IMDB sentiment study and write OUT/README.md with "
            "Markdown tables, one CSV per table, PNG plots and per-run JSONL histories. "
            "Finished runs (OUT/runs/NAME.json) are skipped, so an interrupted study continues."
        ),
        quick="reduced study: 2,000 reviews per split, 1-2 epochs, shorter grids (minutes)",
        listing="print the planned runs and their commands; train none",
    )
    p.add_argument(
        "--only",
        metavar="TABLES",
        help="comma-separated tables to run, from a,b,c,d,e,f (default: all)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads per run (default 1: these small models gain little from more, and "
        "threads sharing a busy machine slow each other down)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="runs trained at once, each in its own process with --threads threads "
        "(default 1; on 2 cores: --jobs 2 --threads 1)",
    )
    p.set_defaults(func=run_sentiment)
    _add_finetune(kinds)
    _add_translation(kinds)
    study.set_defaults(func=lambda args: study.print_help() or 2)
