"""A finished training run read back from its folder: what the Run page and `seqlab report` show.

`seqlab train` leaves OUT/results.json (the per-epoch `history`, the `test` metrics, parameters,
training time, config) beside best.pt / last.pt, whose checkpoint names the task and the label
names. A classifier's per-class report and confusion matrix come from the test metrics when
the task records them (finetune), else from OUT/test-report.json, which `seqlab evaluate`
writes into the checkpoint's folder. No model is built and nothing is computed but the
per-class rows of a confusion matrix. Importing this module imports neither FastAPI nor torch.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from seqlab.errors import SeqlabError

CHECKPOINTS = ("best.pt", "last.pt")
REPORT = "test-report.json"


def _json(path: Path) -> Any:
    """The JSON in `path`; a SeqlabError naming the file when it is not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise SeqlabError(f"{path}: not readable JSON ({e})") from None


def plain(value: Any) -> Any:
    """`value` made JSON-safe: NaN and infinities become None (JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def checkpoint_meta(folder: Path) -> dict[str, Any]:
    """The task and label names saved in the folder's checkpoint ({} without one)."""
    for name in CHECKPOINTS:
        if (folder / name).is_file():
            from seqlab.train import load_checkpoint

            state = load_checkpoint(folder / name)
            return {"task": state.get("task"), "label_names": state.get("label_names")}
    return {}


def read_run(
    folder: str | Path, *, task: str | None = None, label_names: list[str] | None = None
) -> dict[str, Any]:
    """The run in `folder`: {"name", "task", "history", "test", "classes", "confusion",
    "label_names", "params", "train_wall_s", "config"}. `task` and `label_names` (a served
    model's) spare reading the checkpoint. A SeqlabError when the folder holds no finished run."""
    folder = Path(folder)
    results_path = folder / "results.json"
    if not folder.is_dir():
        raise SeqlabError(f"{folder}: no such folder (give the --out folder of a training run)")
    if not results_path.is_file():
        raise SeqlabError(
            f"{folder} is not a finished run: it has no results.json (seqlab train writes it "
            "when training and testing are done)"
        )
    results = _json(results_path)
    if not isinstance(results, dict) or not isinstance(results.get("history"), list):
        raise SeqlabError(f"{results_path} is not the results of a seqlab run (no history)")
    if task is None:
        meta = checkpoint_meta(folder)
        task, label_names = meta.get("task"), label_names or meta.get("label_names")
    test = dict(results.get("test") or {})
    confusion, classes = test.pop("confusion", None), test.pop("classes", None)
    if confusion is None and (folder / REPORT).is_file():
        report = _json(folder / REPORT)
        confusion, classes = report.get("confusion"), report.get("classes")
        label_names = label_names or report.get("label_names")
    if confusion is not None and classes is None and len(label_names or ()) == len(confusion):
        from seqlab.train.metrics import class_report

        classes = class_report(confusion, label_names)
    return plain(
        {
            "name": folder.resolve().name,
            "task": task,
            "history": results["history"],
            "test": test or None,
            "classes": classes,
            "confusion": confusion,
            "label_names": label_names,
            "params": results.get("params"),
            "train_wall_s": results.get("train_wall_s"),
            "config": results.get("config"),
        }
    )
