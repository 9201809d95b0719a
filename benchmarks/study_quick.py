"""The quick sentiment study end to end on the real IMDB data, checked (minutes on 2 CPU cores).

`seqlab study sentiment --quick --jobs 2` into a fresh folder: every table a-f lists the planned
runs, table a has the Keras parameter counts, every run's learning curve matches its history,
the README has every section; a second invocation trains nothing and rewrites the same tables;
a run trained again in this process repeats the history it got in a worker process exactly.
Asserts each of these and prints what it checked. The test suite runs the same study on a small
synthetic IMDB (tests/test_study_sentiment.py).

    python benchmarks/study_quick.py [--data-dir DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import tempfile
import time
from pathlib import Path

from seqlab.cli import main as seqlab
from seqlab.study.sentiment import plan

from common import machine

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
KERAS_PARAMS = {"a-dense": 170_305, "a-rnn": 161_601, "a-lstm": 166_305, "a-lstm2-dropout": 174_625}
TABLES = {
    "a": "a_keras.csv",
    "b": "b_optimizers.csv",
    "c": "c_depth_width_embedding.csv",
    "d": "d_compound_scaling.csv",
}


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def check_tables(out: Path) -> None:
    """Every table, its runs, the Keras parameter counts, curves, plots and README sections."""
    planned = {t: [s.name for s in plan(t, quick=True)] for t in "abcd"}
    for t, name in TABLES.items():
        rows = read_csv(out / name)
        assert [r["name"] for r in rows] == planned[t]
        for r in rows:
            assert 0 <= float(r["valid_accuracy"]) <= 1 and 0 <= float(r["test_accuracy"]) <= 1
            assert int(r["epochs_run"]) >= 1 and float(r["train_wall_s"]) >= 0
            assert r["command"].startswith("seqlab train classify ")
        best = max(rows, key=lambda r: float(r["valid_accuracy"]))
        valid, test = float(best["valid_accuracy"]), float(best["test_accuracy"])
        print(f"table {t}: {len(rows)} runs; best on validation {best['name']} "
              f"(valid {valid:.4f}, test {test:.4f})")  # fmt: skip
    keras = {r["name"]: int(r["params"]) for r in read_csv(out / TABLES["a"])}
    assert {k: keras[k] for k in KERAS_PARAMS} == KERAS_PARAMS
    print(f"table a parameter counts: {KERAS_PARAMS}")
    (bi,) = read_csv(out / "e_bidirectional.csv")
    assert bi["bidirectional"] == "True"
    assert bi["from"] in planned["b"] + planned["c"] + planned["d"]
    print(f"table e: {bi['name']} (test {float(bi['test_accuracy']):.4f})")

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
    print(f"table f: {len(curves)} epochs of {len(all_runs)} runs, one PNG each")
    readme = (out / "README.md").read_text()
    for heading in ("## a.", "## b.", "## c.", "## d.", "## e.", "## f.", "Total params: 166,305"):
        assert heading in readme
    assert "Pareto front" in readme and "this invocation" in readme


def check_resume_and_repeat(out: Path, args: list[str]) -> None:
    """A second invocation skips every run; a run trained again repeats its history."""
    before = (out / TABLES["b"]).read_text()
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        assert seqlab(args + ["--only", "a,b"]) == 0
    skipped = log.getvalue().count("done before, skipped")
    assert skipped == len(plan("ab", quick=True))
    assert (out / TABLES["b"]).read_text() == before
    print(f"resumed: {skipped} runs of tables a and b skipped, the same table b written")

    # Deterministic: a run trained again from the same seed repeats its history exactly, in this
    # process (--jobs 1) as in the worker process that trained it first.
    first = json.loads((out / "runs" / "a-dense.json").read_text())
    (out / "runs" / "a-dense.json").unlink()
    assert seqlab(args + ["--only", "a"]) == 0
    again = json.loads((out / "runs" / "a-dense.json").read_text())
    for key in ("valid_accuracy", "test_accuracy", "params", "epochs_run"):
        assert again[key] == first[key]
    strip = ("time_s",)
    assert [{k: v for k, v in h.items() if k not in strip} for h in again["history"]] == [
        {k: v for k, v in h.items() if k not in strip} for h in first["history"]
    ]
    print(f"a-dense trained again in this process: the same {len(first['history'])} epochs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="data folder (default: $SEQLAB_DATA or ../shared/data)")
    parser.add_argument("--out", help="study folder, must not exist (default: a temporary one)")
    args = parser.parse_args()
    print(machine(threads=1))
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SEQLAB_CACHE"] = str(Path(tmp) / "cache")  # tokenize from scratch
        out = Path(args.out) if args.out else Path(tmp) / "study"
        assert not out.exists(), f"{out} exists; the check needs a fresh folder"
        study = ["study", "sentiment", "--quick", "--out", str(out)]
        study += ["--data-dir", args.data_dir] if args.data_dir else []
        start = time.perf_counter()
        assert seqlab(study + ["--jobs", "2"]) == 0  # two worker processes; sequential later
        print(f"quick study with --jobs 2 in {time.perf_counter() - start:.0f} s")
        check_tables(out)
        check_resume_and_repeat(out, study)
    print("all checks passed")


if __name__ == "__main__":  # worker processes (spawn) import this file: train only when run
    main()
