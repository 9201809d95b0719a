"""Model-agnostic training: Trainer, checkpoints, optimizers and schedules, distributed helpers.

The names below are imported lazily (PEP 562), so `seqlab.train.config` loads without torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Accuracy": "metrics",
    "ConfusionMatrix": "metrics",
    "class_report": "metrics",
    "Metric": "metrics",
    "Perplexity": "metrics",
    "TrainConfig": "config",
    "Callback": "trainer",
    "CarryState": "forward",
    "Forward": "forward",
    "DivergedError": "trainer",
    "Trainer": "trainer",
    "evaluate": "loop",
    "model_spec": "loop",
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"seqlab.train.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'seqlab.train' has no attribute {name!r}")
