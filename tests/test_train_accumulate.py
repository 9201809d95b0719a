"""Generic Trainer features fine-tuning needs: gradient accumulation and no in-memory copy of the
best weights without early stopping (the linear schedule and layer decay are tested with the
other optimizer settings in test_train_optim.py)."""

from __future__ import annotations

import pytest
import torch
from helpers import TinyClassifier, TinyConfig, ToyData, make_trainer
from torch.utils.data import DataLoader

from seqlab.train import TrainConfig, Trainer


def train_weights(batch_size: int, accumulate: int, n: int = 96) -> dict[str, torch.Tensor]:
    """Weights after one epoch of SGD on n fixed examples (no shuffling, no dropout)."""
    torch.manual_seed(0)
    model = TinyClassifier(TinyConfig())
    cfg = TrainConfig(
        epochs=1, optimizer="sgd", lr=0.5, batch_size=batch_size, accumulate=accumulate,
        quiet=True, device="cpu",
    )  # fmt: skip
    loader = DataLoader(ToyData(n, seed=1), batch_size=batch_size, shuffle=False)
    Trainer(model, cfg, loader).fit()
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_accumulating_k_batches_equals_one_k_times_larger_batch():
    big = train_weights(batch_size=24, accumulate=1)
    small = train_weights(batch_size=8, accumulate=3)
    for k in big:
        torch.testing.assert_close(small[k], big[k])


def test_a_shorter_last_accumulation_is_a_mean_too():
    # 96 = 2 * 40 + 16: the last step averages 2 batches of 8, as a batch of 16 would.
    big = train_weights(batch_size=40, accumulate=1, n=96)
    small = train_weights(batch_size=8, accumulate=5, n=96)
    for k in big:
        torch.testing.assert_close(small[k], big[k])


def test_per_batch_schedules_count_optimizer_steps(tmp_path):
    trainer = make_trainer(
        tmp_path, epochs=2, optimizer="adam", schedule="linear", warmup=0, accumulate=4
    )
    trainer.fit()
    weight = trainer.model.out.weight
    # 128 examples / 16 per batch = 8 batches = 2 steps per epoch (Adam counts its steps).
    assert trainer.optimizer.state[weight]["step"].item() == 2 * 2
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.0)  # decayed to zero


def test_no_copy_of_the_best_weights_without_early_stopping(tmp_path):
    trainer = make_trainer(tmp_path, epochs=3)
    trainer.fit()
    assert trainer.best_weights is None  # best.pt on disk is the only copy
    assert (tmp_path / "best.pt").is_file() and trainer.best["epoch"] >= 1
    stopping = make_trainer(tmp_path / "es", epochs=3, patience=2)
    stopping.fit()
    assert stopping.best_weights is not None
