"""`seqlab train classify|lm|translate`, `seqlab evaluate CHECKPOINT`, `seqlab predict`.

Training options come from three layers: the dataclass defaults, a TOML file (`--config`, keys
are the option names), then the flags given on the command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from seqlab.errors import SeqlabError

DRY_RUN_LIMIT = 200  # texts per split in a --dry-run, unless --limit says otherwise
CLI_ONLY = ("config", "out", "resume", "dry_run")


def _number(text: str) -> int | float:
    """--limit: a count ("2000") or a fraction ("0.1")."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def _optional_int(text: str) -> int | None:
    """An integer, or "none" for no limit."""
    return None if text.lower() == "none" else int(text)


def _opt_adder(p: argparse.ArgumentParser) -> Any:
    """`opt(flag, help, default, **kw)` adding to the current group, with the default shown."""
    state = {"group": p}

    def opt(flag: str, help: str, default: Any = None, **kw: Any) -> None:
        suffix = f" (default: {default})" if default is not None else ""
        state["group"].add_argument(flag, help=help + suffix, **kw)

    def group(title: str) -> None:
        state["group"] = p.add_argument_group(title)

    return opt, group


def _add_run_options(p: argparse.ArgumentParser, opt: Any, default_out: str, dry: str) -> None:
    """--config, --out, --resume, --dry-run."""
    opt(
        "--config",
        "read options from a TOML file (keys: option names); flags override it",
        metavar="FILE.toml",
    )
    opt(
        "--out",
        "folder for last.pt, best.pt, log.jsonl, results.json",
        default_out,
        metavar="DIR",
    )
    opt("--resume", "continue from OUT/last.pt", action="store_true")
    opt("--dry-run", f"1 epoch of 2 batches{dry}, to check a setup", action="store_true")


def _add_text_data_options(opt: Any, d: Any) -> None:
    """The data options of the text classifiers (`train classify`, `finetune`); d: defaults."""
    opt("--data", "'imdb', 'trec' or a .csv/.tsv/.jsonl file with text and label columns", d.data)
    opt(
        "--label-set",
        "trec: coarse (6 classes, TREC-6) or fine (50, TREC-50)",
        d.label_set,
        choices=("coarse", "fine"),
    )
    opt("--data-dir", "data folder (default: $SEQLAB_DATA or ../shared/data)")
    opt("--text-column", "text column of a data file", d.text_column)
    opt("--label-column", "label column of a data file (any strings)", d.label_column)
    opt("--limit", "class-balanced subset of each split: a count or a fraction", type=_number)
    opt(
        "--split",
        "official (the data's train/test) or a:b:c to pool and re-split, e.g. 7:1:2 "
        "(default: official; 7:1:2 for one file)",
    )
    opt(
        "--valid-fraction",
        "with the official split: part of train held out for validation (0: none)",
        d.valid_fraction,
        type=float,
    )


def _add_classify_options(p: argparse.ArgumentParser) -> None:
    """Every option of `seqlab train classify`; dests are the config field names."""
    from seqlab.tasks.configs import CLASSIFY_PRESETS, ENCODERS, ClassifyConfig

    d = ClassifyConfig()
    bool_flag = argparse.BooleanOptionalAction
    opt, group = _opt_adder(p)
    group("run")
    _add_run_options(p, opt, "runs/classify", f" on {DRY_RUN_LIMIT} texts")
    opt(
        "--preset",
        "named settings (flags and --config override them): duke = the Duke assignment's "
        "IMDB LSTM (7:1:2 split of all 50,000 reviews, English stop words removed, min-freq 5, "
        "256 tokens, LSTM 100, SGD 0.01, 5 epochs)",
        choices=sorted(CLASSIFY_PRESETS),
    )
    group("data")
    _add_text_data_options(opt, d)
    opt("--tokenizer", "basic_english, whitespace, bpe or spacy", d.tokenizer)
    opt(
        "--stop-words",
        "remove these words before building the vocabulary: none, english (NLTK's 179 words) "
        "or a file of words",
        d.stop_words,
        metavar="none|english|FILE",
    )
    opt("--min-freq", "drop words seen fewer times in train", d.min_freq, type=int)
    opt(
        "--max-vocab",
        "keep the most frequent words only ('none': all)",
        type=_optional_int,
    )
    opt("--max-length", "tokens kept per text ('none': all)", d.max_length, type=_optional_int)
    opt(
        "--truncate",
        "cut long texts at the start (pre) or end (post)",
        d.truncate,
        choices=("pre", "post"),
    )
    group("model")
    opt("--model", "encoder", d.model, choices=ENCODERS)
    opt("--embed", "embedding size", d.embed, type=int)
    opt(
        "--hidden",
        "hidden size (dense units, recurrent state, Transformer FFN)",
        d.hidden,
        type=int,
    )
    opt("--layers", "stacked layers", d.layers, type=int)
    opt("--bidirectional", "read the text in both directions", action=bool_flag)
    opt("--dropout", "dropout before the output layer", d.dropout, type=float)
    opt("--layer-dropout", "dropout between stacked layers", d.layer_dropout, type=float)
    opt("--recurrent-dropout", "dropout on the recurrent state", d.recurrent_dropout, type=float)
    opt(
        "--pooling",
        "last, mean or max over time (default: last; Transformer: mean)",
        choices=("last", "mean", "max"),
    )
    opt("--heads", "Transformer attention heads", d.heads, type=int)
    opt("--ngram", "ngram/nbsvm models: use 1..N-grams", d.ngram, type=int)
    opt("--buckets", "ngram/nbsvm models: hash buckets for 2..N-grams", d.buckets, type=int)
    opt(
        "--backend",
        "fused (fast) or scratch (readable) layers",
        d.backend,
        choices=("fused", "scratch"),
    )
    _add_training_options(p, opt, group, ("valid_loss", "valid_accuracy"))


def _add_training_options(
    p: argparse.ArgumentParser,
    opt: Any,
    group: Any,
    monitors: tuple[str, ...],
    defaults: dict[str, Any] | None = None,
) -> None:
    """The TrainConfig options every `seqlab train` task shares; `defaults` are the command's
    own where they differ from TrainConfig's (shown in --help; `_configs` applies them)."""
    from seqlab.train.config import OPTIMIZERS, SCHEDULES, TrainConfig

    t = TrainConfig(**(defaults or {}))
    bool_flag = argparse.BooleanOptionalAction
    group("training")
    opt("--optimizer", "optimizer", t.optimizer, choices=OPTIMIZERS)
    opt("--lr", "learning rate", t.lr, type=float)
    opt("--momentum", "SGD momentum", t.momentum, type=float)
    opt("--weight-decay", "weight decay of matrices and embeddings", t.weight_decay, type=float)
    opt("--clip", "clip the gradient norm to this value", t.clip, type=float)
    opt("--epochs", "training epochs", t.epochs, type=int)
    opt("--batch-size", "batch size (per process under torchrun)", t.batch_size, type=int)
    opt(
        "--accumulate",
        "sum the gradients of N batches per optimizer step (an N times larger batch)",
        t.accumulate,
        type=int,
        metavar="N",
    )
    opt(
        "--layer-decay",
        "layer-wise lr decay for pretrained encoders: each layer down trains at this "
        "times the lr of the layer above",
        t.layer_decay,
        type=float,
    )
    opt("--schedule", "learning-rate schedule", t.schedule, choices=SCHEDULES)
    opt("--step-size", "step schedule: epochs between decays", t.step_size, type=int)
    opt("--gamma", "decay factor (default: step 0.5, exp exp(-0.1), plateau 0.5)", type=float)
    opt("--decay-after", "exp schedule: epochs before the decay starts", t.decay_after, type=int)
    opt(
        "--warmup",
        "cosine and linear schedules: warm-up steps, or a fraction of all steps if < 1",
        t.warmup,
        type=float,
    )
    opt(
        "--plateau-patience",
        "plateau schedule: epochs without improvement",
        t.plateau_patience,
        type=int,
    )
    opt("--patience", "early stopping: epochs without improvement; restores the best", type=int)
    opt(
        "--monitor",
        "what early stopping and best.pt watch",
        t.monitor,
        choices=monitors,
    )
    opt(
        "--monitor-mode",
        "whether a higher (max) or lower (min) monitored value is better "
        "(default: min for losses and perplexity, max for accuracy)",
        choices=("min", "max"),
    )
    opt("--seed", "random seed (data split, initialisation, order)", t.seed, type=int)
    opt("--device", "auto, cpu, cuda or mps", t.device)
    opt("--amp", "bf16 autocast", action=bool_flag)
    opt("--threads", "CPU threads (default: all cores; 1 is faster on a busy machine)", type=int)
    opt("--log-every", "steps between progress-bar updates", t.log_every, type=int)
    opt("--quiet", "no progress bar or per-epoch lines", action=bool_flag)


def _add_lm_options(p: argparse.ArgumentParser) -> None:
    """Every option of `seqlab train lm`; dests are the config field names."""
    from seqlab.tasks.configs import LM_ARCHS, LM_PRESETS, LMConfig

    d = LMConfig()
    bool_flag = argparse.BooleanOptionalAction
    opt, group = _opt_adder(p)
    group("run")
    _add_run_options(p, opt, "runs/lm", "")
    opt(
        "--preset",
        "named settings (flags and --config override them): course = the assignment's "
        "Transformer; cpu-lstm = seqlab's fast LSTM with an adaptive softmax",
        choices=sorted(LM_PRESETS),
    )
    group("data")
    opt("--data", "'wikitext-2', a .txt file (split 90:5:5) or TRAIN,VALID,TEST files", d.data)
    opt("--data-dir", "data folder (default: $SEQLAB_DATA or ../shared/data)")
    opt("--tokenizer", "whitespace, basic_english, bpe or spacy", d.tokenizer)
    opt("--lower", "lower-case the text", action=bool_flag)
    opt("--sos", "a <sos> token before every line", action=bool_flag)
    opt("--min-freq", "words seen fewer times in train become <unk>", d.min_freq, type=int)
    opt("--max-vocab", "keep the most frequent words only", type=int)
    opt("--bptt", "tokens per truncated-BPTT window", d.bptt, type=int)
    opt("--eval-batch-size", "columns of the valid/test streams", d.eval_batch_size, type=int)
    group("model")
    opt("--model", "architecture", d.model, choices=LM_ARCHS)
    opt("--embed", "embedding size", d.embed, type=int)
    opt("--hidden", "recurrent state / Transformer feed-forward size", d.hidden, type=int)
    opt("--layers", "stacked layers", d.layers, type=int)
    opt("--heads", "Transformer attention heads", d.heads, type=int)
    opt("--dropout", "dropout", d.dropout, type=float)
    opt("--tie-weights", "share the embedding and output matrices", action=bool_flag)
    opt(
        "--adaptive",
        "adaptive softmax with these cutoffs, e.g. 2000,10000 ('none': full softmax)",
        type=_cutoffs,
    )
    opt(
        "--backend",
        "fused (fast) or scratch (readable) layers",
        d.backend,
        choices=("fused", "scratch"),
    )
    _add_training_options(p, opt, group, ("valid_loss", "valid_perplexity"))


def _add_translate_options(p: argparse.ArgumentParser) -> None:
    """Every option of `seqlab train translate`; dests are the config field names."""
    from seqlab.tasks.configs import TRANSLATORS, TranslateConfig

    d = TranslateConfig()
    bool_flag = argparse.BooleanOptionalAction
    opt, group = _opt_adder(p)
    group("run")
    _add_run_options(p, opt, "runs/translate", " on 200 pairs per split")
    group("data")
    opt(
        "--data",
        "'multi30k', TRAIN.src,TRAIN.tgt, or the train, valid and test pairs (6 files)",
        d.data,
    )
    opt("--data-dir", "data folder (default: $SEQLAB_DATA or ../shared/data)")
    opt("--src-lang", "multi30k: source language", d.src_lang)
    opt("--tgt-lang", "multi30k: target language", d.tgt_lang)
    opt("--tokenizer", "basic_english, whitespace, bpe or spacy", d.tokenizer)
    opt("--lower", "lower-case both sides", action=bool_flag)
    opt("--min-freq", "words seen fewer times in train become <unk>", d.min_freq, type=int)
    opt(
        "--max-vocab",
        "keep the most frequent words only (per language, or in the shared vocabulary)",
        type=int,
    )
    opt(
        "--shared-vocab",
        "one vocabulary for both languages, fit on both sides of train (with --tokenizer bpe: "
        "joint merges)",
        action=bool_flag,
    )
    opt("--limit", "pairs per split (a quick run)", type=int)
    group("model")
    opt("--model", "model family", d.model, choices=TRANSLATORS)
    opt("--cell", "seq2seq: recurrent cell", d.cell, choices=("rnn", "lstm", "gru"))
    opt(
        "--attention",
        "seq2seq: decoder attention over the encoder outputs",
        d.attention,
        choices=("none", "dot", "general", "additive", "cosine"),
    )
    opt("--embed", "embedding size (Transformers: d_model)", d.embed, type=int)
    opt("--hidden", "seq2seq state / Transformer feed-forward size", d.hidden, type=int)
    opt("--layers", "stacked layers (Transformer: encoder and decoder each)", d.layers, type=int)
    opt("--heads", "Transformer attention heads", d.heads, type=int)
    opt("--dropout", "dropout", d.dropout, type=float)
    opt(
        "--teacher-forcing",
        "seq2seq: probability of feeding the true previous word in training",
        d.teacher_forcing,
        type=float,
    )
    opt(
        "--label-smoothing",
        "training loss: move this share of each target's probability to a uniform spread "
        "(0.1 in Vaswani et al.); validation perplexity stays the plain cross-entropy",
        d.label_smoothing,
        type=float,
    )
    opt(
        "--backend",
        "fused (fast) or scratch (the course's hand-written cells)",
        d.backend,
        choices=("fused", "scratch"),
    )
    group("decoding")
    opt("--beam", "beam width for the test translations (1: greedy)", d.beam, type=int)
    opt("--length-penalty", "beam search: GNMT length penalty alpha", d.length_penalty, type=float)
    opt("--max-decode", "longest translation in tokens", d.max_decode, type=int)
    opt(
        "--allow-unk",
        "let translations contain <unk> (by default the best known word is chosen instead: "
        "an <unk> never matches a reference)",
        action=bool_flag,
    )
    opt("--valid-bleu", "decode the validation split every epoch for BLEU", action=bool_flag)
    _add_training_options(p, opt, group, ("valid_loss", "valid_perplexity", "valid_bleu"))


def _cutoffs(text: str) -> list[int] | None:
    """--adaptive: comma-separated increasing word ranks, or 'none'."""
    if text.lower() == "none":
        return None
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected cutoffs like 2000,10000, got {text!r}"
        ) from None


def _read_toml(path: str, valid: set[str]) -> dict[str, Any]:
    """Options from a TOML file; keys may use - or _; unknown keys name the valid ones."""
    import tomllib

    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise SeqlabError(f"config file {path} not found") from None
    except tomllib.TOMLDecodeError as e:
        raise SeqlabError(f"config file {path}: {e}") from None
    values = {k.replace("-", "_"): v for k, v in raw.items()}
    unknown = sorted(k for k in values if k not in valid)
    if unknown:
        names = " ".join(sorted(k.replace("_", "-") for k in valid))
        raise SeqlabError(f"{path}: unknown option(s) {', '.join(unknown)}; valid: {names}")
    return values


def _configs(
    args: argparse.Namespace,
    task_class: type,
    presets: dict[str, dict[str, Any]] | None = None,
    defaults: dict[str, Any] | None = None,
) -> tuple[Any, Any, dict[str, Any]]:
    """(task config, TrainConfig, run options) from the dataclass defaults < the command's
    `defaults` < preset < TOML file < flags."""
    from seqlab.train.config import TrainConfig

    task_fields = {f.name for f in dataclasses.fields(task_class)}
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    internal = ("func", "command", "task", "option_names")
    given = {k: v for k, v in vars(args).items() if k not in internal}
    values = {}
    if "config" in given:
        values = _read_toml(given["config"], set(args.option_names))
    values.update(given)
    preset = values.pop("preset", None)
    if preset is not None:
        if preset not in (presets or {}):
            raise SeqlabError(
                f"unknown preset {preset!r}; choose one of {', '.join(presets or {})}"
            )
        values = {**presets[preset], **values}
    values = {**(defaults or {}), **values}
    run = {k: values.pop(k, None) for k in CLI_ONLY}
    if run["dry_run"]:
        if "limit" in task_fields:
            values.setdefault("limit", DRY_RUN_LIMIT)
        values.update(epochs=1, limit_batches=2)
    try:
        task = task_class(**{k: v for k, v in values.items() if k in task_fields})
        train = TrainConfig(**{k: v for k, v in values.items() if k in train_fields})
    except TypeError as e:  # a TOML value of the wrong type
        raise SeqlabError(f"bad option value: {e}") from None
    return task, train, run


# task -> (its config dataclass in seqlab.tasks.configs, its presets there or None)
TRAIN_TASKS = {
    "classify": ("ClassifyConfig", "CLASSIFY_PRESETS"),
    "lm": ("LMConfig", "LM_PRESETS"),
    "translate": ("TranslateConfig", None),
}


def run_train(args: argparse.Namespace) -> int:
    """Handler of `seqlab train TASK`: build the configs, train, then leave the process group."""
    from seqlab.tasks import configs, task_module
    from seqlab.train.distributed import shutdown

    config_name, presets_name = TRAIN_TASKS[args.task]
    presets = getattr(configs, presets_name) if presets_name else None
    task, train_cfg, run = _configs(args, getattr(configs, config_name), presets)
    out = Path(run["out"] or f"runs/{args.task}")
    try:
        task_module(args.task).train(task, train_cfg, out, resume=bool(run["resume"]))
    finally:
        shutdown()
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """Handler of `seqlab evaluate`."""
    from seqlab.tasks import task_of_checkpoint

    module = task_of_checkpoint(args.checkpoint)
    if args.cache:
        return _evaluate_with_cache(args, module)
    names = ("beam", "length_penalty", "allow_unk")
    decoding = {k: v for k in names if (v := getattr(args, k)) is not None}
    if decoding and module.TASK != "translate":
        raise SeqlabError(
            "--beam, --length-penalty and --allow-unk are for translation checkpoints"
        )
    metrics = module.evaluate_checkpoint(
        args.checkpoint,
        data=args.data,
        data_dir=args.data_dir,
        split=args.split,
        batch_size=args.batch_size,
        limit=args.limit,
        device=args.device,
        limit_batches=2 if args.dry_run else None,
        **decoding,
    )
    counts = {k: metrics.pop(k) for k in ("examples", "tokens") if k in metrics}
    confusion, names = metrics.pop("confusion", None), metrics.pop("label_names", None)
    shown = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())
    print(f"{args.split}: {shown}" + "".join(f"  ({n:,} {k})" for k, n in counts.items()))
    if confusion is not None:
        _class_report(args, confusion, names, metrics)
    return 0


def _evaluate_with_cache(args: argparse.Namespace, module: Any) -> int:
    """`seqlab evaluate --cache`: a language model with the continuous cache (Grave et al.)."""
    if not hasattr(module, "evaluate_with_cache"):
        raise SeqlabError("--cache is for language-model checkpoints")
    if (args.cache_theta is None) != (args.cache_lambda is None):
        raise SeqlabError("give both --cache-theta and --cache-lambda, or neither (then tuned)")
    r = module.evaluate_with_cache(
        args.checkpoint,
        window=args.cache_window,
        theta=args.cache_theta,
        lam=args.cache_lambda,
        split=args.split,
        data_dir=args.data_dir,
        batch_size=args.batch_size,
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
    import json

    from seqlab.atomic import write_text_atomic

    folder = Path(args.report or Path(args.checkpoint).parent)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{args.split}-cache.json"
    write_text_atomic(path, json.dumps({"split": args.split, **r}, indent=1) + "\n")
    print(f"wrote {path}")
    return 0


def _class_report(
    args: argparse.Namespace, confusion: list[list[int]], names: list[str], metrics: dict
) -> None:
    """Print per-class metrics and the confusion matrix; write them as JSON and a PNG heatmap."""
    import json

    from seqlab.atomic import write_text_atomic
    from seqlab.report import confusion_table, plot_confusion, report_table
    from seqlab.train.metrics import class_report

    rows = class_report(confusion, names)
    print()
    print(report_table(rows))
    print()
    print(confusion_table(confusion, names))
    folder = Path(args.report or Path(args.checkpoint).parent)
    folder.mkdir(parents=True, exist_ok=True)
    report = {"split": args.split, **metrics, "classes": rows, "confusion": confusion}
    report["label_names"] = names
    json_path = folder / f"{args.split}-report.json"
    write_text_atomic(json_path, json.dumps(report, indent=1) + "\n")
    png = plot_confusion(folder / f"{args.split}-confusion.png", confusion, names)
    print(f"\nwrote {json_path} and {png}")


def run_predict(args: argparse.Namespace) -> int:
    """Handler of `seqlab predict`."""
    from seqlab.tasks import task_of_checkpoint

    texts = args.texts
    if texts == ["-"]:
        texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    module = task_of_checkpoint(args.checkpoint)
    for text, (label, prob) in zip(texts, module.predict(args.checkpoint, texts), strict=True):
        short = text if len(text) <= 60 else text[:57] + "..."
        print(f"{label}\t{prob:.4f}\t{short}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `train`, `evaluate` and `predict` to the seqlab command line."""
    train = subparsers.add_parser(
        "train",
        help="train a model (classify, lm, translate)",
        description="Train a model; run under torchrun for DDP.",
    )
    tasks = train.add_subparsers(dest="task", metavar="TASK", required=True)
    for name, help, description, add_options in (
        (
            "classify",
            "text classification (IMDB, TREC or your CSV/TSV/JSONL)",
            "Train a text classifier, then report its test accuracy.",
            _add_classify_options,
        ),
        (
            "lm",
            "language modelling (WikiText-2 or your text)",
            "Train a language model, then report its test perplexity. Recurrent models "
            "carry their state across bptt windows (truncated BPTT).",
            _add_lm_options,
        ),
        (
            "translate",
            "translation (Multi30k de-en or your parallel files)",
            "Train a seq2seq or Transformer translator, then report its teacher-forced "
            "perplexity and BLEU on the test split.",
            _add_translate_options,
        ),
    ):
        p = tasks.add_parser(
            name, help=help, description=description, argument_default=argparse.SUPPRESS
        )
        add_options(p)
        names = [a.dest for a in p._actions if a.dest not in ("help", "config")]
        p.set_defaults(func=run_train, option_names=names)

    ev = subparsers.add_parser(
        "evaluate",
        help="loss and accuracy (or perplexity) of a checkpoint on a split",
        description="Evaluate a checkpoint on a data split.",
    )
    ev.add_argument("checkpoint", help="a best.pt or last.pt written by seqlab train")
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

    pr = subparsers.add_parser(
        "predict",
        help="label and probability for texts",
        description="Classify texts with a checkpoint.",
    )
    pr.add_argument("checkpoint", help="a best.pt or last.pt written by seqlab train")
    pr.add_argument("texts", nargs="+", metavar="TEXT", help="texts to classify ('-': stdin)")
    pr.set_defaults(func=run_predict)
