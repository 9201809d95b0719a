"""`TrainConfig`: every setting of a training run, saved inside each checkpoint."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from seqlab.errors import SeqlabError

OPTIMIZERS = ("sgd", "adagrad", "rmsprop", "adam", "adamw")
# Whether lower ("min") or higher ("max") is better, declared for the metrics seqlab logs; any
# other `monitor` (e.g. one a callback adds) needs an explicit `monitor_mode`.
MONITOR_MODES = {
    "valid_loss": "min",
    "train_loss": "min",
    "valid_perplexity": "min",
    "valid_accuracy": "max",
    "valid_bleu": "max",
}
SCHEDULES = ("none", "step", "exp", "cosine", "linear", "plateau")


@dataclass
class TrainConfig:
    """Optimizer, schedule, stopping, device and logging settings of one training run."""

    epochs: int = 5
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0  # SGD only
    weight_decay: float = 0.0  # applied to matrices and embeddings only (p.dim() >= 2)
    clip: float | None = None  # max global gradient norm; None = no clipping
    accumulate: int = 1  # batches whose gradients are summed per optimizer step
    # Layer-wise lr decay for models with `layer_groups()`: group d (0 = output) gets lr * decay**d.
    layer_decay: float = 1.0
    # Learning-rate schedule, see seqlab.train.optim.build_scheduler.
    schedule: str = "none"
    step_size: int = 1  # "step": decay every step_size epochs
    gamma: float | None = None  # decay factor; None = the schedule's default
    decay_after: int = 5  # "exp": keep the lr for this many epochs, then decay every epoch
    warmup: float = 0.05  # "cosine", "linear": warm-up steps, or a fraction of all steps if < 1
    plateau_patience: int = 1  # "plateau": epochs without improvement before the lr drops
    # Early stopping on `monitor`; the best weights are restored at the end.
    patience: int | None = None
    monitor: str = "valid_loss"
    monitor_mode: str | None = None  # "min" or "max"; None: MONITOR_MODES[monitor]
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | mps
    amp: bool = False  # bf16 autocast
    threads: int | None = None  # CPU threads of torch; None: torch's default (all cores)
    limit_batches: int | None = None  # at most this many batches per epoch and split (dry runs)
    log_every: int = 20  # steps between progress-bar updates (each one syncs the loss)
    quiet: bool = False

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise SeqlabError(
                f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}"
            )
        if self.schedule not in SCHEDULES:
            raise SeqlabError(
                f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}"
            )
        for name in ("epochs", "batch_size", "step_size", "log_every", "accumulate"):
            if getattr(self, name) < 1:
                raise SeqlabError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise SeqlabError(f"lr must be positive, got {self.lr}")
        if not 0 < self.layer_decay <= 1:
            raise SeqlabError(f"layer_decay must be in (0, 1], got {self.layer_decay}")
        if self.patience is not None and self.patience < 1:
            raise SeqlabError(f"patience must be at least 1, got {self.patience}")
        if self.monitor_mode is None:
            if self.monitor not in MONITOR_MODES:
                raise SeqlabError(
                    f"say whether a higher or lower {self.monitor} is better: monitor_mode "
                    "'max' or 'min'"
                )
            self.monitor_mode = MONITOR_MODES[self.monitor]
        if self.monitor_mode not in ("min", "max"):
            raise SeqlabError(f"monitor_mode must be 'min' or 'max', got {self.monitor_mode!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON- and checkpoint-safe)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a dict, naming the valid keys if one is unknown."""
        return cls(**check_keys(cls, values))


def check_keys(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """Return `values` if each key is a field of dataclass `cls`; else raise naming valid keys."""
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - valid)
    if unknown:
        raise SeqlabError(
            f"unknown {cls.__name__} setting(s) {', '.join(unknown)}; "
            f"valid: {', '.join(sorted(valid))}"
        )
    return values
