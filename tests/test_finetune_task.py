"""seqlab.tasks.finetune and `seqlab finetune` on a tiny random BERT: training lowers the loss,
string labels round-trip, the report equals scikit-learn's, prediction after a restart needs
neither the network nor the original model folder, and user mistakes get clear messages."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from helpers import QUESTIONS, write_questions, write_tiny_bert  # noqa: E402

from seqlab.cli import main  # noqa: E402
from seqlab.config import run_from_options  # noqa: E402
from seqlab.errors import SeqlabError  # noqa: E402
from seqlab.tasks import finetune, load  # noqa: E402
from seqlab.tasks.configs import FinetuneRun  # noqa: E402
from seqlab.tasks.finetune import TASK  # noqa: E402

LABELS = sorted(QUESTIONS)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Full fine-tuning of a 2-layer random BERT on 240 questions of three string labels."""
    tmp = tmp_path_factory.mktemp("finetune")
    bert = write_tiny_bert(tmp / "bert", layers=2)
    data = write_questions(tmp / "questions.csv", 240)
    options = {
        "data": str(data),
        "text_column": "question",
        "label_column": "type",
        "model": str(bert),
        "strategy": "full",
        "max_length": 16,
    }
    options |= dict(
        optimizer="adamw", lr=3e-3, epochs=4, batch_size=16, schedule="linear", warmup=0.1,
        monitor="valid_accuracy", quiet=True,
    )  # fmt: skip
    run = run_from_options(FinetuneRun, options, "the test")
    result = TASK.train(run, tmp / "run")
    return run, result, tmp


def predict(checkpoint, texts: list[str]) -> list[tuple[str, float]]:
    """(label, probability) of each text by the checkpoint, as `seqlab predict` gives them."""
    loaded = load(checkpoint)
    return loaded.task.predict(loaded, texts)


def test_training_lowers_the_loss_and_learns(trained):
    _, result, _ = trained
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < 0.5 * losses[0]
    assert result.test["accuracy"] > 0.9  # the first word decides the label
    assert result.results["trainable"] == result.params


def test_string_labels_are_kept_end_to_end(trained):
    _, result, tmp = trained
    assert result.data.label_names == LABELS
    results = json.loads((tmp / "run" / "results.json").read_text())
    assert [row["class"] for row in results["test"]["classes"][:3]] == LABELS
    predictions = predict(tmp / "run" / "last.pt", ["where is the lake ?"])
    assert predictions[0][0] == "LOC"


def test_report_equals_scikit_learn_on_the_models_predictions(trained, capsys):
    metrics = pytest.importorskip("sklearn.metrics")
    run, _, tmp = trained
    checkpoint = tmp / "run" / "last.pt"
    assert main(["evaluate", str(checkpoint), "--report", str(tmp / "report")]) == 0
    report = json.loads((tmp / "report" / "test-report.json").read_text())
    # The same test texts, predicted one by one with `predict`.
    texts, labels = finetune.load_splits(run.data, seed=0, label_names=LABELS)[0]["test"]
    predicted = [LABELS.index(label) for label, _ in predict(checkpoint, texts)]
    expected = metrics.confusion_matrix(labels, predicted, labels=range(3))
    assert report["confusion"] == expected.tolist()
    assert report["accuracy"] == pytest.approx(metrics.accuracy_score(labels, predicted))
    p, r, f, s = metrics.precision_recall_fscore_support(
        labels, predicted, labels=range(3), zero_division=0
    )
    for k, row in enumerate(report["classes"][:3]):
        assert row["class"] == LABELS[k] and row["support"] == s[k]
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((p[k], r[k], f[k]))
    assert (tmp / "report" / "test-confusion.png").stat().st_size > 0


def test_checkpoint_predicts_after_a_restart_without_network_or_model_folder(trained, tmp_path):
    _, result, tmp = trained
    moved = tmp_path / "elsewhere.pt"
    shutil.copy(tmp / "run" / "best.pt", moved)
    bert = tmp / "bert"
    hidden = tmp / "bert-hidden"
    bert.rename(hidden)  # the original folder is gone
    try:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        # No network at all: any socket connection fails in the new process.
        code = (
            "import socket, sys\n"
            "def refuse(*a, **k): raise OSError('network disabled in this test')\n"
            "socket.socket.connect = refuse\n"
            "from seqlab.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n"
        )
        texts = ["who painted the song ?", "how many miles ?"]
        done = subprocess.run(
            [sys.executable, "-c", code, "predict", str(moved), *texts],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
    finally:
        hidden.rename(bert)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["HUM", "NUM"]
    assert load(moved).task is TASK


def test_cli_dry_run_and_help(tmp_path, capsys):
    bert = write_tiny_bert(tmp_path / "bert", layers=1)
    data = write_questions(tmp_path / "q.csv", 60)
    argv = ["finetune", "--model", str(bert), "--data", str(data), "--text-column", "question"]
    argv += ["--label-column", "type", "--strategy", "last-1", "--layer-decay", "0.8"]
    argv += ["--accumulate", "2", "--max-length", "12", "--batch-size", "4", "--quiet"]
    assert main([*argv, "--dry-run", "--out", str(tmp_path / "run")]) == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["train_config"]["optimizer"] == "adamw"  # seqlab finetune's own defaults
    assert results["train_config"]["accumulate"] == 2
    assert results["config"]["model"]["strategy"] == "last-1"
    assert results["trainable"] < results["params"]
    with pytest.raises(SystemExit):
        main(["finetune", "--help"])
    text = capsys.readouterr().out
    assert "--strategy" in text and "last-N" in text and "--layer-decay" in text


def test_missing_model_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["finetune", "--model", str(tmp_path / "nope"), "--dry-run"]) == 2
    assert "model folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SeqlabError, match="no config.json"):
        finetune.resolve_model(str(empty))


def test_a_hub_name_would_need_the_network(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty local cache
    with pytest.raises(SeqlabError, match="would\\s+need the network"):
        finetune.resolve_model("bert-base-uncased")


def test_a_decoder_model_folder_is_refused_by_the_cli(tmp_path, capsys):
    from transformers import GPT2Config

    folder = tmp_path / "gpt2"
    GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50).save_pretrained(folder)
    data = write_questions(tmp_path / "q.csv", 30)
    argv = ["finetune", "--model", str(folder), "--data", str(data), "--text-column", "question"]
    with pytest.raises(SeqlabError, match="not a sequence encoder"):
        run = run_from_options(FinetuneRun, {"model": str(folder)}, "the test")
        TASK.make_model(run, num_classes=2)
    assert main([*argv, "--label-column", "type", "--dry-run"]) == 2


def test_limits_subset_train_and_evaluation_splits(trained):
    run, _, _ = trained
    small = dataclasses.replace(run.data, limit=30, eval_limit=9)
    splits, names = finetune.load_splits(small, seed=0)
    assert [len(splits[s][0]) for s in ("train", "valid", "test")] == [30, 9, 9]
    assert np.bincount(splits["test"][1]).tolist() == [3, 3, 3]  # class-balanced
    assert names == LABELS


def test_model_in_checkpoint_equals_the_trained_one(trained):
    _, result, tmp = trained
    loaded = load(tmp / "run" / "last.pt")
    model, encoder = loaded.model, loaded.encoder
    ids = torch.tensor([encoder.encode("who wrote the book ?")])
    result.model.eval()
    torch.testing.assert_close(model(ids)[0], result.model(ids)[0])


def test_finetune_under_torchrun_counts_each_test_example_once(tmp_path):
    """Two DDP processes: the test confusion matrix is summed over both ranks' shards and equals
    a one-process evaluation of the saved model."""
    bert = write_tiny_bert(tmp_path / "bert", layers=1)
    data = write_questions(tmp_path / "q.csv", 90)
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    options = ["--model", str(bert), "--data", str(data), "--text-column", "question"]
    options += ["--label-column", "type", "--max-length", "12", "--batch-size", "4"]
    done = subprocess.run(
        [*torchrun, "--nproc_per_node", "2", "-m", "seqlab", "finetune", *options,
         "--epochs", "1", "--lr", "1e-3", "--out", str(out), "--quiet"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    test = json.loads((out / "results.json").read_text())["test"]
    assert sum(map(sum, test["confusion"])) == 18  # 20% of 90 questions, none twice
    loaded = load(out / "last.pt", device="cpu")
    again = loaded.task.evaluate(loaded)
    assert again["confusion"] == test["confusion"]
    assert again["loss"] == pytest.approx(test["loss"], abs=1e-5)
