"""The model-agnostic Trainer: it relies only on `logits, loss = model(**batch)` and a Metric."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from seqlab.errors import CheckpointError, SeqlabError
from seqlab.train.checkpoint import (
    finite_weights,
    load_checkpoint,
    load_model_weights,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from seqlab.train.config import TrainConfig
from seqlab.train.device import select_device
from seqlab.train.distributed import broadcast_flag, dist_info, init_distributed
from seqlab.train.forward import Forward
from seqlab.train.loop import evaluate, model_spec, run_epoch
from seqlab.train.metrics import Accuracy, Metric
from seqlab.train.optim import build_optimizer, build_scheduler

# Settings that change the optimisation; a resumed run must keep them (epochs may grow).
RESUME_KEYS = (
    "batch_size", "optimizer", "lr", "momentum", "weight_decay", "clip", "schedule",
    "step_size", "gamma", "decay_after", "warmup", "plateau_patience", "seed", "amp",
    "accumulate", "layer_decay",
)  # fmt: skip


class DivergedError(SeqlabError):
    """The loss or the weights became NaN or infinite; nothing of that epoch was written."""


class Callback:
    """Extras hook into the loop here; set `trainer.stop_training = True` to stop after an epoch."""

    def on_validation(self, trainer: Trainer, record: dict[str, Any]) -> None:
        """Called on every process after validation, before the best epoch is chosen: a callback
        may add metrics to `record` (e.g. "valid_bleu" from decoded text) that `monitor` then
        watches (with `monitor_mode` saying whether higher or lower is better)."""

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        """Called on every process after an epoch's record is complete and saved."""


class Trainer:
    """Trains any `logits, loss = model(**batch)` model; logs, checkpoints, resumes, stops early.

    `meta` is task data saved in every checkpoint (at least "task"; e.g. the text encoder and
    label names), so a checkpoint alone rebuilds the model and its input pipeline. Under
    `torchrun` the model is wrapped in DistributedDataParallel and only rank 0 writes files.
    `forward` says how a batch is run (default `model(**batch)`; `CarryState()` for truncated
    BPTT), for training and validation alike.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        config: TrainConfig,
        train_loader: Sequence | Iterable,
        valid_loader: Sequence | Iterable | None = None,
        *,
        metric: Metric | None = None,
        out_dir: str | Path | None = None,
        meta: dict[str, Any] | None = None,
        callbacks: Sequence[Callback] = (),
        forward: Forward | None = None,
    ) -> None:
        self.config = config
        self.forward = forward or Forward()
        if config.threads is not None:
            # On a busy machine fewer threads than cores avoid OpenMP threads waiting on
            # each other; one per process is best when several processes share the cores.
            torch.set_num_threads(config.threads)
        self.device = select_device(config.device, dist_info().local_rank)
        self.dist = init_distributed(self.device)
        self.model = model.to(self.device)
        self.train_loader, self.valid_loader = train_loader, valid_loader
        self.metric = metric or Accuracy()
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.meta = {"task": "custom", **(meta or {})}
        self.callbacks = list(callbacks)
        self.optimizer = build_optimizer(self.model, config)
        # Per-batch schedules step once per optimizer step, i.e. every `accumulate` batches.
        updates = math.ceil(self._steps_per_epoch() / config.accumulate)
        self.schedule = build_scheduler(self.optimizer, config, updates)
        self.forward_model: torch.nn.Module = self.model
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.forward_model = DistributedDataParallel(self.model, device_ids=ids)
        self.history: list[dict[str, Any]] = []
        self.epoch = 0  # completed epochs
        # Seconds `fit` has trained, over every resumption of the run (kept in checkpoints).
        self.train_wall_s = 0.0
        self.best = {"value": None, "epoch": 0, "bad_epochs": 0}
        # A copy of the best weights in memory, for early stopping only (best.pt is on disk).
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.stop_training = False
        self._pending = 0  # batches whose gradients wait for the next optimizer step
        self._steps = 0  # optimizer steps in the current epoch
        # Where a checkpoint taken inside an epoch left it (see `save_every`), from `restore`.
        self._partial: dict[str, Any] | None = None
        if config.save_every and self.dist.enabled:
            raise SeqlabError("--save-every is not supported under torchrun yet")
        if config.save_every and not _has_length(train_loader):  # to know the epoch's end
            raise SeqlabError("--save-every needs a train loader with a length (len(loader))")

    # -- the loop -------------------------------------------------------------------------------
    def fit(self, resume: str | Path | None = None) -> list[dict[str, Any]]:
        """Train for `config.epochs` epochs (continuing from `resume`); return the history."""
        cfg = self.config
        if resume is not None:
            self.restore(resume)
        elif self.dist.is_main and self.out_dir is not None:
            (self.out_dir / "log.jsonl").unlink(missing_ok=True)  # a fresh run starts a fresh log
        t0, before = time.perf_counter(), self.train_wall_s
        self._clock = (t0, before)
        # How every pass runs a batch, in training and validation alike.
        passes = {"forward": self.forward, "amp": cfg.amp, "limit": cfg.limit_batches}
        while self.epoch < cfg.epochs and not self.stop_training:
            epoch = self.epoch
            _set_epoch(self.train_loader, epoch)
            resume_at, self._partial = self._partial, None
            if resume_at is not None:  # a loader drawing its order from torch's RNG repeats it
                set_rng_state(resume_at["epoch_rng"])
            self._epoch_rng = rng_state() if cfg.save_every else None
            start = time.perf_counter() - (resume_at["time_s"] if resume_at else 0.0)
            self._epoch_start, self._steps = start, resume_at["steps"] if resume_at else 0
            self.model.train()
            self.optimizer.zero_grad(set_to_none=True)
            with self._progress(f"epoch {epoch + 1}/{cfg.epochs}") as bar:
                train = run_epoch(
                    self.forward_model, self.train_loader, self.metric, self.device,
                    step=self._step, bar=bar, log_every=cfg.log_every, resume=resume_at,
                    after_batch=self._save_inside_epoch if cfg.save_every else None, **passes,
                )  # fmt: skip
            self._flush()  # the epoch's last, shorter accumulation
            # Losses come before each step: the weights the last step left are checked too.
            if not math.isfinite(train["loss"]):
                raise DivergedError(self._diverged_message("the loss", epoch))
            if not finite_weights(self.model):
                raise DivergedError(self._diverged_message("the weights", epoch))
            record: dict[str, Any] = {"epoch": epoch + 1}
            record.update({f"train_{k}": v for k, v in train.items()})
            if self.valid_loader is not None:
                _set_epoch(self.valid_loader, epoch)
                valid = evaluate(self.model, self.valid_loader, self.metric, self.device, **passes)
                if not math.isfinite(valid["loss"]):
                    raise DivergedError(self._diverged_message("the validation loss", epoch))
                record.update({f"valid_{k}": v for k, v in valid.items()})
            for callback in self.callbacks:
                callback.on_validation(self, record)
            record["lr"] = self.optimizer.param_groups[0]["lr"]
            record["time_s"] = round(time.perf_counter() - start, 3)
            self.schedule.after_epoch(record.get("valid_loss"))
            self.history.append(record)
            self.epoch = epoch + 1
            self.train_wall_s = before + time.perf_counter() - t0
            improved = self._track_best(record)
            if self.dist.is_main:
                self._write_epoch(record, improved)
            for callback in self.callbacks:
                callback.on_epoch_end(self, record)
            patience = cfg.patience
            if patience is not None and self.best["bad_epochs"] >= patience:
                self.log(f"early stopping: {cfg.monitor} did not improve for {patience} epochs")
                self.stop_training = True
            self.stop_training = broadcast_flag(self.stop_training, self.device)
        if cfg.patience is not None and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)  # Keras' restore_best_weights
        self.train_wall_s = before + time.perf_counter() - t0
        return self.history

    def _step(self, loss: torch.Tensor) -> None:
        """Backward pass; every `accumulate` batches the optimizer step (see `_flush`).

        Gradients of k batches are summed with each loss divided by k, so a step sees the mean
        gradient of k * batch_size examples, as one big batch would (up to BatchNorm-like
        layers, which seqlab's models do not have).
        """
        (loss / self.config.accumulate).backward()
        self._pending += 1
        if self._pending == self.config.accumulate:
            self._flush()

    def _flush(self) -> None:
        """Clip, step the optimizer and the per-batch schedule, zero the gradients. A shorter
        last accumulation of r < k batches is rescaled by k / r to a mean as well."""
        if self._pending == 0:
            return
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        if self._pending < self.config.accumulate:
            scale = self.config.accumulate / self._pending
            for p in params:
                if p.grad is not None:
                    p.grad.mul_(scale)
        if self.config.clip is not None:
            torch.nn.utils.clip_grad_norm_(params, self.config.clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.schedule.after_batch()
        self._pending = 0
        self._steps += 1

    def _save_inside_epoch(self, done: int, partial: Any) -> None:
        """After batch `done` of an epoch: every `save_every` optimizer steps (not after the
        epoch's last batch, which the epoch's end saves), write last.pt with what continues the
        epoch there. Nothing is written if a weight is no longer finite."""
        every = self.config.save_every
        last = done >= self._steps_per_epoch()
        if self._pending or last or self._steps % every or not self.dist.is_main:
            return
        if self.out_dir is None or not finite_weights(self.model):
            return
        t0, before = self._clock
        self.train_wall_s = before + time.perf_counter() - t0
        elapsed = time.perf_counter() - self._epoch_start
        state = self.checkpoint_state()
        state["partial"] = {**partial(), "steps": self._steps, "time_s": elapsed}
        state["partial"]["epoch_rng"] = self._epoch_rng  # the generators as the epoch began
        save_checkpoint(self.out_dir / "last.pt", state)

    def _track_best(self, record: dict[str, Any]) -> bool:
        """Update the early-stopping state from `record`; True if the monitored value improved."""
        cfg = self.config
        key, mode = (
            (cfg.monitor, cfg.monitor_mode) if cfg.monitor in record else ("train_loss", "min")
        )
        value = record[key]
        best = self.best["value"]
        improved = best is None or (value > best if mode == "max" else value < best)
        if improved:
            self.best = {"value": value, "epoch": record["epoch"], "bad_epochs": 0}
            if cfg.patience is not None:  # only early stopping restores them
                self.best_weights = {
                    k: v.detach().clone() for k, v in self.model.state_dict().items()
                }
        else:
            self.best["bad_epochs"] += 1
        return improved

    # -- files ----------------------------------------------------------------------------------
    def checkpoint_state(self) -> dict[str, Any]:
        """Everything a checkpoint holds (docs/design.md, "Checkpoints"), as plain data."""
        kind, model_config = model_spec(self.model)
        return {
            "model_kind": kind,
            "model_config": model_config,
            **self.meta,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.schedule.state_dict(),
            "epoch": self.epoch,
            "rng": rng_state(),
            "history": self.history,
            "train_wall_s": self.train_wall_s,
            "best": dict(self.best),
            "train_config": self.config.to_dict(),
        }

    def _write_epoch(self, record: dict[str, Any], improved: bool) -> None:
        """Print the epoch line; save best.pt (if improved) and last.pt; append to log.jsonl."""
        self.log(_format_record(record, self.config.epochs))
        if self.out_dir is None:
            return
        state = self.checkpoint_state()
        if improved:
            save_checkpoint(self.out_dir / "best.pt", state)
        save_checkpoint(self.out_dir / "last.pt", state)
        with open(self.out_dir / "log.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def restore(self, path: str | Path) -> None:
        """Continue from a checkpoint of `fit`: weights, optimizer, schedule, RNG, history."""
        kind, model_config = model_spec(self.model)
        state = load_checkpoint(
            path, task=self.meta["task"], model_kind=kind, model_config=model_config
        )
        for key in ("optimizer", "scheduler", "epoch", "rng", "history", "best"):
            if key not in state:
                raise SeqlabError(f"{path} holds weights only (no {key!r}); it cannot be resumed")
        saved = state.get("train_config", {})
        now = self.config.to_dict()
        changed = [k for k in RESUME_KEYS if k in saved and saved[k] != now[k]]
        if changed:
            raise CheckpointError(
                f"{path} was trained with other settings ({', '.join(changed)}); "
                "resume with the original ones"
            )
        load_model_weights(self.model, state["model"], path)
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError) as e:
            raise CheckpointError(f"{path}: its optimizer state does not fit ({e})") from None
        self.schedule.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        self.epoch, self.history, self.best = state["epoch"], state["history"], state["best"]
        # Inside an epoch: the batches done, running sums, carried state and time; the RNG
        # state goes back when the pass reaches the next batch (`run_epoch`).
        self._partial = state.get("partial")
        if self._partial is not None:
            self._partial["rng"] = state["rng"]
        # Checkpoints from before train_wall_s was kept: the epochs' own times.
        self.train_wall_s = state.get(
            "train_wall_s", sum(h.get("time_s", 0.0) for h in self.history)
        )
        if self.config.patience is not None:
            self.best_weights = self._saved_best_weights(Path(path))
        patience = self.config.patience
        self.stop_training = patience is not None and self.best["bad_epochs"] >= patience
        if self.dist.is_main and self.out_dir is not None:
            # Drop log lines of epochs after the checkpoint (the run may have died after them).
            self.out_dir.mkdir(parents=True, exist_ok=True)
            lines = [json.dumps(r) + "\n" for r in self.history]
            (self.out_dir / "log.jsonl").write_text("".join(lines), encoding="utf-8")
        inside = "" if self._partial is None else f", batch {self._partial['batches']}"
        self.log(f"resumed from {path} after epoch {self.epoch}{inside}")

    def _saved_best_weights(self, path: Path) -> dict[str, torch.Tensor]:
        """The best epoch's weights, for early stopping after a resume: best.pt's (also when
        last.pt was taken inside a later epoch). If the run died between writing best.pt and
        last.pt, best.pt holds the epoch being redone, which improves again when redone
        (resuming is exact); the current weights stand in until then."""
        best_path = path.with_name("best.pt")
        if best_path.is_file():
            best_state = load_checkpoint(best_path)
            if best_state.get("epoch") == self.best["epoch"]:
                return best_state["model"]
        return {k: v.clone() for k, v in self.model.state_dict().items()}

    # -- small helpers --------------------------------------------------------------------------
    def _steps_per_epoch(self) -> int:
        limit = self.config.limit_batches
        if not _has_length(self.train_loader):
            return limit or 1
        n = len(self.train_loader)  # type: ignore[arg-type]
        return min(n, limit or n)

    def _progress(self, desc: str) -> Any:
        quiet = self.config.quiet or not self.dist.is_main or not sys.stderr.isatty()
        total = self._steps_per_epoch()
        return tqdm(total=total, desc=desc, disable=quiet, leave=False, mininterval=0.5)

    def log(self, message: str) -> None:
        """Print `message` on the main process unless `config.quiet`."""
        if self.dist.is_main and not self.config.quiet:
            print(message, flush=True)

    def _diverged_message(self, what: str, epoch: int) -> str:
        where = "no checkpoint was written"
        if self.out_dir is not None and self.epoch:
            where = f"the last good checkpoint is {self.out_dir / 'last.pt'} (epoch {self.epoch})"
        return (
            f"training stopped: {what} became NaN or infinite in epoch {epoch + 1}; {where}; "
            "try a lower --lr or gradient clipping (--clip 1.0)"
        )


def _has_length(loader: Any) -> bool:
    try:
        len(loader)
    except TypeError:  # a generator, or a DataLoader over an IterableDataset
        return False
    return True


def _set_epoch(loader: Any, epoch: int) -> None:
    """Reshuffle samplers that follow DistributedSampler's `set_epoch` protocol."""
    for obj in (getattr(loader, "batch_sampler", None), getattr(loader, "sampler", None)):
        if hasattr(obj, "set_epoch"):
            obj.set_epoch(epoch)


def _format_record(record: dict[str, Any], epochs: int) -> str:
    """One human-readable line per epoch."""
    parts = [f"epoch {record['epoch']}/{epochs}"]
    for key, value in record.items():
        if key.startswith(("train_", "valid_")):
            parts.append(f"{key.replace('_', ' ')} {value:.4f}")
    parts.append(f"lr {record['lr']:.2e}")
    parts.append(f"{record['time_s']:.1f}s")
    return "  ".join(parts)
