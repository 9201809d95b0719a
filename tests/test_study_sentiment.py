"""The quick sentiment study end to end on the real IMDB data (`seqlab study sentiment --quick`)."""

import csv
import json

import pytest

from seqlab.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
KERAS_PARAMS = {"a-dense": 170_305, "a-rnn": 161_601, "a-lstm": 166_305, "a-lstm2-dropout": 174_625}


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_quick_study_writes_every_table(shared_data, tmp_path, capsys):
    from seqlab.study.sentiment import plan

    out = tmp_path / "study"
    args = ["study", "sentiment", "--quick", "--out", str(out), "--data-dir", str(shared_data)]
    assert main(args + ["--jobs", "2"]) == 0  # two worker processes; sequential runs below
    planned = {t: [s.name for s in plan(t, quick=True)] for t in "abcd"}

    tables = {
        "a": "a_keras.csv",
        "b": "b_optimizers.csv",
        "c": "c_depth_width_embedding.csv",
        "d": "d_compound_scaling.csv",
    }
    for t, name in tables.items():
        rows = read_csv(out / name)
        assert [r["name"] for r in rows] == planned[t]
        for r in rows:
            assert 0 <= float(r["valid_accuracy"]) <= 1 and 0 <= float(r["test_accuracy"]) <= 1
            assert int(r["epochs_run"]) >= 1 and float(r["train_wall_s"]) >= 0
            assert r["command"].startswith("seqlab train classify ")
    keras = {r["name"]: int(r["params"]) for r in read_csv(out / tables["a"])}
    assert {k: keras[k] for k in KERAS_PARAMS} == KERAS_PARAMS
    (bi,) = read_csv(out / "e_bidirectional.csv")
    assert (
        bi["bidirectional"] == "True" and bi["from"] in planned["b"] + planned["c"] + planned["d"]
    )

    # Learning curves: one row per epoch of every run, matching the run's JSONL history.
    curves = read_csv(out / "f_learning_curves.csv")
    all_runs = [n for t in "abcd" for n in planned[t]] + [bi["name"]]
    assert sorted({r["name"] for r in curves}) == sorted(all_runs)
    for name in all_runs:
        history = [json.loads(line) for line in open(out / "runs" / f"{name}.jsonl")]
        result = json.loads((out / "runs" / f"{name}.json").read_text())
        assert len(history) == result["epochs_run"] == sum(r["name"] == name for r in curves)
        assert (out / "curves" / f"{name}.png").read_bytes()[:8] == PNG_MAGIC
    for png in ("b_optimizers.png", "c_sweeps.png", "d_pareto.png"):
        assert (out / png).read_bytes()[:8] == PNG_MAGIC
    readme = (out / "README.md").read_text()
    for heading in ("## a.", "## b.", "## c.", "## d.", "## e.", "## f.", "Total params: 166,305"):
        assert heading in readme
    assert "Pareto front" in readme and "this invocation" in readme

    # Resumable: a second invocation trains nothing and rewrites the same tables.
    before = (out / tables["b"]).read_text()
    capsys.readouterr()
    assert main(args + ["--only", "a,b"]) == 0
    log = capsys.readouterr().out
    assert log.count("done before, skipped") == len(planned["a"]) + len(planned["b"])
    assert (out / tables["b"]).read_text() == before

    # Deterministic: a run trained again from the same seed repeats its history exactly, in this
    # process (--jobs 1) as in the worker process that trained it first.
    first = json.loads((out / "runs" / "a-dense.json").read_text())
    (out / "runs" / "a-dense.json").unlink()
    assert main(args + ["--only", "a"]) == 0
    again = json.loads((out / "runs" / "a-dense.json").read_text())
    for key in ("valid_accuracy", "test_accuracy", "params", "epochs_run"):
        assert again[key] == first[key]
    strip = ("time_s",)
    assert [{k: v for k, v in h.items() if k not in strip} for h in again["history"]] == [
        {k: v for k, v in h.items() if k not in strip} for h in first["history"]
    ]
