"""Multi-label classification at task level, for classify and finetune alike: which runs and
checkpoints are multi-label, their decision thresholds (a fixed probability, or one per label
tuned for F1 on the validation split), the checks of the settings, and the labels above the
thresholds that `seqlab predict` and the HTTP API answer.

A multi-label model has K sigmoid outputs; label k is predicted when its probability exceeds
`thresholds[k]`. The checkpoint holds the thresholds (`"thresholds"`: K floats): the fixed
`--threshold` repeated, or with `--threshold tune` the ones `TuneThresholds` chose for that
epoch's weights, so evaluate and predict use what validation chose for those very weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from seqlab.data.batching import BucketBatchSampler
from seqlab.errors import SeqlabError
from seqlab.tasks.interfaces import Loaded
from seqlab.train import Callback, Trainer, evaluate
from seqlab.train.metrics import MultiLabelReport, label_report

DEFAULT_THRESHOLD = 0.5
# Candidate thresholds of `tune_thresholds`: 0.01, 0.02, ..., 0.99.
GRID = np.round(np.arange(1, 100) / 100, 2)


def is_multi_label(data: Any) -> bool:
    """Whether a data section (ClassifyData, FinetuneData) is multi-label: `--multi-label`,
    or a data set that is so by itself (GoEmotions)."""
    return bool(data.multi_label) or data.source == "goemotions"


def loaded_is_multi_label(loaded: Loaded) -> bool:
    """Whether a checkpoint's model is multi-label (K sigmoid outputs)."""
    return bool(getattr(getattr(loaded.model, "config", None), "multi_label", False))


def check_run(run: Any) -> None:
    """SeqlabError for multi-label settings that cannot work, before any data is read."""
    d = run.data
    if not is_multi_label(d):
        if d.threshold != DEFAULT_THRESHOLD:
            raise SeqlabError("--threshold is for multi-label runs (--multi-label)")
        if run.train.monitor.endswith(("_f1", "_exact_match")):
            raise SeqlabError(
                f"--monitor {run.train.monitor} is recorded by multi-label runs only "
                "(--multi-label); single-label runs record valid_loss and valid_accuracy"
            )
        return
    if d.source in ("imdb", "trec"):
        raise SeqlabError(
            f"--multi-label reads several labels per text from a data file's label column "
            f"(or --data goemotions); {d.source} has one label per text"
        )
    encoder = getattr(run.model, "encoder", None)
    from seqlab.models.classifier import SINGLE_LABEL_ENCODERS

    if encoder in SINGLE_LABEL_ENCODERS:
        raise SeqlabError(
            f"--model {encoder} cannot be multi-label (its Naive-Bayes ratios contrast two "
            "classes); choose another --model, e.g. gru or cnn"
        )
    if run.train.monitor == "valid_tuned_macro_f1" and d.threshold != "tune":
        raise SeqlabError("--monitor valid_tuned_macro_f1 is recorded with --threshold tune only")
    if run.train.monitor == "valid_accuracy":
        raise SeqlabError(
            "--monitor valid_accuracy is for single-label runs; a multi-label run records "
            "valid_micro_f1, valid_macro_f1 and valid_exact_match (and valid_loss)"
        )


def check_data(run: Any, data: Any) -> None:
    """`--threshold tune` needs a validation split to choose on."""
    if data.multi_label and run.data.threshold == "tune" and not len(data.valid):
        raise SeqlabError(
            "--threshold tune chooses each label's threshold on the validation split, and this "
            "run has none: give validation a share (--valid-fraction, --split) or a number "
            "such as --threshold 0.5"
        )


def initial_thresholds(run: Any, num_labels: int) -> list[float]:
    """The thresholds a checkpoint starts with: `--threshold`, or 0.5 until tuned."""
    t = run.data.threshold
    return [float(DEFAULT_THRESHOLD if t == "tune" else t)] * num_labels


def thresholds_of(loaded: Loaded) -> np.ndarray:
    """A multi-label checkpoint's thresholds (K,) (0.5 each if it holds none)."""
    saved = loaded.state.get("thresholds")
    if saved is None:
        return np.full(len(loaded.label_names), DEFAULT_THRESHOLD)
    return np.asarray(saved, dtype=np.float64)


def tune_thresholds(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per label, the threshold of `GRID` with the highest F1 of `p > t` on these (validation)
    probabilities (N, K) and multi-hot labels (N, K); ties go to the threshold nearest 0.5, and
    a label without positives here keeps 0.5."""
    truth = labels.astype(bool)[None]  # (1, N, K)
    pred = probs[None] > GRID[:, None, None]  # (G, N, K)
    tp = (pred & truth).sum(axis=1)  # (G, K)
    fp = (pred & ~truth).sum(axis=1)
    fn = (~pred & truth).sum(axis=1)
    f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1)  # (G, K)
    # Lexicographic: the best F1, then the smallest distance to 0.5 (exact ties only).
    key = f1 - 1e-9 * np.abs(GRID - DEFAULT_THRESHOLD)[:, None]
    chosen = GRID[key.argmax(axis=0)]
    chosen[truth[0].sum(axis=0) == 0] = DEFAULT_THRESHOLD
    return chosen


@torch.no_grad()
def split_probabilities(
    model: torch.nn.Module, dataset: Any, collate: Any, device: Any, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """The model's sigmoids (N, K) on a data set and its multi-hot labels (N, K), in the data
    set's order, every item once (no DDP sharding: each process sees all of it)."""
    sampler = BucketBatchSampler(dataset.lengths, batch_size, shuffle=False)
    order = [i for batch in sampler for i in batch]
    was_training = model.training
    model.eval()
    out = []
    try:
        for batch in DataLoader(dataset, batch_sampler=sampler, collate_fn=collate):
            batch = {k: v.to(device) for k, v in batch.items() if k != "labels"}
            logits, _ = model(**batch)
            out.append(torch.sigmoid(logits.float()).cpu())
    finally:
        model.train(was_training)
    probs = np.empty((len(dataset), dataset.labels.shape[1]))
    probs[order] = torch.cat(out).double().numpy()
    return probs, dataset.labels


class TuneThresholds(Callback):
    """`--threshold tune`: after each validation, choose every label's threshold on the
    validation split for the epoch's weights and keep them in the checkpoints (`meta`), and
    record the validation macro F1 at them (`valid_tuned_macro_f1`)."""

    def __init__(self, valid: Any, collate: Any, batch_size: int) -> None:
        self.valid, self.collate, self.batch_size = valid, collate, batch_size

    def tune(self, model: torch.nn.Module, device: Any) -> tuple[np.ndarray, float]:
        """The thresholds for `model`'s weights, and the validation macro F1 at them."""
        probs, labels = split_probabilities(
            model, self.valid, self.collate, device, self.batch_size
        )
        thresholds = tune_thresholds(probs, labels)
        return thresholds, macro_f1(probs > thresholds, labels.astype(bool))

    def on_validation(self, trainer: Trainer, record: dict[str, Any]) -> None:
        thresholds, tuned = self.tune(trainer.model, trainer.device)
        trainer.meta["thresholds"] = [float(t) for t in thresholds]
        record["valid_tuned_macro_f1"] = tuned


def macro_f1(pred: np.ndarray, truth: np.ndarray) -> float:
    """The mean over labels of F1 for bool predictions and truth (N, K) (0 where undefined)."""
    tp = (pred & truth).sum(axis=0)
    wrong = (pred ^ truth).sum(axis=0)
    return float((2 * tp / np.maximum(2 * tp + wrong, 1)).mean())


def labels_above(
    probs: torch.Tensor | np.ndarray, thresholds: np.ndarray, names: list[str]
) -> list[list[tuple[str, float]]]:
    """Per row of sigmoids (B, K): (label, probability) of every label above its threshold,
    most probable first."""
    p = np.asarray(probs, dtype=np.float64)
    out = []
    for row in p:
        picked = [(names[k], float(row[k])) for k in np.flatnonzero(row > thresholds)]
        out.append(sorted(picked, key=lambda x: -x[1]))
    return out


def measure(
    model: torch.nn.Module, loader: Any, thresholds: Any, names: list[str], device: Any, **kw: Any
) -> dict[str, Any]:
    """Loss, micro/macro F1 and exact match of `model` on `loader` at `thresholds`, with the
    per-label table (`"per_label"`: threshold, support, precision, recall, F1 of each)."""
    metric = MultiLabelReport(len(names), thresholds)
    metrics = evaluate(model, loader, metric, device, **kw)
    counts = (metrics.pop(k) for k in ("tp", "fp", "fn"))
    metrics["per_label"] = label_report(*counts, names, [float(t) for t in metric.thresholds])
    return metrics


def test_pass(run: Any, data: Any, trainer: Trainer, loader: Any) -> dict[str, Any]:
    """The test figures after training at the checkpoint's thresholds; with `--threshold
    tune` chosen again for the final weights (the best epoch's, if early stopping restored
    them, so they equal that checkpoint's)."""
    thresholds = trainer.meta["thresholds"]
    if run.data.threshold == "tune":
        tuner = TuneThresholds(data.valid, data.encoder.collate, run.train.batch_size)
        thresholds = tuner.tune(trainer.model, trainer.device)[0].tolist()
    kw = {"amp": run.train.amp, "limit": run.train.limit_batches}
    test = measure(trainer.model, loader, thresholds, data.label_names, trainer.device, **kw)
    trainer.log(
        f"test loss {test['loss']:.4f}  test micro F1 {test['micro_f1']:.4f}  test macro F1 "
        f"{test['macro_f1']:.4f}  test exact match {test['exact_match']:.4f}"
    )
    return test


def score(loaded: Loaded, loader: Any, limit_batches: int | None) -> dict[str, Any]:
    """A multi-label checkpoint's figures on `loader` at its own thresholds."""
    thresholds = thresholds_of(loaded)
    names = loaded.label_names
    return measure(loaded.model, loader, thresholds, names, loaded.device, limit=limit_batches)


def decision_thresholds(loaded: Loaded) -> list[float] | None:
    """A multi-label checkpoint's thresholds as a list (K,); None for a single-label one."""
    return thresholds_of(loaded).tolist() if loaded_is_multi_label(loaded) else None
