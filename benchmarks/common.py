"""What every benchmark script shares: the machine line and the results file of BENCHMARKS.md."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from seqlab.atomic import write_text_atomic
from seqlab.train.device import cpu_name

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine(threads: int | None = None) -> str:
    """Cores, processor, torch threads and torch version, as BENCHMARKS.md asks."""
    import torch

    threads = threads or torch.get_num_threads()
    cores = f"{os.cpu_count()} CPU cores ({threads} torch threads)"
    return f"{cores}, {cpu_name()}, torch {torch.__version__}"


def save_run(benchmark: str, entry: dict, order: list[str] | None = None) -> Path:
    """Replace the run's entry in results/<benchmark>.json (written atomically); runs named in
    `order` come first, in that order."""
    path = RESULTS_DIR / f"{benchmark}.json"
    data = json.loads(path.read_text()) if path.is_file() else {"benchmark": benchmark}
    runs = [r for r in data.get("runs", []) if r["name"] != entry["name"]] + [entry]
    order = order or []
    data["runs"] = sorted(
        runs, key=lambda r: order.index(r["name"]) if r["name"] in order else len(order)
    )
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")
    return path


def run_commands(
    benchmark: str,
    runs: dict[str, tuple[list[str], str]],
    command: Callable[[str, Path, argparse.Namespace], str],
    record: Callable[[str, Path, str, argparse.Namespace], dict],
    doc: str,
    default_out: str,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> int:
    """The command line every training benchmark shares: --only, --list, --out, --record-only.

    Each run is one `seqlab` command (`command(name, out, args)`); after it, `record(name, out,
    command, args)` turns its OUT/results.json into the run's entry of results/<benchmark>.json.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--only", help=f"comma-separated runs from {', '.join(runs)}")
    parser.add_argument("--list", action="store_true", help="print the runs and their commands")
    parser.add_argument("--out", default=default_out, help="folder for checkpoints and logs")
    parser.add_argument(
        "--record-only",
        action="store_true",
        help="do not train: record the runs already finished in --out by the same commands",
    )
    if extra is not None:
        extra(parser)
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(runs)
    unknown = [n for n in names if n not in runs]
    if unknown:
        parser.error(f"unknown runs {unknown}; choose from {', '.join(runs)}")
    for name in names:
        out = Path(args.out) / name
        cmd = command(name, out, args)
        if args.list:
            print(f"{name}: {cmd}")
            continue
        if not args.record_only:
            print(f"== {name}: {cmd}", flush=True)
            seqlab = [sys.executable, "-m", "seqlab", *shlex.split(cmd)[1:]]
            if subprocess.run(seqlab).returncode != 0:
                print(f"{name} failed", file=sys.stderr)
                return 1
        entry = record(name, out, cmd, args)
        save_run(benchmark, entry, list(runs))
        print(f"== {name}: {json.dumps(entry['metrics'])} in {entry['train_wall_s']} s", flush=True)
    return 0


def best_valid(results: dict) -> dict:
    """{"valid_accuracy": the best of a run's epochs} from its results.json, or {} for a run
    without a validation split."""
    valid = [h["valid_accuracy"] for h in results["history"] if "valid_accuracy" in h]
    return {"valid_accuracy": round(max(valid), 4)} if valid else {}


def classify_entry(name: str, tags: list[str], out: Path, cmd: str, threads: int | None) -> dict:
    """The BENCHMARKS.md entry of a finished `seqlab train classify` run, from its results.json:
    test accuracy (of the kept weights), the best validation accuracy, size, time, speed."""
    import datetime

    results = json.loads((out / "results.json").read_text())
    history = results["history"]
    epochs = len(history)
    return {
        "name": name,
        "tags": tags,
        "metrics": {"test_accuracy": round(results["test"]["accuracy"], 4)} | best_valid(results),
        "params": results["params"],
        "epochs": epochs,
        "train_wall_s": round(results["train_wall_s"], 1),
        # training tokens (after truncation) of all epochs over the wall time, validation included
        "tokens_per_s": round(results["train_tokens"] * epochs / results["train_wall_s"]),
        "command": cmd,
        "date": datetime.date.today().isoformat(),
        "machine": machine(threads),
    }


def ensemble_command(options: str, out: Path) -> str:
    """`seqlab evaluate --ensemble` of the runs named in `options` ("--ensemble A B ...
    [--weights W ...]"; folders beside `out`), the report written to `out`. Without --weights
    the weights are chosen on the members' common validation split."""
    names, _, weights = options.removeprefix("--ensemble").partition("--weights")
    checkpoints = " ".join(str(out.parent / m / "best.pt") for m in names.split())
    given = f" --weights {' '.join(weights.split())}" if weights.strip() else ""
    return f"seqlab evaluate --ensemble {checkpoints}{given} --report {out}"


def ensemble_entry(name: str, tags: list[str], out: Path, cmd: str, threads: int | None) -> dict:
    """The BENCHMARKS.md entry of an ensemble: its test accuracy (and validation accuracy, when
    the weights were chosen on it), each member's test accuracy, validation accuracy and weight;
    `train_wall_s` is the members' training times added up."""
    report = json.loads((out / "test-ensemble.json").read_text())
    chosen = report["weights_from"] == "valid"
    members = []
    wall = 0.0
    for m, w in zip(report["members"], report["weights"], strict=True):
        run = Path(m["checkpoint"]).parent
        results = json.loads((run / "results.json").read_text())
        wall += results["train_wall_s"]
        # the member's validation figure is of the split it was trained beside
        test = round(m["test_accuracy"], 4)
        members.append({"run": run.name, "weight": round(w, 4), "test_accuracy": test})
        members[-1] |= best_valid(results)
    import datetime

    return {
        "name": name,
        "tags": sorted({*tags, "ensemble"}),
        "metrics": {"test_accuracy": round(report["test_accuracy"], 4)}
        | ({"valid_accuracy": round(report["valid_accuracy"], 4)} if chosen else {}),
        "members": members,
        "train_wall_s": round(wall, 1),
        "command": cmd,
        "date": datetime.date.today().isoformat(),
        "machine": machine(threads),
        "notes": (
            "weights chosen on the validation split only (grid of 0.05 steps over the simplex, "
            "best valid accuracy)"
            if chosen
            else "weights given in the command (its benchmark script says where from)"
        )
        + "; train_wall_s adds up the members' training times",
    }


def run_classify_benchmark(
    benchmark: str, data: str, runs: dict[str, tuple[list[str], str]], doc: str
) -> int:
    """`run_commands` for benchmarks of `seqlab train classify --data DATA` runs (and
    `--ensemble` runs of them), one torch thread per run unless --threads says otherwise."""

    def command(name: str, out: Path, args: argparse.Namespace) -> str:
        options = runs[name][1]
        if options.startswith("--ensemble"):
            return ensemble_command(options, out)
        seed = "" if "--seed " in options else " --seed 0"  # a run may name its own seed
        return (
            f"seqlab train classify --data {data} {options}{seed} --threads {args.threads} "
            f"--out {out}"
        )

    def record(name: str, out: Path, cmd: str, args: argparse.Namespace) -> dict:
        entry = ensemble_entry if runs[name][1].startswith("--ensemble") else classify_entry
        return entry(name, runs[name][0], out, cmd, args.threads)

    def threads(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per run")

    return run_commands(benchmark, runs, command, record, doc, f"runs/{benchmark}", threads)
