"""`TrainConfig`: every setting of a training run, saved inside each checkpoint."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from seqlab.config import COUNT, NON_NEGATIVE, POSITIVE, at_least, check_settings, number, setting
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
    "valid_micro_f1": "max",  # multi-label classification (seqlab.train.metrics.MultiLabelF1)
    "valid_macro_f1": "max",
    "valid_exact_match": "max",
    "valid_tuned_macro_f1": "max",
}
SCHEDULES = ("none", "step", "exp", "cosine", "linear", "plateau")


@dataclass
class TrainConfig:
    """Optimizer, schedule, stopping, device and logging settings of one training run (the
    "train" section of every run; each field is also a `seqlab train` option)."""

    optimizer: str = setting("adam", "optimizer", choices=OPTIMIZERS)
    lr: float = setting(1e-3, "learning rate", check=POSITIVE)
    momentum: float = setting(0.0, "SGD momentum", check=NON_NEGATIVE)
    # applied to matrices and embeddings only (p.dim() >= 2)
    weight_decay: float = setting(
        0.0, "weight decay of matrices and embeddings", check=NON_NEGATIVE
    )
    # None: no clipping (0 would clip every gradient to nothing)
    clip: float | None = setting(None, "clip the gradient norm to this value", check=POSITIVE)
    epochs: int = setting(5, "training epochs", check=COUNT)
    batch_size: int = setting(64, "batch size (per process under torchrun)", check=COUNT)
    accumulate: int = setting(
        1,
        "sum the gradients of N batches per optimizer step (an N times larger batch)",
        metavar="N",
        check=COUNT,
    )
    # Layer-wise lr decay for models with `layer_groups()`: group d (0 = output) gets lr * decay**d.
    layer_decay: float = setting(
        1.0,
        "layer-wise lr decay for pretrained encoders: each layer down trains at this "
        "times the lr of the layer above",
        check=number("(0, 1]"),
    )
    # Learning-rate schedule, see seqlab.train.optim.build_scheduler.
    schedule: str = setting("none", "learning-rate schedule", choices=SCHEDULES)
    step_size: int = setting(1, "step schedule: epochs between decays", check=COUNT)
    gamma: float | None = setting(  # None: the schedule's default
        None, "decay factor (default: step 0.5, exp exp(-0.1), plateau 0.5)", check=POSITIVE
    )
    decay_after: int = setting(5, "exp schedule: epochs before the decay starts", check=at_least(0))
    warmup: float = setting(
        0.05,
        "cosine and linear schedules: warm-up steps, or a fraction of all steps if < 1",
        check=NON_NEGATIVE,
    )
    plateau_patience: int = setting(
        1, "plateau schedule: epochs without improvement", check=at_least(0)
    )
    # Early stopping on `monitor`; the best weights are restored at the end.
    patience: int | None = setting(
        None, "early stopping: epochs without improvement; restores the best", check=COUNT
    )
    monitor: str = setting("valid_loss", "what early stopping and best.pt watch")
    monitor_mode: str | None = setting(  # None: MONITOR_MODES[monitor]
        None,
        "whether a higher (max) or lower (min) monitored value is better "
        "(default: min for losses and perplexity, max for accuracy)",
        choices=("min", "max"),
    )
    seed: int = setting(  # numpy refuses negative seeds
        0, "random seed (data split, initialisation, order)", check=at_least(0)
    )
    device: str = setting("auto", "auto, cpu, cuda or mps")
    amp: bool = setting(False, "bf16 autocast")
    threads: int | None = setting(  # None: torch's default (all cores)
        None, "CPU threads (default: all cores; 1 is faster on a busy machine)", check=COUNT
    )
    save_every: int | None = setting(  # long epochs (fine-tuning, WikiText-2) lose nothing
        None,
        "also write last.pt every N optimizer steps inside an epoch, so a killed run resumes "
        "there (default: at epoch ends only)",
        check=COUNT,
    )
    # at most this many batches per epoch and split (dry runs)
    limit_batches: int | None = setting(None, cli=False, check=COUNT)
    log_every: int = setting(
        20, "steps between progress-bar updates", check=COUNT
    )  # each one syncs the loss
    quiet: bool = setting(False, "no progress bar or per-epoch lines")

    def __post_init__(self) -> None:
        check_settings(self)  # each field's rule (a run read by config_from_dict: checked there)
        if self.monitor_mode is None:
            if self.monitor not in MONITOR_MODES:
                raise SeqlabError(
                    f"say whether a higher or lower {self.monitor} is better: monitor_mode "
                    "'max' or 'min'"
                )
            self.monitor_mode = MONITOR_MODES[self.monitor]

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
