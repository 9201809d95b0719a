"""One run of the sentiment study: train it with `seqlab.tasks.classify.train`, keep its result.

A result is a JSON dict (the run's settings, figures of its kept epoch, test figures, history
and the `seqlab train classify` command that repeats it) written to OUT/runs/NAME.json, with
the history also as NAME.jsonl.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from seqlab.atomic import write_text_atomic
from seqlab.config import command_line, flatten
from seqlab.errors import SeqlabError
from seqlab.study.sentiment import RunSpec, StudySettings, run_configs

# The options that decide the data set (the rest decide the model).
DATA_FIELDS = (
    "data", "data_dir", "label_set", "text_column", "label_column", "limit", "split",
    "valid_fraction", "tokenizer", "stop_words", "min_freq", "max_vocab", "max_length", "truncate",
)  # fmt: skip


# Options left out of a run's command line: where the data is, and how it runs.
LEAVE_OUT = ("data_dir", "device", "quiet")


def data_key(spec: RunSpec, settings: StudySettings) -> str:
    """Equal for runs that read the same data set (same splits, vocabulary and maxlen)."""
    run = run_configs(spec, settings)
    options = flatten(run, ("data",))
    return json.dumps([{k: options[k] for k in DATA_FIELDS}, run.train.seed], sort_keys=True)


def command(spec: RunSpec, settings: StudySettings) -> str:
    """The `seqlab train classify` command line that repeats this run alone."""
    run = run_configs(spec, settings)
    return command_line("seqlab train classify", run, LEAVE_OUT)


def selected_epoch(history: list[dict[str, Any]], train: dict[str, Any]) -> dict[str, Any]:
    """The epoch whose weights the model ends with: the best one under early stopping
    (Trainer restores it; first minimum of the monitored value), else the last."""
    if not train.get("patience"):
        return history[-1]
    from seqlab.train.config import TrainConfig

    cfg = TrainConfig.from_dict(train)
    key, higher = cfg.monitor, cfg.monitor_mode == "max"
    best = history[0]
    for record in history[1:]:
        if (record[key] > best[key]) if higher else (record[key] < best[key]):
            best = record
    return best


def train_run(spec: RunSpec, settings: StudySettings, data: Any = None) -> dict[str, Any]:
    """Train one run of the plan and return its result (history included).

    `data` is what `seqlab.tasks.classify.load_data` gives for the run's config (None: load it).
    """
    from seqlab.summary import summary
    from seqlab.tasks.classify import TASK

    result = TASK.train(run_configs(spec, settings), data=data)
    final = selected_epoch(result.history, spec.train)
    return {
        "name": spec.name,
        "table": spec.table,
        "label": spec.label,
        "key": spec.key(settings),
        "config_key": spec.config_key(settings),
        "model": spec.model,
        "train": spec.train,
        "max_length": spec.max_length,
        "notes": spec.notes,
        "params": result.params,
        "epochs_run": len(result.history),
        "selected_epoch": final["epoch"],
        "valid_accuracy": final["valid_accuracy"],
        "valid_loss": final["valid_loss"],
        "test_accuracy": result.test["accuracy"],
        "test_loss": result.test["loss"],
        "train_wall_s": round(result.train_wall_s, 2),
        "summary": str(summary(result.model, length=spec.max_length))
        if spec.table == "a"
        else None,
        "command": command(spec, settings),
        "history": result.history,
    }


def write_result(runs_dir: Path, result: dict[str, Any]) -> dict[str, Any]:
    """Write runs/NAME.jsonl (history) then runs/NAME.json, atomically; return `result`."""
    path = Path(runs_dir) / f"{result['name']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(r) + "\n" for r in result["history"])
    write_text_atomic(path.with_suffix(".jsonl"), lines)
    write_text_atomic(path, json.dumps(result, indent=1) + "\n")  # last: marks the run done
    return result


def run_data(spec: RunSpec, settings: StudySettings) -> Any:
    """The run's data set, as `seqlab.tasks.classify.load_data` gives it."""
    from seqlab.tasks.classify import TASK

    return TASK.load_data(run_configs(spec, settings))


_WORKER_DATA: dict[str, Any] = {}  # a worker process's data sets, by data_key


def train_in_worker(runs_dir: str, spec: RunSpec, settings: StudySettings) -> dict[str, Any]:
    """Train one run in a worker process with `settings.threads` threads; write its result."""
    import torch

    start = time.perf_counter()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    key = data_key(spec, settings)
    if key not in _WORKER_DATA:
        _WORKER_DATA[key] = run_data(spec, settings)
    result = train_run(spec, settings, _WORKER_DATA[key])
    result["wall_s"] = round(time.perf_counter() - start, 2)
    return write_result(Path(runs_dir), result)


def load_result(path: Path, spec: RunSpec, settings: StudySettings) -> dict[str, Any] | None:
    """A finished run's result, or None; a result of other settings raises SeqlabError."""
    if not path.is_file():
        return None
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise SeqlabError(
            f"{path} is not valid JSON ({e}); delete it to re-run {spec.name}"
        ) from None
    if result.get("key") != spec.key(settings):
        raise SeqlabError(
            f"{path} holds a result of other settings (another seed, or quick vs full); "
            "use another --out folder or delete it"
        )
    return result
