"""Nothing lost, nothing silently wrong: a diverging run keeps only finite checkpoints, and a
run folder belongs to one run (a lock, refusing another run's folder, --overwrite, temp files)."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqlab.cli import main
from seqlab.train import Callback, load_checkpoint

DATA = Path(__file__).parent / "fixtures" / "checkpoints" / "data" / "questions.csv"
TINY = ["--data", str(DATA), "--text-column", "question", "--label-column", "type"]
TINY += ["--model", "gru", "--embed", "8", "--hidden", "8", "--quiet"]
TRAIN = ["train", "classify", *TINY]


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))


def error_line(capsys) -> str:
    """The one line a refused command printed (and nothing else)."""
    err = capsys.readouterr().err.strip()
    assert err.startswith("seqlab: error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def assert_finite_and_predicts(checkpoint: Path, capsys) -> None:
    state = load_checkpoint(checkpoint)
    assert all(t.isfinite().all() for t in state["model"].values() if t.is_floating_point())
    capsys.readouterr()
    assert main(["predict", str(checkpoint), "what is the capital of France"]) == 0
    label, prob, _ = capsys.readouterr().out.strip().split("\t")
    assert math.isfinite(float(prob)) and 0 < float(prob) <= 1


def test_weights_blown_up_by_the_first_step_write_nothing(tmp_path, capsys):
    """One batch per epoch: its loss is finite (computed before the step), the weights after
    the step are not; the run stops before writing anything."""
    out = tmp_path / "run"
    sgd = ["--optimizer", "sgd", "--lr", "1e39", "--batch-size", "256", "--epochs", "3"]
    assert main([*TRAIN, *sgd, "--out", str(out)]) == 2
    err = error_line(capsys)
    assert "weights became NaN or infinite in epoch 1; no checkpoint was written" in err
    assert not out.exists()  # nothing at all, not even the lock


class BlowUpAfterFirstEpoch(Callback):
    def on_epoch_end(self, trainer, record):
        for group in trainer.optimizer.param_groups:
            group["lr"] = 1e39


def test_divergence_names_the_last_good_checkpoint_which_predicts(tmp_path, capsys, monkeypatch):
    from seqlab.tasks.classify import TASK

    monkeypatch.setattr(TASK, "callbacks", lambda run, data: [BlowUpAfterFirstEpoch()])
    out = tmp_path / "run"
    sgd = ["--optimizer", "sgd", "--lr", "0.1", "--batch-size", "256", "--epochs", "3"]
    assert main([*TRAIN, *sgd, "--out", str(out)]) == 2
    err = error_line(capsys)
    assert f"in epoch 2; the last good checkpoint is {out / 'last.pt'} (epoch 1)" in err
    assert [json.loads(line)["epoch"] for line in open(out / "log.jsonl")] == [1]
    for name in ("best.pt", "last.pt"):
        assert load_checkpoint(out / name)["epoch"] == 1
        assert_finite_and_predicts(out / name, capsys)


def test_a_second_run_into_a_locked_folder_is_refused_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "run"
    epochs = 30  # long enough to be still training when the second run starts
    argv = [*TRAIN, "--epochs", str(epochs), "--batch-size", "8", "--threads", "1"]
    first = subprocess.Popen([sys.executable, "-m", "seqlab", *argv, "--out", str(out)])
    try:
        deadline = time.monotonic() + 60
        while not (out / ".lock.json").is_file():
            assert first.poll() is None and time.monotonic() < deadline, "no lock was taken"
            time.sleep(0.05)
        assert main([*TRAIN, "--epochs", "1", "--out", str(out)]) == 2
        err = error_line(capsys)
        assert f"in use by another run (pid {first.pid} on {socket.gethostname()}" in err
        assert first.wait(timeout=120) == 0
    finally:
        first.kill()
    results = json.loads((out / "results.json").read_text())
    assert [h["epoch"] for h in results["history"]] == list(range(1, epochs + 1))
    assert "accuracy" in results["test"]
    log = [json.loads(line)["epoch"] for line in open(out / "log.jsonl")]
    assert log == list(range(1, epochs + 1))  # one run's epochs, not two interleaved
    assert load_checkpoint(out / "last.pt")["epoch"] == epochs
    assert not (out / ".lock.json").exists()  # released at exit


def test_another_runs_folder_is_refused_unless_resume_or_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TRAIN, "--epochs", "1", "--out", str(out)]) == 0
    stale = ["test-report.json", "test-confusion.png", "valid-cache.json", "curves.png"]
    for name in [*stale, "notes.txt"]:
        (out / name).write_text("the old run's\n")
    before = (out / "last.pt").read_bytes()
    capsys.readouterr()

    assert main([*TRAIN, "--epochs", "1", "--model", "rnn", "--out", str(out)]) == 2
    err = error_line(capsys)
    assert "holds another run (last.pt, results.json)" in err
    assert "--resume" in err and "--overwrite" in err
    assert main([*TRAIN, "--epochs", "1", "--out", str(out), "--resume", "--overwrite"]) == 2
    error_line(capsys)
    assert (out / "last.pt").read_bytes() == before and (out / "test-report.json").exists()

    assert main([*TRAIN, "--epochs", "2", "--out", str(out), "--resume"]) == 0  # continues it
    assert len(json.loads((out / "results.json").read_text())["history"]) == 2

    assert main([*TRAIN, "--epochs", "1", "--model", "rnn", "--out", str(out), "--overwrite"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert len(results["history"]) == 1 and results["config"]["model"]["encoder"] == "rnn"
    assert not any((out / name).exists() for name in stale)  # the old run's reports are gone
    assert (out / "notes.txt").exists()  # not a run's file

    missing = ["--data", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "new")]
    assert main([*TRAIN, *missing]) == 2  # a run that fails before its first epoch
    error_line(capsys)
    assert not (tmp_path / "new").exists()  # leaves no folder behind

    (tmp_path / "file").write_text("")
    assert main([*TRAIN, "--epochs", "1", "--out", str(tmp_path / "file")]) == 2
    assert "is a file" in error_line(capsys)


def test_leftover_temp_files_of_killed_saves_are_removed_at_the_next_start(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    leftovers = [out / ".last.pt.k2j4h6g8.tmp", out / ".results.json.abc_1234.tmp"]
    for path in leftovers:
        path.write_bytes(b"half a file")
    (out / ".mine.tmp").write_text("not an atomic save's")
    assert main([*TRAIN, "--epochs", "1", "--out", str(out)]) == 0
    assert not any(p.exists() for p in leftovers)
    assert (out / ".mine.tmp").exists()
    assert sorted(p.name for p in out.glob(".*.tmp")) == [".mine.tmp"]
    assert os.listdir(out)  # the run's own files
