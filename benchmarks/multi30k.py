"""Multi30k German->English: train the headline translators and record their test BLEU.

Each run is one `seqlab train translate` command (the `command` field reproduces it); its
OUT/results.json gives the teacher-forced test perplexity, the test BLEU scores of beam-search
(k = 5) translations, each recorded with its sacreBLEU signature (`test_bleu_tokenized`: the
tutorials' lower-cased tokenized corpus BLEU; `test_bleu`: sacreBLEU on detokenized text,
case-insensitive (`case:lc`) for a model trained lower-cased; `test_bleu_cased`: standard
case-sensitive sacreBLEU, `case:mixed`, against the raw references), the best validation
perplexity and BLEU (greedy, every epoch), parameters and the training wall time (validation
passes included). Recording also decodes the validation split with best.pt greedily and with a
beam of 5 (`seqlab evaluate --split valid --beam 1|5`), so beam search is compared with greedy
search on data that chose nothing, and once more with `--allow-unk`, to measure what keeping
`<unk>` out of the output is worth. Results go to benchmarks/results/multi30k.json in the format
of BENCHMARKS.md.

    python benchmarks/multi30k.py --list                 # the runs and their commands
    python benchmarks/multi30k.py --only transformer     # one run
    python benchmarks/multi30k.py --record-only          # record runs already trained in --out
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

from common import machine, run_commands

TRAINING = "--batch-size 128 --clip 1 --label-smoothing 0.1 --schedule cosine --beam 5"
# name -> (tags, options of `seqlab train translate`)
RUNS: dict[str, tuple[list[str], str]] = {
    # Luong-style seq2seq: a GRU encoder and decoder with "general" attention (Luong et al. 2015).
    "rnn": (
        ["rnn"],
        "--model seq2seq --cell gru --attention general --embed 256 --hidden 512 --dropout 0.3 "
        f"--lr 2e-3 --epochs 10 {TRAINING}",
    ),
    # The base recipe of Vaswani et al. (2017) at the size of bentrevett's tutorial: 3+3 layers,
    # d_model 256, 8 heads, feed-forward 512; warm-up then cosine decay, label smoothing.
    "transformer": (
        ["transformer"],
        "--model transformer --embed 256 --hidden 512 --layers 3 --heads 8 --dropout 0.1 "
        f"--lr 1e-3 --warmup 0.1 --epochs 10 {TRAINING}",
    ),
    # The same Transformer trained on cased text, so that its standard, case-sensitive
    # sacreBLEU can be set beside published sacreBLEU figures. basic_english lower-cases every
    # text (so it refuses --no-lower): cased BPE pieces (8,000 per language) instead.
    "transformer-cased": (
        ["transformer"],
        "--model transformer --embed 256 --hidden 512 --layers 3 --heads 8 --dropout 0.1 "
        f"--lr 1e-3 --warmup 0.1 --epochs 10 --tokenizer bpe --no-lower {TRAINING}",
    ),
}


def command(name: str, out: Path, args=None) -> str:
    """The full, reproducible command line of a run (torch's default threads: all cores)."""
    return f"seqlab train translate --data multi30k {RUNS[name][1]} --seed 0 --out {out}"


def record(name: str, out: Path, cmd: str, args=None) -> dict:
    """The BENCHMARKS.md entry of a finished run, from its results.json."""
    from seqlab.tasks import load

    results = json.loads((out / "results.json").read_text())
    history, test = results["history"], results["test"]
    loaded = load(out / "best.pt", device="auto")
    valid = {k: loaded.task.evaluate(loaded, split="valid", beam=k) for k in (1, 5)}
    # What banning <unk> from the output (the default) is worth: the same beam, <unk> allowed.
    unk = loaded.task.evaluate(loaded, split="valid", beam=5, allow_unk=True)
    return {
        "name": name,
        "tags": RUNS[name][0],
        "metrics": {
            "test_bleu_tokenized": round(test["bleu_tokenized"], 2),
            "test_bleu": round(test["bleu"], 2),
            "test_bleu_cased": round(test["bleu_cased"], 2),
            "test_perplexity": round(test["perplexity"], 2),
            "valid_perplexity": round(min(h["valid_perplexity"] for h in history), 2),
            "valid_bleu_tokenized_greedy": round(valid[1]["bleu_tokenized"], 2),
            "valid_bleu_tokenized_beam5": round(valid[5]["bleu_tokenized"], 2),
            "valid_bleu_tokenized_beam5_unk_allowed": round(unk["bleu_tokenized"], 2),
        },
        "signatures": {
            k.removesuffix("_signature"): test[k]
            for k in ("bleu_signature", "bleu_cased_signature", "bleu_tokenized_signature")
        },
        "params": results["params"],
        "epochs": len(history),
        "train_wall_s": round(results["train_wall_s"], 1),
        "command": cmd,
        "date": datetime.date.today().isoformat(),
        "machine": machine(results["train_config"].get("threads")),
    }


def main() -> int:
    return run_commands("multi30k", RUNS, command, record, __doc__, "runs/multi30k")


if __name__ == "__main__":
    sys.exit(main())
