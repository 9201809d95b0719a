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
from pathlib import Path
from typing import Any

from seqlab.errors import SeqlabError
from seqlab.serve.jsonsafe import json_safe

CHECKPOINTS = ("best.pt", "last.pt")
REPORT = "test-report.json"


class NotARun(SeqlabError):
    """`read_run`'s refusal of a folder. Its message names the folder (what `seqlab report`
    prints); `reason` says why without a path, for the server, which names the model."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _json(path: Path) -> Any:
    """The JSON in `path`; a NotARun naming the file when it is not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        why = f"{path.name} is not readable JSON"
        raise NotARun(f"{path}: not readable JSON ({e})", why) from None


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
    model's) spare reading the checkpoint. A NotARun (a SeqlabError) when the folder holds no
    finished run."""
    folder = Path(folder)
    results_path = folder / "results.json"
    if not folder.is_dir():
        raise NotARun(
            f"{folder}: no such folder (give the --out folder of a training run)",
            "its run folder is gone",
        )
    if not results_path.is_file():
        why = "no results.json (seqlab train writes it when training and testing are done)"
        raise NotARun(f"{folder} is not a finished run: it has {why}", f"there is {why}")
    results = _json(results_path)
    if not isinstance(results, dict) or not isinstance(results.get("history"), list):
        why = "is not the results of a seqlab run (no history)"
        raise NotARun(f"{results_path} {why}", f"its results.json {why}")
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
    return json_safe(
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
