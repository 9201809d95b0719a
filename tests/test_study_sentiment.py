"""The quick sentiment study end to end on a small synthetic IMDB (`seqlab study sentiment
--quick`): every table, the runs that must learn, resume, and a run trained again.

The same study on the real IMDB data, in two worker processes: `python benchmarks/study_quick.py`.
"""

import csv
import json

import pytest
from helpers import write_imdb

from seqlab.cli import main
from seqlab.study.runs import train_in_worker
from seqlab.study.sentiment import StudySettings, plan

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Table a's vocabulary is the 23 words of the synthetic reviews and <pad>, <unk> (V = 25), so
# the Keras parameter counts are V * 16 + 20 * 16 * 32 + 32 + 33 (Dense), V * 16 + 16 * 32 +
# 32 * 32 + 32 + 33 (SimpleRNN), V * 16 + 4 * (32 * 48 + 32) + 33 (LSTM), and a second LSTM
# layer adds 4 * (32 * 64 + 32).
KERAS_PARAMS = {"a-dense": 10_705, "a-rnn": 2_001, "a-lstm": 6_705, "a-lstm2-dropout": 15_025}
TABLES = {
    "a": "a_keras.csv",
    "b": "b_optimizers.csv",
    "c": "c_depth_width_embedding.csv",
    "d": "d_compound_scaling.csv",
}
CURVES = set()  # the learning-curve PNGs the study drew, by file name


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The quick study on 400 synthetic reviews per IMDB split (seconds on one thread).

    Drawing 30 learning-curve PNGs would take most of that time: here each run's curve is only
    recorded (plot_curves itself is tested in test_study_plan.py; benchmarks/study_quick.py
    draws them all)."""
    tmp = tmp_path_factory.mktemp("study")
    mp = pytest.MonkeyPatch()
    mp.setenv("SEQLAB_CACHE", str(tmp / "cache"))
    mp.setattr("seqlab.study.report.plot_curves", lambda path, result: CURVES.add(path.name))
    data = write_imdb(tmp / "data", 400)
    args = ["study", "sentiment", "--quick", "--out", str(tmp / "study"), "--data-dir", str(data)]
    assert main(args) == 0
    yield tmp / "study", args, data
    mp.undo()


def test_quick_study_writes_every_table(study):
    out, _, _ = study
    planned = {t: plan(t, quick=True) for t in "abcd"}
    for t, name in TABLES.items():
        rows = read_csv(out / name)
        assert [r["name"] for r in rows] == [s.name for s in planned[t]]
        for r, spec in zip(rows, planned[t], strict=True):
            # The quick study trains every run for 2 epochs (early stopping needs 2 to stop).
            assert int(r["epochs_run"]) == spec.train["epochs"] == 2
            assert r["command"].startswith("seqlab train classify ")
    keras = {r["name"]: int(r["params"]) for r in read_csv(out / TABLES["a"])}
    assert {k: keras[k] for k in KERAS_PARAMS} == KERAS_PARAMS

    # Two sentiment words decide each label: RMSprop learns it in the quick study's 2 epochs
    # (0.99 and 1.0 test accuracy at seed 0), where a broken pipeline stays near chance (0.5).
    b = {r["name"]: r for r in read_csv(out / TABLES["b"])}
    for name in ("b-lstm-rmsprop", "b-gru-rmsprop"):
        assert float(b[name]["test_accuracy"]) >= 0.95, name
    # Table e starts from a run of b-d with the best validation accuracy, and learns too (1.0).
    (bi,) = read_csv(out / "e_bidirectional.csv")
    done = [r for t in "bcd" for r in read_csv(out / TABLES[t])]
    best = max(float(r["valid_accuracy"]) for r in done)
    assert bi["bidirectional"] == "True"
    assert bi["from"] in {r["name"] for r in done if float(r["valid_accuracy"]) == best}
    assert float(bi["test_accuracy"]) >= 0.95

    # Learning curves: one row per epoch of every run, matching the run's JSONL history.
    curves = read_csv(out / "f_learning_curves.csv")
    all_runs = [s.name for t in "abcd" for s in planned[t]] + [bi["name"]]
    assert sorted({r["name"] for r in curves}) == sorted(all_runs)
    for name in all_runs:
        history = [json.loads(line) for line in open(out / "runs" / f"{name}.jsonl")]
        result = json.loads((out / "runs" / f"{name}.json").read_text())
        assert len(history) == result["epochs_run"] == sum(r["name"] == name for r in curves)
    assert {f"{name}.png" for name in all_runs} == CURVES
    for png in ("b_optimizers.png", "c_sweeps.png", "d_pareto.png"):
        assert (out / png).read_bytes()[:8] == PNG_MAGIC
    readme = (out / "README.md").read_text()
    for heading in ("## a.", "## b.", "## c.", "## d.", "## e.", "## f.", "Total params: 6,705"):
        assert heading in readme
    assert "Pareto front" in readme and "this invocation" in readme


def test_quick_study_resumes_and_repeats_a_run_exactly(study, capsys):
    out, args, data = study
    # Resumable: a second invocation trains nothing and rewrites the same tables.
    before = (out / TABLES["b"]).read_text()
    capsys.readouterr()
    assert main(args + ["--only", "a,b"]) == 0
    log = capsys.readouterr().out
    assert log.count("done before, skipped") == len(plan("ab", quick=True))
    assert (out / TABLES["b"]).read_text() == before

    # Deterministic: a run trained again from the same seed, by the function a --jobs worker
    # process runs, repeats its history exactly.
    first = json.loads((out / "runs" / "a-dense.json").read_text())
    (out / "runs" / "a-dense.json").unlink()
    settings = StudySettings.for_mode(True, 0, str(data), "auto", 1)
    (spec,) = [s for s in plan("a", quick=True) if s.name == "a-dense"]
    train_in_worker(str(out / "runs"), spec, settings)
    again = json.loads((out / "runs" / "a-dense.json").read_text())
    for key in ("key", "valid_accuracy", "test_accuracy", "params", "epochs_run"):
        assert again[key] == first[key]
    strip = ("time_s",)
    assert [{k: v for k, v in h.items() if k not in strip} for h in again["history"]] == [
        {k: v for k, v in h.items() if k not in strip} for h in first["history"]
    ]
