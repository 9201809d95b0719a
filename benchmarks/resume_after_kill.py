"""A `seqlab train classify` process killed (SIGKILL) after its first epoch, then resumed, ends
with exactly the figures of the same run uninterrupted (three trainings, a minute or so).

The full run and the killed one train on 2,000 synthetic reviews (tests/helpers.py) with
dropout and a cosine schedule, one thread each; the kill comes as soon as epoch 1 is in
log.jsonl. Asserts that the kill came before the run ended, that `--resume` says it resumed,
and that every epoch's figures (times aside) and the test figures equal the uninterrupted run's;
prints them. The test suite checks the same in one process, with the run stopped by an
exception right after epoch 1's checkpoint (tests/test_cli_train.py).

    python benchmarks/resume_after_kill.py
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import machine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from helpers import write_reviews  # noqa: E402

TINY = ["--model", "gru", "--embed", "8", "--hidden", "8", "--max-length", "16"]


def train_command(data: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "seqlab", "train", "classify", "--data", str(data), *TINY,
            "--epochs", "3", "--batch-size", "8", "--dropout", "0.2", "--schedule", "cosine",
            "--out", str(out), "--resume"]  # fmt: skip


def figures(run: Path) -> dict:
    """The run's per-epoch and test figures, wall times left out."""
    r = json.loads((run / "results.json").read_text())
    return {"history": [{**e, "time_s": 0} for e in r["history"]], "test": r["test"]}


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    print(machine(threads=1))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = write_reviews(tmp / "reviews.csv", 2000)
        env = {**os.environ, "SEQLAB_CACHE": str(tmp / "cache"), "OMP_NUM_THREADS": "1"}
        full, cut = tmp / "full", tmp / "cut"
        subprocess.run(train_command(data, full), env=env, check=True, capture_output=True)

        proc = subprocess.Popen(train_command(data, cut), env=env, stdout=subprocess.DEVNULL)
        log = cut / "log.jsonl"
        deadline = time.monotonic() + 120
        while not (log.is_file() and log.read_text().count("\n") >= 1):
            assert proc.poll() is None, "the run ended before its first epoch was logged"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        still_running = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        epochs = log.read_text().count("\n")
        assert still_running and epochs < 3, "killed too late to test resume"
        assert not (cut / "results.json").exists()
        print(f"killed after {epochs} logged epoch(s), before results.json")

        resumed = subprocess.run(train_command(data, cut), env=env, check=True, capture_output=True)
        assert b"resumed from" in resumed.stdout
        assert figures(cut) == figures(full)
        for record in figures(cut)["history"]:
            print({k: v for k, v in record.items() if k != "time_s"})
        print("test", figures(cut)["test"])
    print("resumed run equals the uninterrupted one: all checks passed")


if __name__ == "__main__":
    main()
