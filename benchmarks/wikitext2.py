"""WikiText-2 language modelling: train the headline models and record their test perplexity.

Each run is one `seqlab train lm` command (the `command` field reproduces it); its
OUT/results.json gives the test perplexity, the best validation perplexity, parameters, epochs
and the training wall time (validation passes included). Results go to
benchmarks/results/wikitext2.json in the format of BENCHMARKS.md.

    python benchmarks/wikitext2.py --list           # the runs and their commands
    python benchmarks/wikitext2.py --only course    # one run (about 10 minutes on 2 cores)
    python benchmarks/wikitext2.py --record-only    # record runs already trained in --out
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

from common import machine, run_commands

# name -> (tags, options of `seqlab train lm`)
RUNS: dict[str, tuple[list[str], str]] = {
    # The course assignment (the PyTorch nn.Transformer tutorial): 3 epochs of SGD.
    "course": (["course", "transformer"], "--preset course"),
    # seqlab's fast CPU model: 2-layer LSTM 256, carried state, adaptive softmax, 9 epochs.
    "cpu-lstm": (["rnn"], "--preset cpu-lstm"),
    # The same trained model evaluated with the continuous cache of Grave et al. (2017), its
    # theta and lambda tuned on the validation split (no training: run after cpu-lstm).
    "cpu-lstm-cache": (["rnn", "cache"], "--cache"),
    # The cpu-lstm preset with a tied class-factored softmax (180 frequency classes) instead of
    # the untied adaptive one (one epoch each: valid 239 against 319), more dropout (0.25
    # overfitted: train 116 against valid 144 after 4 epochs), and 15 epochs, the most that fit
    # in 60 minutes at the 230-240 s one takes (docs/lm.md, "Learning faster per CPU-second").
    "wikitext2-lstm-tied": (
        ["rnn"],
        "--preset cpu-lstm --adaptive none --factored 180 --tie-weights --dropout 0.4 --epochs 15",
    ),
    "wikitext2-lstm-tied-cache": (["rnn", "cache"], "--cache"),
    # The same with embedding dropout 0.1 against the overfitting the 15-epoch run ended with
    # (train 101 against valid 122); 14 epochs, so that it stays within the 60 minutes at the
    # 239-245 s its first epochs took.
    "wikitext2-lstm-tied-edrop": (
        ["rnn"],
        "--preset cpu-lstm --adaptive none --factored 180 --tie-weights --dropout 0.4 "
        "--embed-dropout 0.1 --epochs 14",
    ),
    # Locked (variational) dropout, bptt 70 and Adam 3e-3, chosen by short equal-time probes on
    # validation (docs/lm.md says how far those probes can be trusted); 19 epochs fit the 60
    # minutes at the 170-172 s its first epochs took.
    "wikitext2-lstm-tied-locked": (
        ["rnn"],
        "--preset cpu-lstm --adaptive none --factored 180 --tie-weights --dropout 0.4 "
        "--locked-dropout --bptt 70 --lr 3e-3 --epochs 19",
    ),
    "wikitext2-lstm-tied-locked-cache": (["rnn", "cache"], "--cache"),
}
CACHE = "-cache"  # a run named X-cache evaluates the trained run X with the continuous cache


def trained_dir(name: str, out: Path) -> Path:
    """The folder of the trained run that `name` reports on (X for X-cache)."""
    return out.parent / name.removesuffix(CACHE) if name.endswith(CACHE) else out


def command(name: str, out: Path, args: argparse.Namespace | None = None) -> str:
    """The full, reproducible command line of a run (torch's default threads: all cores)."""
    if name.endswith(CACHE):
        return f"seqlab evaluate {trained_dir(name, out) / 'best.pt'} --split test --cache"
    return f"seqlab train lm --data wikitext-2 {RUNS[name][1]} --seed 0 --out {out}"


def record(name: str, out: Path, cmd: str, args: argparse.Namespace | None = None) -> dict:
    """The BENCHMARKS.md entry of a finished run, from its results.json."""
    trained = trained_dir(name, out)
    results = json.loads((trained / "results.json").read_text())
    history = results["history"]
    valid = [h["valid_perplexity"] for h in history]
    threads = results["train_config"].get("threads")
    metrics = {
        "test_perplexity": round(results["test"]["perplexity"], 2),
        "valid_perplexity": round(min(valid), 2),
    }
    if name.endswith(CACHE):
        cache = json.loads((trained / "test-cache.json").read_text())
        metrics = {
            "test_perplexity": round(cache["perplexity_cache"], 2),
            "valid_perplexity": round(cache["valid_perplexity_cache"], 2),
            "test_perplexity_without_cache": round(cache["perplexity"], 2),
            "cache_theta": cache["theta"],
            "cache_lambda": cache["lambda"],
            "cache_window": cache["window"],
        }
    return {
        "name": name,
        "tags": RUNS[name][0],
        "metrics": metrics,
        "params": results["params"],
        "epochs": len(history),
        "train_wall_s": round(results["train_wall_s"], 1),
        "epoch_wall_s": [round(h["time_s"], 1) for h in history],
        "valid_perplexity_per_epoch": [round(v, 2) for v in valid],
        "tokens_per_s": round(results["tokens_per_s"]),
        "command": cmd,
        "date": datetime.date.today().isoformat(),
        "machine": machine(threads),
    }


def main() -> int:
    return run_commands("wikitext2", RUNS, command, record, __doc__, "runs/wikitext2")


if __name__ == "__main__":
    sys.exit(main())
