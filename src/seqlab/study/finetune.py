"""The fine-tuning study: the course assignment's steps, from a frozen encoder to full
fine-tuning with a learning-rate schedule, each step reported overall and per class.

The assignment fine-tunes a pretrained BERT to classify texts and asks to raise the accuracy
"by unfreezing more of the model, training longer and scheduling the learning rate", reporting
the steps taken. Each step here is one fine-tuning run from the same pretrained weights that
changes one thing against the step before it, so the table reads as that path. TREC-6 stands in
for the assignment's data; any labelled file works (`--data`).
"""

from __future__ import annotations

import datetime
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqlab.atomic import write_text_atomic
from seqlab.study.report import markdown, write_csv
from seqlab.tasks.configs import FinetuneRun
from seqlab.tasks.presets import FINETUNE_TRAINING


@dataclass(frozen=True)
class Step:
    """One fine-tuning run of the study and the change it makes to the step before."""

    name: str
    change: str
    strategy: str
    epochs: int
    lr: float
    schedule: str = "none"


# The path of the assignment. A frozen encoder needs a far larger learning rate (only the new
# head learns); the encoder's own layers use BERT's 2e-5..5e-5 (Devlin et al. 2019, App. A.3).
STEPS = (
    Step("head", "train the new classification head only (encoder frozen)", "head", 2, 1e-2),
    Step("last-2", "also train the top 2 Transformer layers", "last-2", 2, 5e-5),
    Step("full", "train the whole encoder", "full", 2, 5e-5),
    Step("full-longer", "train twice as long", "full", 4, 5e-5),
    Step("full-linear", "10% warm-up, then linear decay to 0", "full", 4, 5e-5, "linear"),
    Step("full-cosine", "10% warm-up, then cosine decay to 0", "full", 4, 5e-5, "cosine"),
)


@dataclass
class FinetuneStudySettings:
    """What every step shares: data, model, subset and training settings."""

    out: Path
    data: str = "trec"
    model: str = "minilm"
    label_set: str = "coarse"
    text_column: str = "text"
    label_column: str = "label"
    data_dir: str | None = None
    quick: bool = False
    seed: int = 0
    batch_size: int = 32
    threads: int | None = None
    device: str = "auto"

    def run(self, step: Step) -> Any:
        """The step's FinetuneRun (--quick: 200 training and 100 evaluation texts, half the
        epochs, at least 1)."""
        from seqlab.config import run_from_options

        shared = ("data", "data_dir", "label_set", "text_column", "label_column", "model")
        values = {name: getattr(self, name) for name in shared}
        values |= {"limit": 200 if self.quick else None, "eval_limit": 100 if self.quick else None}
        # TREC questions: 99.9% fit in 64 word pieces
        values |= {"max_length": 32 if self.quick else 64, "strategy": step.strategy}
        values |= {**FINETUNE_TRAINING, "schedule": step.schedule, "lr": step.lr}
        epochs = max(1, step.epochs // 2) if self.quick else step.epochs
        values |= {"epochs": epochs, "batch_size": self.batch_size, "seed": self.seed}
        values |= {"threads": self.threads, "device": self.device, "quiet": True}
        return run_from_options(FinetuneRun, values, f"finetune study step {step.name}")


def run_step(step: Step, settings: FinetuneStudySettings, data: Any) -> dict[str, Any]:
    """Fine-tune one step (or read it back if OUT/runs/NAME/results.json exists)."""
    from seqlab.tasks.finetune import TASK

    folder = settings.out / "runs" / step.name
    done = folder / "results.json"
    if not done.is_file():
        TASK.train(settings.run(step), folder, resume=True, data=data)  # a killed step continues
    return json.loads(done.read_text())


def step_row(step: Step, result: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """One line of the steps table: the settings, the accuracies and the time."""
    history = result["history"]
    valid = [h["valid_accuracy"] for h in history if "valid_accuracy" in h]
    row = {"step": step.name, "change": step.change, "trainable": result["trainable"]}
    row |= {"epochs": len(history), "lr": step.lr, "schedule": step.schedule}
    row |= {"valid_accuracy": max(valid) if valid else None}
    row["test_accuracy"] = result["test"]["accuracy"]
    for cls in result["test"]["classes"][: len(names)]:
        row[f"{cls['class']}_accuracy"] = cls["accuracy"]
    row["train_s"] = round(result["train_wall_s"], 1)
    return row


def confusion_answer(confusion: list[list[int]], names: list[str], rows: list[dict]) -> str:
    """The assignment's question, "what does the final confusion matrix say about whether the
    errors can be reduced further?", answered from the numbers: where the errors are, and how
    the last steps' test accuracies compare with the test split's standard error."""
    n = sum(map(sum, confusion))
    right = sum(confusion[i][i] for i in range(len(names)))
    errors, acc = n - right, right / max(n, 1)
    se = math.sqrt(acc * (1 - acc) / max(n, 1))
    missed = {names[i]: sum(row) - row[i] for i, row in enumerate(confusion)}
    worst = max(missed, key=missed.get)
    cells = sorted(
        ((confusion[i][j], names[i], names[j]) for i in range(len(names))
         for j in range(len(names)) if i != j and confusion[i][j]),
        reverse=True,
    )  # fmt: skip
    perfect = [c for c, k in missed.items() if k == 0]
    last = [r["test_accuracy"] for r in rows[-3:]]
    spread = max(last) - min(last)
    parts = [
        f"The final model gets {right:,} of {n:,} test texts right (accuracy {acc:.4f}, "
        f"standard error {se:.4f}) and {errors} wrong."
    ]
    if errors:
        share = missed[worst] / errors
        where = "concentrated" if share >= 0.4 else "spread over the classes"
        top = ", ".join(f"{t} read as {p} ({k})" for k, t, p in cells[:3])
        parts.append(
            f"The errors are {where}: {missed[worst]} of the {errors} are {worst} texts, and "
            f"the largest confusions are {top}."
        )
    if perfect:
        listed = " or ".join(
            [", ".join(perfect[:-1]), perfect[-1]] if len(perfect) > 1 else perfect
        )
        parts.append(f"No {listed} text is misclassified.")
    parts.append(
        f"The last {len(last)} steps differ by {spread:.4f} in test accuracy, "
        f"{spread / se if se else 0:.1f} standard errors: "
        + ("within the noise of a test split this size, so further changes of the schedule or "
           "the number of epochs cannot be told apart here; "
           if spread < 2 * se else "more than the noise, so the schedule still matters; ")
        + f"the {errors} remaining errors bound what is left to gain at {1 / max(n, 1):.4f} "
        "each, and where they sit says what would reduce them: more or clearer training "
        f"examples of {worst}, the class the model confuses most, rather than more epochs."
    )  # fmt: skip
    return " ".join(parts)


def run_finetune_study(settings: FinetuneStudySettings) -> Path:
    """Run every step (finished ones are read back) and write OUT/README.md, steps.csv and
    the final step's confusion matrix (Markdown and PNG)."""
    from seqlab.report import confusion_table, plot_confusion
    from seqlab.tasks.finetune import TASK

    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    data = TASK.load_data(settings.run(STEPS[0]))  # the steps differ in training only
    names = data.label_names
    rows = []
    for step in STEPS:
        result = run_step(step, settings, data)
        rows.append(step_row(step, result, names))
        print(f"{step.name:<12} test accuracy {rows[-1]['test_accuracy']:.4f}", flush=True)
    write_csv(out / "steps.csv", rows)
    confusion = result["test"]["confusion"]  # the last step's: the final model
    plot_confusion(out / "confusion.png", confusion, names)
    columns = [("step", "step"), ("change", "change"), ("trainable", "trained params")]
    columns += [("epochs", "epochs"), ("lr", "lr"), ("schedule", "schedule")]
    columns += [("valid_accuracy", "valid acc"), ("test_accuracy", "test acc")]
    per_class = [("step", "step")] + [(f"{n}_accuracy", n) for n in names]
    sizes = result["examples"]
    lines = [
        "# Fine-tuning study",
        "",
        f"Model `{settings.model}` on `{settings.data}`"
        + (f" ({settings.label_set} labels)" if settings.data == "trec" else "")
        + f": {sizes['train']:,} train / {sizes['valid']:,} valid / {sizes['test']:,} test "
        f"texts{' (--quick)' if settings.quick else ''}. Each step fine-tunes the pretrained "
        "weights anew with AdamW (weight decay 0.01, gradient clipping at 1.0); the test "
        "accuracy is that of the model after its last epoch.",
        "",
        "## Steps",
        "",
        markdown(rows, columns),
        "",
        "## Test accuracy per class (recall of each class) after each step",
        "",
        markdown(rows, per_class),
        "",
        f"## Confusion matrix of the final step ({STEPS[-1].name}), test split",
        "",
        confusion_table(confusion, names),
        "",
        "![confusion matrix](confusion.png)",
        "",
        "## Can the errors be reduced further?",
        "",
        confusion_answer(confusion, names, rows),
        "",
        f"CSV: [steps.csv](steps.csv). Per-step histories, checkpoints and reports: `runs/`. "
        f"Written {datetime.date.today().isoformat()}; the steps trained for "
        f"{sum(r['train_s'] for r in rows):.0f} s in all (validation passes included).",
        "",
    ]
    readme = out / "README.md"
    write_text_atomic(readme, "\n".join(lines))
    return readme
