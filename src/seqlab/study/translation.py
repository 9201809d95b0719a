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

from seqlab.config import command_line, to_dict
from seqlab.errors import SeqlabError
from seqlab.rules import COUNT
from seqlab.study.report import write_csv
from seqlab.study.runs import LEAVE_OUT, selected_epoch
from seqlab.study.translation_report import write_report

# Settings of the public reference the course follows (bentrevett's seq2seq tutorials): 256-d
# embeddings, 512 hidden units, dropout 0.5, Adam at 1e-3, batches of 128, clipping at 1.
SEQ2SEQ_DEFAULT = {"embed": 256, "hidden": 512, "layers": 1, "dropout": 0.5}
TRANSFORMER_DEFAULT = {"embed": 256, "hidden": 512, "layers": 3, "heads": 8, "dropout": 0.1}
TRAIN_DEFAULT = {"optimizer": "adam", "lr": 1e-3, "batch_size": 128, "clip": 1.0}


# Tuning: candidate changes to the defaults, each trained on one family of its group for a few
# epochs (--tune-epochs); the lowest validation perplexity picks every family's tuned setting in
# the group. The families keep cell, attention, sizes and epochs (the assignment rules out "more
# epochs" and "RNN -> LSTM" as the tuning).
@dataclass(frozen=True)
class Candidate:
    """One change to the defaults tried during tuning, with the reason it was tried."""

    name: str
    model: dict[str, Any]
    train: dict[str, Any]
    why: str


_DROPOUT = "dropout 0.5 -> 0.3: one-layer models on 29k pairs underfit more than they overfit"
_COSINE = (
    "lr 2e-3 with warm-up and cosine decay: faster progress early, small steps late, within "
    "the same epochs"
)
_SMOOTHING = (
    "label smoothing 0.1 (Szegedy et al. 2016): less over-confident next-word guesses, "
    "which greedy and beam search then recover from better"
)
_WARMUP = (
    "a learning-rate warm-up, which post-norm Transformers need to train stably at a higher "
    "peak rate, then cosine decay"
)
SEQ2SEQ_CANDIDATES = (
    Candidate("dropout", {"dropout": 0.3}, {}, _DROPOUT),
    Candidate("cosine", {}, {"lr": 2e-3, "schedule": "cosine", "warmup": 0.05}, _COSINE),
    Candidate(
        "dropout-cosine",
        {"dropout": 0.3},
        {"lr": 2e-3, "schedule": "cosine", "warmup": 0.05},
        f"both: {_DROPOUT}; {_COSINE}",
    ),
    Candidate(
        "dropout-cosine-smoothing",
        {"dropout": 0.3, "label_smoothing": 0.1},
        {"lr": 2e-3, "schedule": "cosine", "warmup": 0.05},
        f"all three: {_DROPOUT}; {_COSINE}; {_SMOOTHING}",
    ),
)
TRANSFORMER_CANDIDATES = (
    Candidate(
        "warmup", {}, {"lr": 1e-3, "schedule": "cosine", "warmup": 0.1}, f"lr 1e-3 with {_WARMUP}"
    ),
    Candidate(
        "warmup-smoothing",
        {"label_smoothing": 0.1},
        {"lr": 1e-3, "schedule": "cosine", "warmup": 0.1},
        f"lr 1e-3 with {_WARMUP}; label smoothing 0.1 as in Vaswani et al. (2017)",
    ),
    Candidate(
        "warmup-2e-3",
        {},
        {"lr": 2e-3, "schedule": "cosine", "warmup": 0.1},
        f"lr 2e-3 with {_WARMUP}: whether the warm-up allows a still higher rate",
    ),
)
# group -> (the family its candidates are tried on, the candidates)
TUNING = {
    "seq2seq": ("lstm-cosine", SEQ2SEQ_CANDIDATES),
    "transformer": ("transformer", TRANSFORMER_CANDIDATES),
}
# Any choice, for the runs' names and families before the tuning has chosen.
ANY_CHOICE = {group: candidates[0] for group, (_, candidates) in TUNING.items()}


@dataclass(frozen=True)
class Run:
    """One run of the study: a family (cell + attention) in its default or tuned settings, or
    a tuning candidate tried on its group's family."""

    name: str
    family: str
    variant: str  # "default", "tuned" or "tuning"
    model: dict[str, Any]
    train: dict[str, Any]
    why: str
    group: str = ""


def _families() -> dict[str, tuple[str, dict[str, Any], dict[str, Any]]]:
    """family -> (tuning group, default model settings, default training settings changes)."""
    families: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
        f"{cell}{'' if att == 'none' else '-' + att}": (
            "seq2seq", {"model": "seq2seq", "cell": cell, "attention": att, **SEQ2SEQ_DEFAULT}, {}
        )
        for cell in ("rnn", "lstm")
        for att in ("none", "cosine")
    }  # fmt: skip
    # the tutorial's Transformer rate
    families["transformer"] = (
        "transformer", {"model": "transformer", **TRANSFORMER_DEFAULT}, {"lr": 5e-4}
    )  # fmt: skip
    return families


def tuning_plan(epochs: int = 3) -> list[Run]:
    """Every tuning candidate on its group's family, trained for `epochs`."""
    families = _families()
    runs = []
    for group, (family, candidates) in TUNING.items():
        _, model, train_default = families[family]
        train = {**TRAIN_DEFAULT, "epochs": epochs, **train_default}
        for c in candidates:
            runs.append(
                Run(f"tune-{group}-{c.name}", family, "tuning", {**model, **c.model},
                    {**train, **c.train}, c.why, group)
            )  # fmt: skip
    return runs


def plan(epochs: int = 10, chosen: dict[str, Candidate] | None = None) -> list[Run]:
    """Default runs of seq2seq (RNN, LSTM; without and with cosine attention) and of the
    Transformer, each trained for `epochs`, each followed by its tuned run where its group's
    candidate is `chosen` (what the tuning runs picked)."""
    runs = []
    for family, (group, model, train_default) in _families().items():
        train = {**TRAIN_DEFAULT, "epochs": epochs, **train_default}
        runs.append(
            Run(f"{family}-default", family, "default", model, train, "the reference", group)
        )
        if chosen and group in chosen:
            c = chosen[group]
            runs.append(
                Run(f"{family}-tuned", family, "tuned", {**model, **c.model}, {**train, **c.train},
                    c.why, group)
            )  # fmt: skip
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
    tune_epochs: int | None = None  # default 3 (quick: 1)
    only: list[str] = field(default_factory=list)  # run names or families; empty: all

    def __post_init__(self) -> None:
        for name in ("epochs", "tune_epochs", "threads"):
            COUNT.check(getattr(self, name), "--" + name.replace("_", "-"))

    def _shrunk(self, runs: list[Run]) -> list[Run]:
        """`runs` with small models and batches when quick."""
        if not self.quick:
            return runs
        small = {"embed": 32, "hidden": 64, "layers": 1}
        return [
            dataclasses.replace(
                r,
                model={**r.model, **small, **({"heads": 2} if "heads" in r.model else {})},
                train={**r.train, "batch_size": 32},
            )
            for r in runs
        ]

    def _selected(self, runs: list[Run]) -> list[Run]:
        """`runs` restricted to `only` (names or families)."""
        return [r for r in runs if not self.only or r.name in self.only or r.family in self.only]

    def runs(self, chosen: dict[str, Candidate] | None = None) -> list[Run]:
        """The default runs and the tuned runs of the `chosen` groups, shrunk when quick,
        restricted to `only`."""
        self._check_only()
        return self._selected(self._shrunk(plan(self.epochs or (2 if self.quick else 10), chosen)))

    def tuning_runs(self) -> list[Run]:
        """The tuning candidates that `only` names or that its tuned runs need."""
        self._check_only()
        runs = self._shrunk(tuning_plan(self.tune_epochs or (1 if self.quick else 3)))
        tuned = {r.group for r in self.runs(ANY_CHOICE) if r.variant == "tuned"}
        return [r for r in runs if r.group in tuned or r.name in self.only]

    def _check_only(self) -> None:
        runs = plan(2, ANY_CHOICE) + tuning_plan(1)
        known = {r.name for r in runs} | {r.family for r in runs}
        unknown = sorted(set(self.only) - known)
        if unknown:
            choices = ", ".join(sorted(known))
            raise SeqlabError(f"--only: unknown runs {', '.join(unknown)}; choose {choices}")

    def configs(self, run: Run) -> Any:
        """The TranslateRun of a run, as `seqlab train translate` builds it."""
        from seqlab.config import run_from_options
        from seqlab.tasks.configs import TranslateRun

        values = {"data": self.data, "data_dir": self.data_dir}
        values["limit"] = 3000 if self.quick and self.data == "multi30k" else None
        values |= {**run.model, **run.train, "device": self.device, "threads": self.threads}
        values |= {"seed": self.seed, "quiet": True}
        return run_from_options(TranslateRun, values, f"translation study run {run.name}")


def saved_run(results: dict[str, Any], path: Path) -> Any:
    """The TranslateRun of a finished run's results.json, settings added since taking their
    defaults (`Task.saved_run`); one written before the nested configs holds flat option
    names, read into today's sections."""
    from seqlab.tasks.translate import TASK

    config = results.get("config") or {}
    state = {"config": config} if isinstance(config.get("data"), dict) else {"data": config}
    return TASK.saved_run({**state, "train_config": results.get("train_config", {})}, path)


# Not what a run computes: where and how verbosely it runs, and when it writes checkpoints
# (resuming from one is exact).
_NOT_COMPUTED = ("device", "threads", "quiet", "save_every")


def _computed(run: Any) -> dict[str, Any]:
    """A run's settings that change its results."""
    values = to_dict(run)
    values["train"] = {k: v for k, v in values["train"].items() if k not in _NOT_COMPUTED}
    return values


def run_one(run: Run, settings: TranslationStudySettings) -> dict[str, Any]:
    """Train one run (or read back its finished result) and return its table row."""
    from seqlab.tasks.translate import TASK

    cfg = settings.configs(run)
    out = settings.out / ("tuning" if run.variant == "tuning" else "runs") / run.name
    done = out / "results.json"
    results = json.loads(done.read_text()) if done.is_file() else None
    if results is not None and _computed(saved_run(results, done)) != _computed(cfg):
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
        "group": run.group,
        "params": results["params"],
        "epochs": len(history),
        "valid_perplexity": round(kept.get("valid_perplexity", float("nan")), 2),
        "test_perplexity": round(test.get("perplexity", float("nan")), 2),
        "test_bleu": round(test.get("bleu", float("nan")), 2),
        "test_bleu_tokenized": round(test.get("bleu_tokenized", float("nan")), 2),
        "bleu_signature": test.get("bleu_signature", ""),
        "bleu_tokenized_signature": test.get("bleu_tokenized_signature", ""),
        "train_wall_s": round(results["train_wall_s"], 1),
        "why": run.why,
        "history_valid_perplexity": [e.get("valid_perplexity") for e in history],
        "command": command_line("seqlab train translate", cfg, LEAVE_OUT) + f" --out {out}",
    }


def _public(row: dict[str, Any]) -> dict[str, Any]:
    """A row as written to the CSV files (without the per-epoch history)."""
    return {k: v for k, v in row.items() if k != "history_valid_perplexity"}


def choose(rows: list[dict[str, Any]]) -> dict[str, Candidate]:
    """group -> the candidate of lowest validation perplexity among the group's tuning rows
    (the first listed on a tie); a group is chosen once all its candidates have a row."""
    chosen = {}
    for group, (_, candidates) in TUNING.items():
        got = {r["name"]: r["valid_perplexity"] for r in rows if r["group"] == group}
        names = [f"tune-{group}-{c.name}" for c in candidates]
        if all(n in got for n in names):
            best = min(range(len(names)), key=lambda i: got[names[i]])
            chosen[group] = candidates[best]
    return chosen


def run_translation_study(settings: TranslationStudySettings) -> Path:
    """Run the tuning candidates, then every default and tuned run in turn, and write
    OUT/README.md, OUT/runs.csv and OUT/tuning.csv."""
    settings.out.mkdir(parents=True, exist_ok=True)
    data = settings.data + (" (quick: reduced data, models and epochs)" if settings.quick else "")
    tuning = settings.tuning_runs()
    tuning_rows = []
    for i, run in enumerate(tuning, 1):
        print(f"[tuning {i}/{len(tuning)}] {run.name}", flush=True)
        tuning_rows.append(run_one(run, settings))
    runs = settings.runs(choose(tuning_rows))
    rows = []
    for i, run in enumerate(runs, 1):
        print(f"[{i}/{len(runs)}] {run.name}", flush=True)
        rows.append(run_one(run, settings))
    write_csv(settings.out / "runs.csv", [_public(r) for r in rows])
    if tuning_rows:
        write_csv(settings.out / "tuning.csv", [_public(r) for r in tuning_rows])
    chosen = {f"tune-{group}-{c.name}" for group, c in choose(tuning_rows).items()}
    epochs = tuning[0].train["epochs"] if tuning else 0
    return write_report(settings.out, data, rows, tuning_rows, chosen, epochs)
