"""Model-agnostic training: Trainer, checkpoints, optimizers and schedules, distributed helpers."""

from seqlab.train.checkpoint import load_checkpoint, save_checkpoint
from seqlab.train.config import TrainConfig
from seqlab.train.metrics import Accuracy, Metric, Perplexity
from seqlab.train.trainer import Callback, DivergedError, Trainer, evaluate, model_spec

__all__ = [
    "Accuracy",
    "Callback",
    "DivergedError",
    "Metric",
    "Perplexity",
    "TrainConfig",
    "Trainer",
    "evaluate",
    "load_checkpoint",
    "model_spec",
    "save_checkpoint",
]
