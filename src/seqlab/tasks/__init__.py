"""Glue per task: build data and model from a config, train, evaluate, predict.

Each task module (`classify`, `lm`, `translate`, `finetune`) offers `train(task_cfg, train_cfg, out,
resume=...)`, `evaluate_checkpoint(path, ...)` and `predict(path, inputs)`. A checkpoint names
its task, so `seqlab evaluate` and `seqlab predict` dispatch on it without flags.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

from seqlab.errors import CheckpointError

TASKS = ("classify", "lm", "translate", "finetune")


def task_module(name: str) -> ModuleType:
    """The module `seqlab.tasks.<name>`; CheckpointError if seqlab has no such task."""
    if name not in TASKS:
        raise CheckpointError(f"unknown task {name!r}; this seqlab knows {', '.join(TASKS)}")
    return importlib.import_module(f"seqlab.tasks.{name}")


def load_trained(path: str | Path, task: str, device: Any = "cpu") -> tuple[Any, Any, dict]:
    """Model (eval mode, on `device`), text encoder and raw state of a `task` checkpoint: what
    every task's evaluate/predict/generate starts from."""
    from seqlab.data.text import text_encoder_from_dict
    from seqlab.models import model_from_config
    from seqlab.train.checkpoint import load_checkpoint, load_model_weights

    state = load_checkpoint(path, task=task)
    model = model_from_config(state["model_kind"], state["model_config"])
    load_model_weights(model, state["model"], path)
    try:
        # The checkpoint names the encoder's kind: a seqlab vocabulary or a pretrained tokenizer.
        encoder = text_encoder_from_dict(state["encoder"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: its text encoder cannot be rebuilt ({e})") from None
    return model.to(device).eval(), encoder, state


def task_of_checkpoint(path: str | Path) -> ModuleType:
    """The task module that wrote the checkpoint at `path`."""
    from seqlab.train.checkpoint import load_checkpoint

    return task_module(load_checkpoint(path)["task"])
