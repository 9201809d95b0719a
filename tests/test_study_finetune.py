"""`seqlab study finetune --quick` on a tiny random BERT and a small labelled file."""

from __future__ import annotations

import csv

import pytest

pytest.importorskip("transformers")

from helpers import QUESTIONS, write_questions, write_tiny_bert  # noqa: E402

from seqlab.cli import main  # noqa: E402
from seqlab.study.finetune import STEPS  # noqa: E402


def test_quick_study_writes_the_steps_per_class_and_confusion(tmp_path, capsys):
    bert = write_tiny_bert(tmp_path / "bert", layers=2)
    data = write_questions(tmp_path / "q.csv", 300)
    out = tmp_path / "study"
    argv = ["study", "finetune", "--quick", "--model", str(bert), "--data", str(data)]
    argv += ["--text-column", "question", "--label-column", "type", "--out", str(out)]
    argv += ["--batch-size", "16"]
    assert main(argv) == 0
    readme = (out / "README.md").read_text()
    rows = list(csv.DictReader(open(out / "steps.csv", encoding="utf-8")))
    assert [r["step"] for r in rows] == [s.name for s in STEPS]
    assert [int(r["epochs"]) for r in rows] == [1, 1, 1, 2, 2, 2]  # --quick: half of each step's
    for row in rows:
        # 20 test questions of each type: the accuracy is the mean of the per-class accuracies.
        per_class = [float(row[f"{label}_accuracy"]) for label in QUESTIONS]
        assert float(row["test_accuracy"]) == pytest.approx(sum(per_class) / len(QUESTIONS))
    # The first word decides the type: the new head alone learns much of it in one epoch at lr
    # 1e-2 (0.62 at seed 0; chance is 1/3). The random tiny encoder at 5e-5 learns nothing.
    assert float(rows[0]["test_accuracy"]) >= 0.5
    trained = [int(r["trainable"]) for r in rows]
    assert trained[0] < trained[1] < trained[2] == trained[-1]  # head < last-2 < full
    assert "| head |" in readme and "Confusion matrix" in readme
    assert "| true \\ predicted | HUM | LOC | NUM |" in readme
    assert (out / "confusion.png").stat().st_size > 0
    # A second run reads the finished steps back instead of training them again.
    before = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/results.json")}
    assert main(argv) == 0
    assert {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/results.json")} == before


def test_the_confusion_answer_is_written_from_the_numbers():
    from seqlab.study.finetune import confusion_answer

    names = ["A", "B", "C"]
    confusion = [[50, 0, 0], [1, 40, 4], [0, 1, 4]]  # 6 errors, 4 + 1 of them true B
    rows = [{"test_accuracy": x} for x in (0.93, 0.94, 0.94)]
    text = confusion_answer(confusion, names, rows)
    assert "94 of 100 test texts right (accuracy 0.9400, standard error 0.0237) and 6 wrong" in text
    assert "concentrated: 5 of the 6 are B texts" in text and "B read as C (4)" in text
    assert "No A text is misclassified" in text and "0.4 standard errors: within the noise" in text
    wide = [{"test_accuracy": x} for x in (0.80, 0.90, 0.94)]
    assert "more than the noise" in confusion_answer(confusion, names, wide)
