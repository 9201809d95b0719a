"""Tasks: one module each (`classify`, `lm`, `translate`, `finetune`), holding `TASK`, an
instance of a `seqlab.tasks.base.Task`. A checkpoint names its task, so `load(checkpoint)`
rebuilds everything from the file alone; a new task is one new module here.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from seqlab.errors import CheckpointError

TASKS = ("classify", "lm", "translate", "finetune")


def get_task(name: str) -> Any:
    """The Task of `seqlab.tasks.<name>`; CheckpointError if seqlab has no such task."""
    module = None
    if isinstance(name, str) and name.isidentifier() and name not in ("base", "configs"):
        try:
            module = importlib.import_module(f"seqlab.tasks.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"seqlab.tasks.{name}":
                raise
    task = getattr(module, "TASK", None)
    if task is None:
        raise CheckpointError(f"unknown task {name!r}; this seqlab knows {', '.join(TASKS)}")
    return task


def load(path: str | Path, device: Any = "cpu", *, task: str | None = None) -> Any:
    """A checkpoint ready for inference (`seqlab.tasks.base.Loaded`): its task, the model in
    eval mode on `device`, the text encoders, the label names and the saved run config. With
    `task`, a checkpoint of another task is a CheckpointError."""
    from seqlab.data.text import text_encoder_from_dict
    from seqlab.models import model_from_config
    from seqlab.tasks.base import Loaded
    from seqlab.train.checkpoint import load_checkpoint, load_model_weights
    from seqlab.train.device import select_device

    state = load_checkpoint(path, task=task)
    owner = get_task(state["task"])
    run = owner.saved_run(state, path)
    model = model_from_config(state["model_kind"], state["model_config"])
    load_model_weights(model, state["model"], path)
    encoders = {}
    for key in owner.encoder_keys:
        try:
            # The checkpoint names each encoder's kind: a seqlab vocabulary or a tokenizer.
            encoders[key] = text_encoder_from_dict(state[key])
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: its text encoder cannot be rebuilt ({e})") from None
    names = state.get("label_names")
    dev = select_device(device) if isinstance(device, str) else device
    return Loaded(
        task=owner,
        path=Path(path),
        model=model.to(dev).eval(),
        run=run,
        encoders=encoders,
        label_names=list(names) if names is not None else None,
        state=state,
        device=dev,
    )
