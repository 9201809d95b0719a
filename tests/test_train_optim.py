"""Optimizers and learning-rate schedules against their textbook formulas."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from seqlab.errors import SeqlabError
from seqlab.train.config import OPTIMIZERS, TrainConfig
from seqlab.train.optim import build_optimizer, build_scheduler


def small_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Embedding(5, 3), nn.Linear(3, 2))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_weight_decay_only_on_matrices(name):
    opt = build_optimizer(small_model(), TrainConfig(optimizer=name, weight_decay=0.1))
    decayed = {g["weight_decay"]: [tuple(p.shape) for p in g["params"]] for g in opt.param_groups}
    assert decayed == {0.1: [(5, 3), (2, 3)], 0.0: [(2,)]}


def test_sgd_momentum_step_matches_the_update_rule():
    # v <- mu v + g; p <- p - lr v (PyTorch's form of Polyak momentum), two steps.
    model = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -1.0]]))
    opt = build_optimizer(model, TrainConfig(optimizer="sgd", lr=0.1, momentum=0.9))
    x = torch.tensor([[1.0, 2.0]])
    p, v = model.weight.detach().clone(), torch.zeros(1, 2)
    for _ in range(2):
        opt.zero_grad()
        (model(x) ** 2).sum().backward()
        g = 2 * (p @ x.T) * x
        v = 0.9 * v + g
        p = p - 0.1 * v
        opt.step()
    assert torch.allclose(model.weight, p)


def test_rmsprop_uses_keras_rho():
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(1.0)
    opt = build_optimizer(model, TrainConfig(optimizer="rmsprop", lr=0.01))
    model(torch.ones(1, 1)).sum().backward()  # gradient 1
    opt.step()
    # Keras RMSprop: s = rho s + (1 - rho) g^2 with rho = 0.9; p -= lr g / (sqrt(s) + eps)
    expected = 1.0 - 0.01 / (math.sqrt(0.1) + 1e-7)
    assert model.weight.item() == pytest.approx(expected, rel=1e-6)


def epoch_lrs(cfg: TrainConfig, steps_per_epoch: int = 1, valid_losses=None) -> list[float]:
    """The lr in use during each epoch (first batch) under `cfg`'s schedule."""
    opt = build_optimizer(small_model(), cfg)
    schedule = build_scheduler(opt, cfg, steps_per_epoch)
    lrs = []
    for epoch in range(cfg.epochs):
        lrs.append(opt.param_groups[0]["lr"])
        for _ in range(steps_per_epoch):
            opt.step()
            schedule.after_batch()
        schedule.after_epoch(valid_losses[epoch] if valid_losses else None)
    return lrs


def test_exponential_decay_after_five_epochs():
    # Keras: `lr if epoch < 5 else lr * exp(-0.1)`, applied each epoch from the sixth on.
    lrs = epoch_lrs(TrainConfig(epochs=8, lr=1.0, schedule="exp", decay_after=5))
    expected = [1.0] * 5 + [math.exp(-0.1 * k) for k in (1, 2, 3)]
    assert lrs == pytest.approx(expected)


def test_step_schedule():
    lrs = epoch_lrs(TrainConfig(epochs=5, lr=1.0, schedule="step", step_size=2, gamma=0.1))
    assert lrs == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01])


def test_plateau_halves_after_patience():
    cfg = TrainConfig(epochs=5, lr=1.0, schedule="plateau", plateau_patience=1)
    lrs = epoch_lrs(cfg, valid_losses=[1.0, 0.9, 0.95, 0.97, 0.8])
    assert lrs == pytest.approx([1.0, 1.0, 1.0, 1.0, 0.5])


def batch_lrs(cfg: TrainConfig, steps: int = 20) -> list[float]:
    """The learning rate of each of `steps` batches of one epoch under a per-batch schedule."""
    opt = build_optimizer(small_model(), cfg)
    schedule = build_scheduler(opt, cfg, steps_per_epoch=steps)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.after_batch()
    return lrs


def test_cosine_with_warmup_per_batch():
    lrs = batch_lrs(TrainConfig(epochs=1, lr=1.0, schedule="cosine", warmup=4))
    assert lrs[:5] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    k = 10  # half a cosine over the 16 steps after warm-up: lr = (1 + cos(pi (k - 4) / 16)) / 2
    assert lrs[k] == pytest.approx(0.5 * (1 + math.cos(math.pi * (k - 4) / 16)))
    assert all(a > b for a, b in zip(lrs[4:], lrs[5:], strict=False))


def test_linear_schedule_warms_up_then_decays_to_zero():
    lrs = batch_lrs(TrainConfig(epochs=1, lr=1.0, schedule="linear", warmup=4))
    assert lrs[:5] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert lrs[4:] == pytest.approx([1 - k / 16 for k in range(16)])


def test_bad_settings_name_the_choices():
    with pytest.raises(SeqlabError, match="adagrad, rmsprop, adam"):
        TrainConfig(optimizer="adamax")
    with pytest.raises(SeqlabError, match="valid: .*batch_size"):
        TrainConfig.from_dict({"batchsize": 3})


def test_layer_decay_without_layer_groups_is_an_error_not_ignored():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    build_optimizer(model, TrainConfig(layer_decay=1.0))  # the default: fine
    with pytest.raises(SeqlabError, match="layer-decay"):
        build_optimizer(model, TrainConfig(layer_decay=0.9))
    with pytest.raises(SeqlabError, match="layer_decay"):
        TrainConfig(layer_decay=0.0)
    with pytest.raises(SeqlabError, match="accumulate"):
        TrainConfig(accumulate=0)
