"""Checkpoints written before the task layer was rewritten (tests/fixtures/checkpoints, one per
task, made by tests/fixtures/make_checkpoints.py at commit e9a8313) still load through
`seqlab.tasks.load`, evaluate and predict/generate/translate to the very figures they gave when
they were written, and an old last.pt resumes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from seqlab.cli import main
from seqlab.tasks import load

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints"
DATA = FIXTURES / "data"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())
PAIRS = ",".join(str(DATA / f"pairs{i}.{lang}") for i in range(3) for lang in ("de", "en"))
DATA_OF = {
    "classify": str(DATA / "questions.csv"),
    "finetune": str(DATA / "questions.csv"),
    "lm": str(DATA / "text.txt"),
    "translate": PAIRS,
}


@pytest.fixture(autouse=True)
def in_repository(monkeypatch):
    """The checkpoints name their data by paths relative to the repository root."""
    monkeypatch.chdir(FIXTURES.parent.parent.parent)


def checkpoint(task: str, tmp_path: Path, name: str = "best.pt") -> Path:
    """A copy of the fixture (evaluation writes files beside a checkpoint)."""
    dest = tmp_path / task / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / task / name, dest)
    return dest


@pytest.mark.parametrize("task", ["classify", "lm", "translate", "finetune"])
def test_old_checkpoint_evaluates_to_the_same_figures(task, tmp_path):
    loaded = load(checkpoint(task, tmp_path))
    assert loaded.task.name == task
    metrics = loaded.task.evaluate(loaded, split="test")
    assert same_figures(metrics, EXPECTED[task]["evaluate_test"])


def same_figures(metrics: dict, expected: dict) -> bool:
    """Every figure the old code gave, unchanged; figures added since (the cased BLEU and the
    BLEU signatures) may come beside them."""
    added = {"bleu_cased", "bleu_signature", "bleu_cased_signature", "bleu_tokenized_signature"}
    return {k: v for k, v in metrics.items() if k not in added} == expected


@pytest.mark.parametrize("task", ["classify", "finetune"])
def test_old_classifier_predicts_the_same(task, tmp_path):
    loaded = load(checkpoint(task, tmp_path))
    got = loaded.task.predict(loaded, ["where is the lake ?", "who wrote it ?"])
    assert [list(p) for p in got] == EXPECTED[task]["predict"]


def test_old_language_model_generates_the_same(tmp_path):
    loaded = load(checkpoint("lm", tmp_path))
    texts, _ = loaded.task.generate(loaded, "where is", words=6, num=2, seed=3)
    assert texts == EXPECTED["lm"]["generate"]


def test_old_translator_decodes_the_same(tmp_path):
    loaded = load(checkpoint("translate", tmp_path))
    beam3 = loaded.task.evaluate(loaded, split="test", beam=3)
    assert same_figures(beam3, EXPECTED["translate"]["evaluate_test_beam3"])
    out, _ = loaded.task.translate(
        loaded, ["Ein Mann sieht den Hund .", "Die Katze mag den Ball ."]
    )
    assert out == EXPECTED["translate"]["translate"]


def test_old_checkpoint_summary_and_cli_evaluate(tmp_path, capsys):
    path = checkpoint("classify", tmp_path)
    assert main(["evaluate", str(path), "--data", DATA_OF["classify"]]) == 0
    loss = EXPECTED["classify"]["evaluate_test"]["loss"]
    assert f"loss {loss:.4f}" in capsys.readouterr().out
    assert main(["summary", "--checkpoint", str(path)]) == 0
    assert "Total params" in capsys.readouterr().out


def test_old_last_pt_resumes_and_refuses_other_settings(tmp_path, capsys):
    """The old checkpoint's flat settings are read as today's sections: the same options
    resume it (3 epochs done, 1 more), another model size is refused by name."""
    out = tmp_path / "run"
    checkpoint("classify", tmp_path)
    shutil.copytree(tmp_path / "classify", out)
    shutil.copy(FIXTURES / "classify" / "last.pt", out / "last.pt")
    data = "tests/fixtures/checkpoints/data/questions.csv"  # as the checkpoint names it
    args = ["train", "classify", "--data", data, "--text-column", "question",
            "--label-column", "type", "--model", "gru", "--embed", "16", "--epochs", "4",
            "--batch-size", "16", "--lr", "0.01", "--seed", "1", "--threads", "1", "--quiet",
            "--out", str(out), "--resume"]  # fmt: skip
    assert main([*args, "--hidden", "17"]) == 2
    err = capsys.readouterr().err
    assert "trained with other settings (--hidden (model.hidden_size))" in err
    assert main([*args, "--hidden", "16"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert [h["epoch"] for h in results["history"]] == [1, 2, 3, 4]
    assert results["test"]["accuracy"] == 1.0


def test_summary_of_a_finetune_checkpoint_and_cache_options(tmp_path, capsys):
    """Every checkpoint summarises (the pretrained classifier has its example batch too), and
    `evaluate --cache` says it does not take --data rather than ignoring it."""
    assert main(["summary", "--checkpoint", str(checkpoint("finetune", tmp_path))]) == 0
    assert "Total params: 10,088" in capsys.readouterr().out
    lm = checkpoint("lm", tmp_path)
    assert main(["evaluate", str(lm), "--cache", "--data", DATA_OF["lm"]]) == 2
    assert "no --data or --limit" in capsys.readouterr().err
