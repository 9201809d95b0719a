"""TREC-6 from scratch: the CNN settings tried against Kim's recipe (`trec-cnn` in trec.py), each
over several held-out splits, compared by their mean best validation accuracy only.

Every run is `seqlab train classify --data trec` with trec.py's CNN options, the variant's
changes, and `--split-seed S --seed S`; the test split plays no part in the comparison (its
figures stay in each run's results.json). A fine-label variant (`--label-set fine`) is scored on
the 6 coarse classes: each coarse class gets the summed probability of its fine labels.
Results go to benchmarks/results/trec-tuning.json, one entry per variant.

    python benchmarks/trec_tuning.py                    # every variant (about 20 minutes)
    python benchmarks/trec_tuning.py --only min-freq-2  # one variant
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
from trec import CNN

from common import machine, save_run

# variant -> (options added to trec.py's CNN recipe, split seeds)
VARIANTS: dict[str, tuple[str, range]] = {
    "recipe": ("", range(5)),
    "min-freq-2": ("--min-freq 2", range(5)),
    "lower-case": ("--tokenizer basic_english", range(5)),
    "bpe": ("--tokenizer bpe", range(5)),
    "fine-labels": ("--label-set fine", range(5)),
    "widths-1-2-3": ("--widths 1,2,3", range(5)),
    "widths-1-to-5": ("--widths 1,2,3,4,5", range(5)),
    "filters-200": ("--hidden 200", range(5)),
    "word-dropout-0.1": ("--word-dropout 0.1", range(2)),
    "word-dropout-0.2": ("--word-dropout 0.2", range(2)),
    "word-dropout-0.3": ("--word-dropout 0.3", range(2)),
    # Kim's code pads width - 1 zero vectors at both ends and starts CNN-rand's vectors in
    # [-0.25, 0.25]; the recipe takes only the windows inside a text and Keras' 0.05.
    "full-padding": ("--conv-padding full", range(5)),
    "embed-init-0.25": ("--embed-init 0.25", range(5)),
    "full-padding-embed-init-0.25": ("--conv-padding full --embed-init 0.25", range(5)),
}


def coarse_valid_accuracy(checkpoint: Path) -> float:
    """Validation accuracy on the coarse classes of a fine-label (TREC-50) checkpoint."""
    from seqlab.ensemble import probabilities
    from seqlab.tasks import load

    m = load(checkpoint)
    coarse = sorted({n.split(":")[0] for n in m.label_names})
    group = np.array([coarse.index(n.split(":")[0]) for n in m.label_names])
    texts, labels = m.task.split_texts(m.run.data, "valid", m.label_names, m.run.train.seed)
    p = probabilities(m, texts)
    summed = np.zeros((len(texts), len(coarse)))
    np.add.at(summed.T, group, p.T)  # each fine column into its coarse one
    return float((summed.argmax(1) == group[np.asarray(labels)]).mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help=f"comma-separated variants from {', '.join(VARIANTS)}")
    parser.add_argument("--out", default="runs/trec-tuning", help="folder for the runs")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads per run")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(VARIANTS)
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    for name in names:
        options, seeds = VARIANTS[name]
        valid, commands = [], []
        for seed in seeds:
            out = Path(args.out) / f"{name}-s{seed}"
            cmd = (
                f"seqlab train classify --data trec {CNN} {options} --split-seed {seed} "
                f"--seed {seed} --threads {args.threads} --quiet --out {out}"
            )
            commands.append(cmd)
            if not (out / "results.json").is_file():
                print(f"== {cmd}", flush=True)
                subprocess.run(shlex.split(cmd), check=True)
            if "--label-set fine" in options:
                valid.append(coarse_valid_accuracy(out / "best.pt"))
            else:
                # unrounded (best_valid rounds), so the mean is of the exact figures
                history = json.loads((out / "results.json").read_text())["history"]
                valid.append(max(h["valid_accuracy"] for h in history))
        entry = {
            "name": name,
            "options": options,
            "metrics": {"mean_valid_accuracy": round(statistics.mean(valid), 4)},
            "valid_accuracy": [round(v, 4) for v in valid],
            "split_seeds": list(seeds),
            "commands": commands,
            "date": datetime.date.today().isoformat(),
            "machine": machine(args.threads),
        }
        save_run("trec-tuning", entry, order=list(VARIANTS))
        print(f"{name}: mean valid {statistics.mean(valid):.4f} {entry['valid_accuracy']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
