"""What every benchmark script shares: the machine line and the results file of BENCHMARKS.md."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

from seqlab.atomic import write_text_atomic

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine(threads: int | None = None) -> str:
    """Cores, processor, torch threads and torch version, as BENCHMARKS.md asks."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    threads = threads or torch.get_num_threads()
    return f"{os.cpu_count()} CPU cores ({threads} torch threads), {cpu}, torch {torch.__version__}"


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
