"""The translation study: each model family of the course assignment trained with its default
settings and with tuned ones, on Multi30k German->English (or any parallel files).

The assignment compares perplexity before and after hyper-parameter tuning and forbids the two
cheap answers (more epochs, RNN -> LSTM): each family keeps its cell, attention and epochs, and
its tuned run changes the other settings, each change with the reason it was tried. Every run is
one `seqlab train translate` (its command is in the table); OUT/runs/NAME/results.json marks a
finished run, so an interrupted study continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqlab.atomic import write_text_atomic
from seqlab.config import command_line, to_dict
from seqlab.errors import SeqlabError
from seqlab.study.report import markdown, write_csv
from seqlab.study.runs import LEAVE_OUT, selected_epoch

# Settings of the public reference the course follows (bentrevett's seq2seq tutorials): 256-d
# embeddings, 512 hidden units, dropout 0.5, Adam at 1e-3, batches of 128, clipping at 1.
SEQ2SEQ_DEFAULT = {"embed": 256, "hidden": 512, "layers": 1, "dropout": 0.5}
TRANSFORMER_DEFAULT = {"embed": 256, "hidden": 512, "layers": 3, "heads": 8, "dropout": 0.1}
TRAIN_DEFAULT = {"optimizer": "adam", "lr": 1e-3, "batch_size": 128, "clip": 1.0}

# What the tuned runs change, and why each change was tried.
SEQ2SEQ_TUNED = (
    {"dropout": 0.3, "label_smoothing": 0.1},
    {"lr": 2e-3, "schedule": "cosine", "warmup": 0.05},
    "dropout 0.5 -> 0.3: one-layer models on 29k pairs underfit more than they overfit; "
    "label smoothing 0.1 (Szegedy et al. 2016): less over-confident next-word guesses, which "
    "greedy and beam search then recover from better; lr 2e-3 with warm-up and cosine decay: "
    "faster progress early, small steps late, within the same epochs",
)
TRANSFORMER_TUNED = (
    {"dropout": 0.2, "label_smoothing": 0.1},
    {"lr": 1e-3, "schedule": "cosine", "warmup": 0.1},
    "label smoothing 0.1 as in Vaswani et al. (2017); a learning-rate warm-up, which "
    "post-norm Transformers need to train stably at a higher peak rate (1e-3); dropout "
    "0.1 -> 0.2 against overfitting 29k pairs",
)


@dataclass(frozen=True)
class Run:
    """One row of the study: a family (cell + attention) in its default or tuned settings."""

    name: str
    family: str
    variant: str  # "default" or "tuned"
    model: dict[str, Any]
    train: dict[str, Any]
    why: str


def plan(epochs: int = 10) -> list[Run]:
    """Default and tuned runs of seq2seq (RNN, LSTM; without and with cosine attention) and of
    the Transformer, each trained for `epochs`."""
    runs = []
    # family -> (model options, default model settings, default training changes, tuned)
    families = {
        f"{cell}{'' if att == 'none' else '-' + att}": (
            {"model": "seq2seq", "cell": cell, "attention": att}, SEQ2SEQ_DEFAULT, {},
            SEQ2SEQ_TUNED,
        )
        for cell in ("rnn", "lstm")
        for att in ("none", "cosine")
    }  # fmt: skip
    # the tutorial's Transformer rate
    families["transformer"] = ({"model": "transformer"}, TRANSFORMER_DEFAULT, {"lr": 5e-4},
                               TRANSFORMER_TUNED)  # fmt: skip
    for family, (model, default, train_default, tuned) in families.items():
        base = {**model, **default}
        train = {**TRAIN_DEFAULT, "epochs": epochs, **train_default}
        runs.append(Run(f"{family}-default", family, "default", base, train, "the reference"))
        model_change, train_change, why = tuned
        runs.append(
            Run(
                f"{family}-tuned",
                family,
                "tuned",
                {**base, **model_change},
                {**train, **train_change},
                why,
            )
        )
    return runs


@dataclass
class TranslationStudySettings:
    """Where and how the study runs; `quick` shrinks data, models and epochs to minutes."""

    out: Path
    quick: bool = False
    data: str = "multi30k"
    data_dir: str | None = None
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    epochs: int | None = None  # default 10 (quick: 2)
    only: list[str] = field(default_factory=list)  # run names or families; empty: all

    def runs(self) -> list[Run]:
        """The plan, shrunk when quick, restricted to `only`."""
        runs = plan(self.epochs or (2 if self.quick else 10))
        if self.quick:
            small = {"embed": 32, "hidden": 64, "layers": 1}
            runs = [
                dataclasses.replace(
                    r,
                    model={**r.model, **small, **({"heads": 2} if "heads" in r.model else {})},
                    train={**r.train, "batch_size": 32},
                )
                for r in runs
            ]
        if self.only:
            known = {r.name for r in runs} | {r.family for r in runs}
            unknown = sorted(set(self.only) - known)
            if unknown:
                choices = ", ".join(sorted(known))
                raise SeqlabError(f"--only: unknown runs {', '.join(unknown)}; choose {choices}")
            runs = [r for r in runs if r.name in self.only or r.family in self.only]
        return runs

    def configs(self, run: Run) -> Any:
        """The TranslateRun of a run, as `seqlab train translate` builds it."""
        from seqlab.config import run_from_options
        from seqlab.tasks.configs import TranslateRun

        values = {"data": self.data, "data_dir": self.data_dir}
        values["limit"] = 3000 if self.quick and self.data == "multi30k" else None
        values |= {**run.model, **run.train, "device": self.device, "threads": self.threads}
        values |= {"seed": self.seed, "quiet": True}
        return run_from_options(TranslateRun, values, f"translation study run {run.name}")


def _saved_config(results: dict[str, Any]) -> dict[str, Any]:
    """The data, model and decode sections of a finished run's results.json; one written before
    the nested configs holds flat option names, read into today's sections."""
    from seqlab.config import run_from_options
    from seqlab.tasks.configs import TranslateRun

    saved = results.get("config") or {}
    if isinstance(saved.get("data"), dict):
        return saved
    run = run_from_options(TranslateRun, saved, "results.json")
    return {k: v for k, v in to_dict(run).items() if k != "train"}


def _computed(train: dict[str, Any]) -> dict[str, Any]:
    """The training settings that change results (not the device, threads or verbosity)."""
    return {k: v for k, v in train.items() if k not in ("device", "threads", "quiet")}


def run_one(run: Run, settings: TranslationStudySettings) -> dict[str, Any]:
    """Train one run (or read back its finished result) and return its table row."""
    from seqlab.tasks.translate import TASK

    cfg = settings.configs(run)
    wanted = {k: v for k, v in to_dict(cfg).items() if k != "train"}
    out = settings.out / "runs" / run.name
    done = out / "results.json"
    results = json.loads(done.read_text()) if done.is_file() else None
    if results is not None and (
        _saved_config(results) != wanted
        or _computed(results.get("train_config", {})) != _computed(cfg.train.to_dict())
    ):
        raise SeqlabError(
            f"{done} was trained with other settings (an earlier study in this folder?); "
            "use another --out or delete that run"
        )
    if results is None:
        results = TASK.train(cfg, out, resume=True).results
    history = results["history"]
    # The epoch whose weights were tested: the last one, or the best under early stopping.
    kept = selected_epoch(history, results["train_config"])
    test = results.get("test", {})
    return {
        "name": run.name,
        "family": run.family,
        "variant": run.variant,
        "params": results["params"],
        "epochs": len(history),
        "valid_perplexity": round(kept.get("valid_perplexity", float("nan")), 2),
        "test_perplexity": round(test.get("perplexity", float("nan")), 2),
        "test_bleu": round(test.get("bleu", float("nan")), 2),
        "test_bleu_tokenized": round(test.get("bleu_tokenized", float("nan")), 2),
        "train_wall_s": round(results["train_wall_s"], 1),
        "why": run.why,
        "command": command_line("seqlab train translate", cfg, LEAVE_OUT) + f" --out {out}",
    }


COLUMNS = [
    ("name", "run"),
    ("params", "params"),
    ("epochs", "epochs"),
    ("valid_perplexity", "valid ppl"),
    ("test_perplexity", "test ppl"),
    ("test_bleu_tokenized", "test BLEU (tok.)"),
    ("test_bleu", "test sacreBLEU"),
    ("train_wall_s", "train s"),
]


def run_translation_study(settings: TranslationStudySettings) -> Path:
    """Run every planned run in turn and write OUT/README.md and OUT/runs.csv."""
    settings.out.mkdir(parents=True, exist_ok=True)
    data = settings.data + (" (quick: reduced data, models and epochs)" if settings.quick else "")
    rows = []
    runs = settings.runs()
    for i, run in enumerate(runs, 1):
        print(f"[{i}/{len(runs)}] {run.name}", flush=True)
        rows.append(run_one(run, settings))
    write_csv(settings.out / "runs.csv", rows)
    lines = [
        "# Translation study: default versus tuned settings",
        "",
        f"Data: {data}. "
        "Validation perplexity is that of the epoch whose weights were tested (the last; the best "
        "under early stopping). Perplexity is teacher-forced (the plain cross-entropy, also for "
        "runs trained with "
        "label smoothing); BLEU is on greedy translations of the test split: tokenized "
        "lower-cased corpus BLEU (as the public tutorials report) and sacreBLEU on detokenized "
        "text. Each family keeps its cell, attention and number of epochs.",
        "",
        markdown(rows, COLUMNS),
        "",
        "## Gain of tuning per family",
        "",
    ]
    by_name = {r["name"]: r for r in rows}
    gains = []
    for family in dict.fromkeys(r["family"] for r in rows):
        d, t = by_name.get(f"{family}-default"), by_name.get(f"{family}-tuned")
        if d and t:
            gains.append(
                {
                    "family": family,
                    "default_ppl": d["valid_perplexity"],
                    "tuned_ppl": t["valid_perplexity"],
                    "default_bleu": d["test_bleu_tokenized"],
                    "tuned_bleu": t["test_bleu_tokenized"],
                }
            )
    if gains:
        lines.append(
            markdown(
                gains,
                [
                    ("family", "family"),
                    ("default_ppl", "valid ppl default"),
                    ("tuned_ppl", "valid ppl tuned"),
                    ("default_bleu", "BLEU default"),
                    ("tuned_bleu", "BLEU tuned"),
                ],
            )
        )
    lines += ["", "## What each tuned run changed, and why", ""]
    lines += [f"- **{r['name']}**: {r['why']}" for r in rows if r["variant"] == "tuned"]
    lines += ["", "## Commands", "", *[f"    {r['command']}" for r in rows], ""]
    readme = settings.out / "README.md"
    write_text_atomic(readme, "\n".join(lines))
    return readme
