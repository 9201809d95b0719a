"""One pass over a loader, written once for training and evaluation: the loss and a Metric's
counts summed on the device and over all processes."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

from seqlab.train.checkpoint import set_rng_state
from seqlab.train.device import autocast
from seqlab.train.distributed import all_reduce_sum
from seqlab.train.forward import Forward
from seqlab.train.metrics import Accuracy, Metric


def model_spec(model: torch.nn.Module) -> tuple[str, dict[str, Any]]:
    """(kind, config dict) that `seqlab.models.model_from_config` rebuilds the model from."""
    config = getattr(model, "config", None)
    cfg = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else {}
    return type(model).__name__, cfg


def run_epoch(
    model: torch.nn.Module,
    loader: Iterable[dict[str, torch.Tensor]],
    metric: Metric,
    device: torch.device,
    *,
    step: Callable[[torch.Tensor], None] | None = None,
    forward: Forward | None = None,
    amp: bool = False,
    limit: int | None = None,
    bar: Any = None,
    log_every: int = 20,
    resume: dict[str, Any] | None = None,
    after_batch: Callable[[int, Callable[[], dict[str, Any]]], None] | None = None,
) -> dict[str, float]:
    """One pass over `loader`; `step(loss)` updates the weights when training.

    `after_batch(done, partial)` is called after each batch with the number of batches done and
    a function giving what a checkpoint needs to continue the pass there (`partial()`: the
    running sums on the CPU and the forward's state). `resume` is such a dict plus "rng" (the
    generators' state when it was taken): its batches are skipped (the loader gives them in
    the same order), the sums and state restored and the generators set back, so the pass
    ends as an unbroken one would.

    `forward(model, batch)` runs the model (default: `model(**batch)`; see seqlab.train.forward).
    A model may return `logits=None` when it computes the loss without them (an adaptive
    softmax); the metric is then given None and must not need them (Perplexity does not).

    Returns the per-target mean "loss" plus the metric's summary, summed over all processes.
    Losses are accumulated on the device and synced only every `log_every` steps, so a GPU
    is not stalled by a `.item()` per batch.
    """

    def zero() -> torch.Tensor:
        return torch.zeros((), device=device, dtype=torch.float64)

    forward = forward or Forward()
    forward.start()
    shapes = getattr(metric, "shapes", {})
    # Present even if this process gets no batch, so every process all-reduces the same sizes.
    totals = {k: zero().expand(shapes.get(k, ())).clone() for k in metric.keys}
    loss_sum = zero()
    skip = 0 if resume is None else resume["batches"]
    if resume is not None:
        loss_sum += resume["loss_sum"]
        totals = {k: v + resume["totals"][k].to(device) for k, v in totals.items()}
        forward.load_state_dict(resume["forward"], device)
    for i, batch in enumerate(loader):
        if limit is not None and i >= limit:
            break
        if i < skip:
            if i == skip - 1:  # the RNG as the run left it, before batch `skip` is fetched
                set_rng_state(resume["rng"])
                if bar is not None:
                    bar.update(skip)
            continue
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        with autocast(device, amp):
            logits, loss = forward(model, batch)
        if step is not None:
            step(loss)
        counts = metric.counts(None if logits is None else logits.detach(), batch)
        loss_sum += loss.detach().double() * counts["count"].to(device)
        for k, v in counts.items():
            totals[k] = totals[k] + v.to(device, torch.float64)
        if bar is not None:
            bar.update()
            if (i + 1) % log_every == 0:
                running = (loss_sum / totals["count"]).item()
                bar.set_postfix(loss=f"{running:.4f}")
                if not math.isfinite(running) and not torch.distributed.is_initialized():
                    break  # the caller reports it; no point finishing the epoch
        if after_batch is not None:

            def partial(done: int = i + 1, sums: Any = (loss_sum, totals)) -> dict[str, Any]:
                return {
                    "batches": done,
                    "loss_sum": sums[0].cpu(),
                    "totals": {k: v.cpu() for k, v in sums[1].items()},
                    "forward": forward.state_dict(),
                }

            after_batch(i + 1, partial)
    names = sorted(totals)
    flat = [loss_sum.view(1), *(totals[k].reshape(-1) for k in names)]
    packed = all_reduce_sum(torch.cat(flat)).cpu()
    summed: dict[str, Any] = {}
    offset = 1
    for k in names:  # unpack: scalars as floats, shaped counts as tensors
        n = totals[k].numel()
        part = packed[offset : offset + n]
        summed[k] = part.view(totals[k].shape) if totals[k].dim() else part.item()
        offset += n
    mean_loss = packed[0].item() / max(1.0, summed.get("count", 0.0))
    return {"loss": mean_loss, **metric.summarize(mean_loss, summed)}


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    loader: Iterable[dict[str, torch.Tensor]],
    metric: Metric | None = None,
    device: torch.device | str = "cpu",
    *,
    forward: Forward | None = None,
    amp: bool = False,
    limit: int | None = None,
) -> dict[str, float]:
    """Mean loss and metrics of `model` over `loader`, in eval mode, without gradients."""
    was_training = model.training
    model.eval()
    try:
        metric = metric or Accuracy()
        dev = torch.device(device)
        return run_epoch(model, loader, metric, dev, forward=forward, amp=amp, limit=limit)
    finally:
        model.train(was_training)
