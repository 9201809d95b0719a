"""Per-class metrics and confusion matrices (against scikit-learn), TREC, `seqlab evaluate`."""

from __future__ import annotations

import json

import pytest
import torch

from seqlab.cli import main
from seqlab.train import ConfusionMatrix, class_report, evaluate


def test_confusion_matrix_and_report_equal_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (300,), generator=g)
    logits = torch.randn(300, 4, generator=g)
    logits[torch.arange(300), labels] += 1.0  # better than chance, not perfect
    logits[:, 3] -= 5.0  # class 3 is never predicted: precision 0 by convention
    batches = [
        {"labels": labels[i : i + 64], "logits": logits[i : i + 64]} for i in range(0, 300, 64)
    ]

    class Echo(torch.nn.Module):
        def forward(self, logits, labels):
            return logits, torch.zeros(())

    got = evaluate(Echo(), batches, ConfusionMatrix(4))
    predicted = logits.argmax(-1)
    expected = metrics.confusion_matrix(labels, predicted, labels=range(4))
    assert got["confusion"] == expected.tolist()
    assert got["accuracy"] == pytest.approx(metrics.accuracy_score(labels, predicted))
    p, r, f, s = metrics.precision_recall_fscore_support(
        labels, predicted, labels=range(4), zero_division=0
    )
    rows = class_report(got["confusion"], ["a", "b", "c", "d"])
    for k, row in enumerate(rows[:4]):
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((p[k], r[k], f[k]))
        assert row["support"] == s[k] and row["accuracy"] == row["recall"]
    macro = metrics.precision_recall_fscore_support(
        labels, predicted, labels=range(4), average="macro", zero_division=0
    )
    assert (rows[4]["precision"], rows[4]["recall"], rows[4]["f1"]) == pytest.approx(macro[:3])


def test_binary_sigmoid_logits():
    metric = ConfusionMatrix(2)
    counts = metric.counts(
        torch.tensor([[2.0], [-1.0], [0.5]]), {"labels": torch.tensor([1, 1, 0])}
    )
    assert counts["confusion"].tolist() == [[0, 1], [1, 1]]


def test_trec_counts(shared_data):
    from seqlab.data.trec import load_trec

    coarse = load_trec(shared_data, valid_fraction=0.0, cache=False)
    assert (len(coarse.train), len(coarse.test)) == (5_452, 500)
    assert coarse.label_names == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    counts = dict(zip(coarse.label_names, coarse.train.label_counts(6), strict=True))
    assert counts == {"ABBR": 86, "DESC": 1162, "ENTY": 1250, "HUM": 1223, "LOC": 835, "NUM": 896}
    assert coarse.test.label_counts(6) == [9, 138, 94, 65, 81, 113]
    fine = load_trec(shared_data, label_set="fine", valid_fraction=0.0, cache=False)
    assert fine.num_classes == 50 and "DESC:manner" in fine.label_names
    # ISO-8859-1: train line 66 holds the byte 0xF0 ("sister\xf0city"; the data README says
    # 0xA0), which is not valid UTF-8
    from seqlab.data.trec import read_trec

    texts, labels = read_trec(shared_data / "trec" / "train_5500.label")
    assert "sister\xf0city" in texts[65] and len(texts) == 5_452


def test_trec_train_and_evaluate_report(shared_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "trec"
    assert main(["train", "classify", "--data", "trec", "--data-dir", str(shared_data),
                 "--model", "gru", "--embed", "16", "--hidden", "16", "--epochs", "1",
                 "--quiet", "--out", str(out)]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["evaluate", str(out / "best.pt"), "--report", str(tmp_path / "r")]) == 0
    text = capsys.readouterr().out
    assert "| class | support | accuracy | precision | recall | F1 |" in text
    assert "| true \\ predicted | ABBR | DESC | ENTY | HUM | LOC | NUM |" in text
    report = json.loads((tmp_path / "r" / "test-report.json").read_text())
    assert sum(map(sum, report["confusion"])) == 500
    assert [r["class"] for r in report["classes"]][:6] == report["label_names"]
    assert (tmp_path / "r" / "test-confusion.png").stat().st_size > 2000
