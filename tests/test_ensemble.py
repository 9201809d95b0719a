"""Ensembles: the weighted average of members' class probabilities, weights chosen on the
validation split only, and clear refusals of members that cannot be averaged."""

from __future__ import annotations

import itertools
import math
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import write_reviews
from sklearn.metrics import accuracy_score

from seqlab.cli import main
from seqlab.ensemble import (
    SplitProbabilities,
    choose_weights,
    evaluate_ensemble,
    weight_grid,
)
from seqlab.errors import SeqlabError
from seqlab.tasks import load

CKPT = Path(__file__).parent / "fixtures" / "checkpoints"


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    """Three tiny classifiers on the same reviews, split and seed: a GRU, a CNN, an n-gram bag."""
    root = tmp_path_factory.mktemp("ensemble")
    data = write_reviews(root / "reviews.csv", 300, seed=1)
    common = ["train", "classify", "--data", str(data), "--embed", "8", "--hidden", "8"]
    common += ["--epochs", "2", "--lr", "3e-3", "--optimizer", "adam", "--seed", "4", "--quiet"]
    paths = {}
    for model in ("gru", "cnn", "ngram"):
        out = root / model
        assert main([*common, "--model", model, "--out", str(out)]) == 0
        paths[model] = out / "best.pt"
    other = root / "other-seed"
    assert main([*common, "--model", "gru", "--seed", "5", "--out", str(other)]) == 0
    paths["other-seed"] = other / "best.pt"
    same_split = root / "split-seed"
    seeds = ["--seed", "5", "--split-seed", "4"]
    assert main([*common, "--model", "gru", *seeds, "--out", str(same_split)]) == 0
    paths["split-seed"] = same_split / "best.pt"
    return paths


def test_weight_grid_covers_the_simplex():
    grid = weight_grid(3, 0.25)
    assert len(grid) == 15  # compositions of 4 into 3 parts: C(6, 2)
    assert all(abs(w.sum() - 1) < 1e-12 and (w >= 0).all() for w in grid)
    with pytest.raises(SeqlabError):
        weight_grid(2, 0.3)


def test_weight_grid_makes_only_the_compositions():
    # it walked all 21^6 (86 million) tuples to keep these
    start = time.perf_counter()
    grid = weight_grid(6, 0.05)
    assert time.perf_counter() - start < 2.0
    assert len(grid) == math.comb(25, 5) == 53130
    steps = {tuple(np.rint(w * 20).astype(int)) for w in grid}
    assert len(steps) == 53130 and all(sum(c) == 20 and min(c) >= 0 for c in steps)
    small = [tuple(np.rint(w * 4).astype(int)) for w in weight_grid(3, 0.25)]
    assert small == [c for c in itertools.product(range(5), repeat=3) if sum(c) == 4]


def test_choose_weights_prefers_the_better_member_on_valid():
    labels = np.array([0, 1, 0, 1])
    good = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.4, 0.6]])
    bad = good[:, ::-1].copy()  # always wrong
    w = choose_weights(SplitProbabilities([bad, good], labels), step=0.1)
    assert w[1] > w[0]


def test_ensemble_equals_the_weighted_average_of_its_members(members):
    loaded = [load(members[m]) for m in ("gru", "cnn", "ngram")]
    r = evaluate_ensemble(loaded, "test")
    assert r["weights_from"] == "valid" and abs(sum(r["weights"]) - 1) < 1e-9
    task, run = loaded[0].task, loaded[0].run
    texts, labels = task.split_texts(run.data, "test", loaded[0].label_names, run.train.seed)
    probs = [m.task.probabilities(m, texts).double().numpy() for m in loaded]
    for row, p in zip(r["members"], probs, strict=True):
        assert row["test_accuracy"] == pytest.approx(accuracy_score(labels, p.argmax(1)))
    mixed = sum(w * p for w, p in zip(r["weights"], probs, strict=True))
    assert r["test_accuracy"] == pytest.approx(accuracy_score(labels, mixed.argmax(1)))
    assert r["examples"] == len(texts)
    # The weights come from valid: the valid figures of the chosen mix are the best of the grid.
    vt, vl = task.split_texts(run.data, "valid", loaded[0].label_names, run.train.seed)
    vp = [m.task.probabilities(m, vt).double().numpy() for m in loaded]
    best = max(
        accuracy_score(vl, sum(w * p for w, p in zip(g, vp, strict=True)).argmax(1))
        for g in weight_grid(3, 0.05)
    )
    assert r["valid_accuracy"] == pytest.approx(best)


def test_cli_evaluate_and_predict_with_an_ensemble(members, capsys, tmp_path):
    gru, cnn = str(members["gru"]), str(members["cnn"])
    assert main(["evaluate", "--ensemble", gru, cnn, "--report", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("weight ") == 2 and "ensemble (valid weights)" in out
    assert (tmp_path / "test-ensemble.json").is_file()
    assert main(["evaluate", gru, "--ensemble", cnn, "--weights", "1", "0"]) == 0
    alone = capsys.readouterr().out
    assert main(["evaluate", gru]) == 0
    single = capsys.readouterr().out
    # Weights 1, 0: the ensemble is the GRU alone.
    gru_accuracy = single.split("accuracy ")[1].split()[0]
    assert f"test accuracy {float(gru_accuracy):.4f}  loss" in alone
    assert main(["predict", gru, "a great fun film", "--ensemble", cnn]) == 0
    assert capsys.readouterr().out.split("\t")[0] in ("neg", "pos")


def test_split_seed_trains_another_seed_on_the_same_split(members, capsys):
    """--seed 5 --split-seed 4: other initial weights, but the valid texts of --seed 4, so the
    two GRUs can be ensembled (--seed 5 alone is refused: another valid split)."""
    a, b = load(members["gru"]), load(members["split-seed"])
    pairs = zip(a.model.state_dict().values(), b.model.state_dict().values(), strict=True)
    assert not all(torch.equal(x, y) for x, y in pairs)
    texts = [
        m.task.split_texts(m.run.data, "valid", m.label_names, m.run.train.seed)[0] for m in (a, b)
    ]
    assert texts[0] == texts[1] and len(texts[0]) > 0
    assert main(["evaluate", "--ensemble", str(members["gru"]), str(members["split-seed"])]) == 0
    assert "ensemble (valid weights)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, message",
    [
        (["lm"], "not a classifier"),
        (["other-seed"], "another valid split"),
        ([], "at least 2"),
        (["cnn", "--weights", "1"], "1 weights for 2"),
        (["cnn", "--weights", "-1", "2"], "non-negative"),
        (["cnn", "--data", "imdb"], "--data: not an option of --ensemble"),
    ],
)
def test_members_that_cannot_be_averaged_are_refused(members, capsys, extra, message):
    paths = {**{k: str(v) for k, v in members.items()}, "lm": str(CKPT / "lm" / "best.pt")}
    args = ["--ensemble", paths["gru"], *(paths.get(a, a) for a in extra)]
    assert main(["evaluate", *args]) == 2
    assert message in capsys.readouterr().err
