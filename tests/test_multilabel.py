"""Multi-label classification (issue 21): the metric against scikit-learn, a synthetic file whose
words decide each text's labels (trained in seconds), the GoEmotions reader, thresholds tuned on
the validation split only, predict and evaluate of a multi-label checkpoint, and the mistakes
users make, each a one-line error."""

from __future__ import annotations

import csv
import gzip
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from seqlab.cli import main
from seqlab.config import run_from_options
from seqlab.data.goemotions import goemotions_pools, label_count_histogram, read_goemotions
from seqlab.data.paths import data_dir
from seqlab.errors import SeqlabError
from seqlab.models import model_from_config
from seqlab.models.classifier import SequenceClassifier, SequenceClassifierConfig
from seqlab.tasks import load
from seqlab.tasks.classify import TASK
from seqlab.tasks.configs import ClassifyRun
from seqlab.tasks.multilabel import split_probabilities, thresholds_of, tune_thresholds
from seqlab.train.metrics import MultiLabelReport, label_report

TOPICS = {
    "food": "pizza bread cheese soup".split(),
    "music": "song guitar band album".split(),
    "sport": "goal match team ball".split(),
    "travel": "train flight hotel beach".split(),
}
FILLER = "the a was and it very today we".split()
GOEMOTIONS = data_dir() / "goemotions"


def write_topics(path: Path, n: int, seed: int = 0, labels_of=None) -> Path:
    """A CSV of n texts holding two keywords of each of their 1-3 topics (the labels)."""
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "topics"])
        for _ in range(n):
            labels = rng.sample(sorted(TOPICS), rng.choice([1, 1, 2, 2, 3]))
            words = rng.choices(FILLER, k=rng.randint(3, 8))
            for label in labels:
                words += rng.sample(TOPICS[label], 2)
            rng.shuffle(words)
            w.writerow([" ".join(words), (labels_of or ",".join)(labels)])
    return path


def run_of(**options) -> ClassifyRun:
    return run_from_options(ClassifyRun, options, "the test")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A Kim CNN trained for 6 epochs on 400 topic texts, thresholds tuned on validation."""
    tmp = tmp_path_factory.mktemp("multilabel")
    mp = pytest.MonkeyPatch()
    mp.setenv("SEQLAB_CACHE", str(tmp / "cache"))
    data = write_topics(tmp / "topics.csv", 400)
    run = run_of(
        data=str(data), label_column="topics", multi_label=True, model="cnn", widths=[1, 2],
        embed=16, hidden=16, epochs=6, lr=0.03, threshold="tune", monitor="valid_macro_f1",
        quiet=True,
    )  # fmt: skip
    result = TASK.train(run, tmp / "run")
    yield run, result, tmp
    mp.undo()


# -- the metric ----------------------------------------------------------------------------------
def test_metric_equals_scikit_learn_on_fixed_predictions():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 5, generator=g) * 2
    truth = (torch.rand(50, 5, generator=g) < 0.3).long()
    truth[:, 4] = 0  # a label never present ...
    logits[:, 4] = -5.0  # ... and never predicted: its F1 counts as 0 (zero_division=0)
    thresholds = [0.5, 0.3, 0.7, 0.5, 0.5]
    metric = MultiLabelReport(5, thresholds)
    halves = [metric.counts(logits[s], {"labels": truth[s]}) for s in (slice(0, 20), slice(20, 50))]
    totals = {k: sum(h[k] for h in halves) for k in metric.keys}
    got = metric.summarize(0.0, {k: v if v.dim() else float(v) for k, v in totals.items()})
    pred = (torch.sigmoid(logits) > torch.tensor(thresholds)).numpy()
    y = truth.numpy()
    assert got["micro_f1"] == pytest.approx(f1_score(y, pred, average="micro", zero_division=0))
    assert got["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro", zero_division=0))
    assert got["exact_match"] == pytest.approx(accuracy_score(y, pred))  # subset accuracy
    p, r, f, support = precision_recall_fscore_support(y, pred, zero_division=0)
    rows = label_report(got["tp"], got["fp"], got["fn"], list("abcde"), thresholds)
    for k, row in enumerate(rows):
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((p[k], r[k], f[k]))
        assert row["support"] == support[k] and row["threshold"] == thresholds[k]


def test_tuning_picks_each_labels_best_threshold():
    probs = np.array([[0.9, 0.2], [0.6, 0.15], [0.35, 0.1], [0.2, 0.05]])
    labels = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
    t = tune_thresholds(probs, labels)
    # Label 0: any t in [0.35, 0.6) separates it (F1 1), the one nearest 0.5 is chosen;
    # label 1: positives 0.15 and 0.1 over negatives 0.2 and 0.05: best F1 0.8 at t in [0.05, 0.1).
    assert t[0] == 0.5 and 0.05 <= t[1] < 0.1
    assert tune_thresholds(probs, np.zeros_like(labels)).tolist() == [0.5, 0.5]  # no positives


# -- the model -----------------------------------------------------------------------------------
def test_multi_label_model_has_k_sigmoids_even_for_two_labels():
    config = SequenceClassifierConfig(vocab_size=20, num_classes=2, encoder="gru", multi_label=True)
    model = SequenceClassifier(config)
    ids = torch.randint(1, 20, (3, 5))
    labels = torch.tensor([[1, 1], [0, 1], [0, 0]])
    logits, loss = model(ids, labels=labels)
    assert logits.shape == (3, 2)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels.float())
    torch.testing.assert_close(loss, bce)
    with pytest.raises(ValueError, match="shape"):
        model(ids, labels=torch.tensor([1, 0, 1]))
    # a config saved before multi_label existed rebuilds the single-output binary model
    old = {k: v for k, v in vars(config).items() if k != "multi_label"}
    assert model_from_config("SequenceClassifier", old).output.out_features == 1


# -- training, the checkpoint, predict and evaluate ----------------------------------------------
def test_words_that_decide_the_labels_are_learned(trained):
    _, result, _ = trained
    sizes = [len(getattr(result.data, s)) for s in ("train", "valid", "test")]
    assert result.data.train.labels.shape[1] == 4 and sum(sizes) == 400
    assert result.test["micro_f1"] >= 0.9 and result.test["macro_f1"] >= 0.85
    assert {"valid_micro_f1", "valid_macro_f1", "valid_exact_match"} <= set(result.history[-1])
    assert [r["label"] for r in result.test["per_label"]] == sorted(TOPICS)


def test_thresholds_are_tuned_on_the_validation_split_only(trained):
    """The checkpoint's thresholds are tune_thresholds of its own validation probabilities."""
    _, result, tmp = trained
    loaded = load(tmp / "run" / "last.pt")
    valid = result.data.valid
    probs, labels = split_probabilities(loaded.model, valid, loaded.encoder.collate, "cpu")
    assert thresholds_of(loaded).tolist() == tune_thresholds(probs, labels).tolist()
    assert result.test["per_label"][0]["threshold"] == thresholds_of(loaded)[0]


def test_predict_gives_every_label_above_its_threshold(trained, capsys):
    _, _, tmp = trained
    checkpoint = tmp / "run" / "best.pt"
    loaded = load(checkpoint)
    [both, none] = loaded.task.labels_above(loaded, ["goal match song guitar", ""])
    assert sorted(label for label, _ in both) == ["music", "sport"]
    probs = loaded.task.probabilities(loaded, ["goal match song guitar"])[0]
    assert dict(both) == pytest.approx({n: float(probs[k]) for k, n in enumerate(sorted(TOPICS))
                                        if n in ("music", "sport")})  # fmt: skip
    assert main(["predict", str(checkpoint), "pizza cheese flight hotel"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(("food 0.", "travel 0.")) and "travel" in line and "food" in line


def test_evaluate_prints_f1_and_the_per_label_table(trained, capsys):
    _, result, tmp = trained
    checkpoint = tmp / "run" / "last.pt"
    assert main(["evaluate", str(checkpoint), "--report", str(tmp / "report")]) == 0
    out = capsys.readouterr().out
    assert f"micro_f1 {result.test['micro_f1']:.4f}" in out and "exact_match" in out
    assert "| label | threshold | support | precision | recall | F1 |" in out
    report = json.loads((tmp / "report" / "test-report.json").read_text())
    assert report["macro_f1"] == pytest.approx(result.test["macro_f1"])
    assert report["labels"] == result.test["per_label"]


def test_an_ensemble_refuses_multi_label_members(trained, capsys):
    _, _, tmp = trained
    paths = [str(tmp / "run" / name) for name in ("best.pt", "last.pt")]
    assert main(["evaluate", "--ensemble", *paths]) == 2
    assert "is a multi-label classifier" in one_error_line(capsys)


def test_the_api_names_the_labels_above_their_thresholds(trained):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from seqlab.serve.app import create_app

    _, _, tmp = trained
    loaded = load(tmp / "run" / "best.pt")
    client = TestClient(create_app({"topics": loaded}))
    texts = ["goal match song guitar", ""]
    for explain in (False, True):
        body = {"model": "topics", "texts": texts, "explain": explain}
        results = client.post("/v1/classify", json=body).json()["results"]
        expected = [[label for label, _ in g] for g in loaded.task.labels_above(loaded, texts)]
        assert [r["labels"] for r in results] == expected
        assert set(results[0]["probabilities"]) == set(TOPICS)


# -- GoEmotions ----------------------------------------------------------------------------------
def write_goemotions(folder: Path) -> Path:
    """A tiny GoEmotions folder: 3 names, quoted and plain lines, gzip like shared/data."""
    folder.mkdir(parents=True)
    (folder / "emotions.txt").write_text("joy\nanger\nneutral")  # no final newline, as upstream
    lines = ['"He said ""great"" twice"\t0,2\tc1\n', "so angry\t1\tc2\n", "fine\t2\tc3\n"]
    for name in ("train", "dev", "test"):
        with gzip.open(folder / f"{name}.tsv.gz", "wt", encoding="utf-8") as f:
            f.writelines(lines * 4)
    return folder


def test_goemotions_quoted_texts_are_read_without_their_quotes(tmp_path):
    folder = write_goemotions(tmp_path / "goemotions")
    texts, labels = read_goemotions(folder / "dev.tsv.gz", 3)
    assert texts[:3] == ['He said "great" twice', "so angry", "fine"]
    assert labels[:3] == [[0, 2], [1], [2]]
    pools, names = goemotions_pools(tmp_path)
    assert names == ["joy", "anger", "neutral"]
    assert pools["valid"][1][0].tolist() == [1, 0, 1]


@pytest.mark.skipif(not GOEMOTIONS.is_dir(), reason="no ../shared/data/goemotions")
def test_goemotions_reads_the_official_split_as_its_readme_counts():
    pools, names = goemotions_pools()
    assert len(names) == 28 and names[0] == "admiration" and names[-1] == "neutral"
    sizes = {s: len(texts) for s, (texts, _) in pools.items()}
    assert sizes == {"train": 43_410, "valid": 5_426, "test": 5_427}
    assert label_count_histogram(pools["train"][1]) == {1: 36308, 2: 6541, 3: 532, 4: 28, 5: 1}
    assert label_count_histogram(pools["valid"][1]) == {1: 4548, 2: 809, 3: 62, 4: 7}
    assert label_count_histogram(pools["test"][1]) == {1: 4590, 2: 774, 3: 61, 4: 2}
    assert pools["train"][1][:, 27].sum() == 14_219  # neutral, as the README's table
    # the last test line is quoted: 'text"<TAB>27<TAB>edtjpv6', its quotes doubled inside
    assert pools["test"][0][-1].startswith('Had to watch "Elmo in Grouchland" one time too')
    assert pools["test"][0][-1].endswith("overdose...") and pools["test"][1][-1, 27] == 1


def test_goemotions_trains_from_the_cli_as_multi_label(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    write_goemotions(tmp_path / "data" / "goemotions")
    argv = ["train", "classify", "--data", "goemotions", "--data-dir", str(tmp_path / "data")]
    argv += ["--model", "gru", "--embed", "4", "--hidden", "4", "--epochs", "1", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert {"micro_f1", "macro_f1", "exact_match", "per_label"} <= set(results["test"])
    assert main(["predict", str(tmp_path / "run" / "last.pt"), "so angry"]) == 0


# -- mistakes ------------------------------------------------------------------------------------
def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("seqlab: error: ") and "Traceback" not in err[0]
    return err[0]


CASES = [
    (["--threshold", "1.5"], "--threshold must be a probability in (0, 1) or 'tune', got 1.5"),
    (["--threshold", "0"], "--threshold must be a probability in (0, 1) or 'tune', got 0.0"),
    (["--model", "nbsvm"], "--model nbsvm cannot be multi-label"),
    (["--threshold", "tune", "--split", "9:0:1"], "--threshold tune chooses each label's"),
    (["--monitor", "valid_accuracy"], "--monitor valid_accuracy is for single-label runs"),
    (["--data", "trec"], "trec has one label per text"),
    (["--monitor", "valid_tuned_macro_f1"], "is recorded with --threshold tune only"),
]


@pytest.mark.parametrize("argv, expected", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_multi_label_options_are_one_line_errors(argv, expected, tmp_path, capsys):
    data = write_topics(tmp_path / "t.csv", 40)
    base = ["train", "classify", "--data", str(data), "--label-column", "topics", "--multi-label"]
    base += ["--model", "gru", "--embed", "4", "--hidden", "4", "--quiet"]
    assert main([*base, *argv, "--out", str(tmp_path / "out")]) == 2
    assert expected in one_error_line(capsys)
    assert not (tmp_path / "out" / "last.pt").exists()


@pytest.mark.parametrize("label", ["sport,,food", "sport,", " "])
def test_an_empty_label_in_the_label_column_is_an_error_naming_the_line(label, tmp_path, capsys):
    data = write_topics(tmp_path / "t.csv", 10)
    with open(data, "a", newline="") as f:
        csv.writer(f).writerow(["goal match", label])
    argv = ["train", "classify", "--data", str(data), "--label-column", "topics"]
    assert main([*argv, "--multi-label", "--out", str(tmp_path / "out")]) == 2
    assert f"{data}, line 12: empty label" in one_error_line(capsys)


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--threshold", "0.3"], "--threshold is for multi-label runs"),
        (["--monitor", "valid_macro_f1"], "is recorded by multi-label runs only"),
    ],
)
def test_multi_label_options_of_a_single_label_run_are_refused(argv, expected, tmp_path, capsys):
    data = write_topics(tmp_path / "t.csv", 20, labels_of=lambda labels: labels[0])
    argv = ["train", "classify", "--data", str(data), "--label-column", "topics", *argv]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert expected in one_error_line(capsys)


def test_split_labels_refuses_an_empty_separator():
    from seqlab.data.multilabel import split_labels

    assert split_labels(" a , b ,a", ",", "f") == ["a", "b"]
    with pytest.raises(SeqlabError, match="must not be empty"):
        split_labels("a", "", "f")


def test_finetune_is_multi_label_too(tmp_path):
    """A tiny random BERT on questions whose 1-2 question words are the labels: K sigmoids,
    the loss falls, and the checkpoint predicts several labels at its thresholds."""
    pytest.importorskip("transformers")
    from helpers import QUESTIONS, write_tiny_bert

    from seqlab.tasks.configs import FinetuneRun
    from seqlab.tasks.finetune import TASK as FINETUNE

    bert = write_tiny_bert(tmp_path / "bert", layers=1)
    rng = random.Random(0)
    with open(tmp_path / "q.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for _ in range(240):
            kinds = rng.sample(sorted(QUESTIONS), rng.choice([1, 2]))
            words = [word for k in kinds for word in QUESTIONS[k][:1] + rng.sample(QUESTIONS[k], 2)]
            w.writerow([" ".join(words) + " ?", ",".join(kinds)])
    options = dict(
        data=str(tmp_path / "q.csv"), multi_label=True, model=str(bert), max_length=16,
        optimizer="adamw", lr=3e-3, epochs=4, batch_size=16, monitor="valid_macro_f1",
        threshold=0.4, quiet=True,
    )  # fmt: skip
    result = FINETUNE.train(run_from_options(FinetuneRun, options, "the test"), tmp_path / "run")
    assert result.model.head.out_features == 3 and result.model.config.multi_label
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.test["micro_f1"] > 0.6 and "classes" not in result.test
    loaded = load(tmp_path / "run" / "last.pt")
    assert thresholds_of(loaded).tolist() == [0.4] * 3
    [given] = loaded.task.labels_above(loaded, ["where is the river who wrote the book ?"])
    assert all(p > 0.4 for _, p in given)
