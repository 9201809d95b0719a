"""Print the figures of a `bash benchmarks/task_parity.sh OUT` run: per-epoch losses and metrics
(no times) and the final test metrics of each task, then the evaluate/predict/generate/translate
outputs, so that two runs compare with `diff`."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(out: Path) -> None:
    for task in ("classify", "lm", "translate", "finetune"):
        results = json.loads((out / task / "results.json").read_text())
        print(f"== {task}")
        for record in results["history"]:
            kept = {k: v for k, v in record.items() if not k.endswith("_s") and k != "lr"}
            print(kept)
        print("test", {k: v for k, v in results["test"].items() if k != "classes"})
    for name in sorted(out.glob("*-*.txt")):
        lines = [s for s in name.read_text().splitlines() if s.strip() and "wrote " not in s]
        print(f"== {name.name}", *lines, sep="\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
