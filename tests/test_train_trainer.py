"""Trainer on a tiny bag-of-words classifier: learning, schedules, early stopping, resume, NaN."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
from helpers import TinyClassifier, TinyConfig, ToyData, loaders, make_trainer
from torch.utils.data import DataLoader

from seqlab.errors import CheckpointError, SeqlabError
from seqlab.train import Callback, DivergedError, TrainConfig, Trainer, load_checkpoint
from seqlab.train.checkpoint import save_checkpoint


def strip_times(history):
    """History without wall times, for comparing runs."""
    return [{k: v for k, v in r.items() if k != "time_s"} for r in history]


def test_learns_logs_and_checkpoints(tmp_path):
    trainer = make_trainer(tmp_path, epochs=6, optimizer="adam")
    history = trainer.fit()
    assert [r["epoch"] for r in history] == [1, 2, 3, 4, 5, 6]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["valid_accuracy"] >= 0.9
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == history
    state = load_checkpoint(tmp_path / "last.pt", task="classify")
    assert state["epoch"] == 6 and state["model_kind"] == "TinyClassifier"
    assert state["model_config"] == {"vocab_size": 12, "dim": 8, "dropout": 0.0}
    assert state["label_names"] == ["no", "yes"]
    assert state["train_config"]["optimizer"] == "adam"
    # The epoch's reported valid accuracy is the accuracy of the saved weights.
    model = TinyClassifier(TinyConfig())
    model.load_state_dict(state["model"])
    valid = loaders()[1].dataset
    predicted = (model(valid.ids)[0][:, 0] > 0).long()
    assert (predicted == valid.labels).float().mean().item() == pytest.approx(
        history[-1]["valid_accuracy"]
    )


def test_loss_is_the_mean_over_all_examples(tmp_path):
    # An uneven last batch (128 = 3 * 40 + 8) must be weighted by its size, not as one batch.
    trainer = make_trainer(tmp_path, epochs=1, lr=1e-9, batch_size=40)
    trainer.train_loader = DataLoader(trainer.train_loader.dataset, batch_size=40)
    record = trainer.fit()[0]
    data = trainer.train_loader.dataset
    with torch.no_grad():
        _, loss = trainer.model(ids=data.ids, labels=data.labels)
    assert record["train_loss"] == pytest.approx(loss.item(), rel=1e-5)


class Crash(Callback):
    """Simulates a crash right after epoch `after` was saved."""

    def __init__(self, after: int) -> None:
        self.after = after

    def on_epoch_end(self, trainer, record):
        if record["epoch"] == self.after:
            raise RuntimeError("simulated crash")


@pytest.mark.parametrize("schedule", ["cosine", "plateau", "exp"])
def test_resume_continues_exactly(tmp_path, schedule):
    kwargs = {"schedule": schedule, "dropout": 0.3, "decay_after": 1, "clip": 1.0}
    full = make_trainer(tmp_path / "full", **kwargs).fit()
    with pytest.raises(RuntimeError, match="simulated crash"):
        make_trainer(tmp_path / "cut", callbacks=[Crash(2)], **kwargs).fit()
    before = load_checkpoint(tmp_path / "cut" / "last.pt")["train_wall_s"]  # 2 epochs' time
    resumed = make_trainer(tmp_path / "cut", **kwargs)
    history = resumed.fit(resume=tmp_path / "cut" / "last.pt")
    assert strip_times(history) == strip_times(full)
    a = load_checkpoint(tmp_path / "full" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "cut" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    log = [json.loads(x) for x in (tmp_path / "cut" / "log.jsonl").read_text().splitlines()]
    assert strip_times(log) == strip_times(full)
    # The run's training time covers the epochs before the crash too, not only the resumed ones.
    assert before >= sum(r["time_s"] for r in history[:2]) > 0
    assert resumed.train_wall_s >= before + sum(r["time_s"] for r in history[2:])


def test_early_stopping_restores_best_weights(tmp_path):
    # The validation labels are flipped: the better the model fits training data, the worse the
    # validation loss, so epoch 1 is best and training stops after `patience` more epochs.
    trainer = make_trainer(tmp_path, epochs=10, patience=2, flip_valid=True, optimizer="sgd")
    history = trainer.fit()
    losses = [r["valid_loss"] for r in history]
    assert len(history) == 3 and losses[0] == min(losses)
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["epoch"] == 1
    state = trainer.model.state_dict()
    assert all(torch.equal(state[k], best["model"][k]) for k in state)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    class Poison(Callback):
        def on_epoch_end(self, trainer, record):
            if record["epoch"] == 2:
                with torch.no_grad():
                    trainer.model.out.bias.fill_(math.nan)

    trainer = make_trainer(tmp_path, callbacks=[Poison()])
    with pytest.raises(DivergedError, match=r"NaN or infinite in epoch 3.*last\.pt \(epoch 2\)"):
        trainer.fit()
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["epoch"] == 2
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_checkpoint_of_another_model_is_refused(tmp_path):
    make_trainer(tmp_path, epochs=1).fit()
    torch.manual_seed(0)
    other = TinyClassifier(TinyConfig(dim=4))
    trainer = Trainer(other, TrainConfig(quiet=True), loaders()[0], meta={"task": "classify"})
    with pytest.raises(CheckpointError, match="config differs in dim"):
        trainer.fit(resume=tmp_path / "last.pt")
    with pytest.raises(CheckpointError, match="'classify' checkpoint, not 'lm'"):
        load_checkpoint(tmp_path / "last.pt", task="lm")
    with pytest.raises(CheckpointError, match=r"other settings \(optimizer, lr\)"):
        make_trainer(tmp_path, optimizer="sgd", lr=0.1).fit(resume=tmp_path / "last.pt")


def test_truncated_foreign_and_unsafe_files_are_refused(tmp_path):
    make_trainer(tmp_path, epochs=1).fit()
    data = (tmp_path / "last.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(tmp_path / "cut.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a seqlab checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    torch.save({"config": TinyConfig()}, tmp_path / "pickled.pt")  # a class instance
    with pytest.raises(CheckpointError, match="other than plain data") as refused:
        load_checkpoint(tmp_path / "pickled.pt")
    # One line, and never torch's advice to load with weights_only=False (running the code).
    assert "\n" not in str(refused.value) and "weights_only" not in str(refused.value)
    assert "GLOBAL" in str(refused.value)  # what was found
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_atomic_save_leaves_no_temporary_files(tmp_path):
    save_checkpoint(tmp_path / "a.pt", {"x": torch.ones(3)})
    save_checkpoint(tmp_path / "a.pt", {"x": torch.zeros(3)})
    assert [p.name for p in tmp_path.iterdir()] == ["a.pt"]
    assert torch.equal(torch.load(tmp_path / "a.pt", weights_only=True)["x"], torch.zeros(3))


def test_format_1_checkpoints_get_the_new_cell_names(tmp_path):
    """Format 1 named input weights W and recurrent ones U; loading swaps them (eq. 10.8 names)."""
    from seqlab.models import LanguageModelConfig, language_model
    from seqlab.train.checkpoint import load_checkpoint, load_model_weights

    torch.manual_seed(0)
    for arch in ("rnn", "lstm", "gru"):
        cfg = LanguageModelConfig(30, arch=arch, embed_dim=8, hidden_size=8, num_layers=2)
        model = language_model(cfg).eval()
        swap = {"W": "U", "U": "W", "b_W": "b_U"}
        old = {}
        for key, value in model.state_dict().items():
            parts = key.split(".")
            if "cells" in parts:
                i = parts.index("cells") + 2
                parts[i] = swap.get(parts[i], parts[i])
            old[".".join(parts)] = value
        state = {"format_version": 1, "model_kind": "LanguageModel", "task": "lm",
                 "model_config": dataclasses.asdict(cfg), "model": old}  # fmt: skip
        torch.save(state, tmp_path / "old.pt")
        loaded = load_checkpoint(tmp_path / "old.pt")
        fresh = language_model(cfg).eval()
        load_model_weights(fresh, loaded["model"], "old.pt")
        tokens = torch.randint(1, 30, (2, 5))
        torch.testing.assert_close(fresh(tokens)[0], model(tokens)[0])


def test_a_callback_metric_with_a_declared_mode_picks_the_best_epoch(tmp_path):
    """Metrics from decoded text (BLEU, say) are added by `on_validation`, before the best
    epoch is chosen; `monitor_mode` says that higher is better, nothing guesses from the name."""
    scores = iter([0.2, 0.9, 0.5])  # epoch 2 is the best, although its loss need not be

    class Score(Callback):
        def on_validation(self, trainer, record):
            record["valid_score"] = next(scores)

    with pytest.raises(SeqlabError, match="monitor_mode"):
        TrainConfig(monitor="valid_score")
    cfg = TrainConfig(epochs=3, monitor="valid_score", monitor_mode="max", quiet=True)
    torch.manual_seed(0)
    trainer = Trainer(
        TinyClassifier(TinyConfig()),
        cfg,
        DataLoader(ToyData(64, seed=1), batch_size=16),
        DataLoader(ToyData(32, seed=2), batch_size=16),
        out_dir=tmp_path,
        callbacks=[Score()],
    )
    history = trainer.fit()
    assert [r["valid_score"] for r in history] == [0.2, 0.9, 0.5]
    assert trainer.best["epoch"] == 2
    assert load_checkpoint(tmp_path / "best.pt")["epoch"] == 2
    assert TrainConfig(monitor="valid_accuracy").monitor_mode == "max"
    assert TrainConfig().monitor_mode == "min"


class CrashingLoader:
    """A loader that raises after `after` batches in all (a run killed inside an epoch)."""

    def __init__(self, loader, after: int) -> None:
        self.loader, self.after, self.seen = loader, after, 0
        self.batch_sampler = getattr(loader, "batch_sampler", None)  # reshuffled by set_epoch

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for batch in self.loader:
            if self.seen == self.after:
                raise RuntimeError("simulated kill")
            self.seen += 1
            yield batch


def bucketed(trainer):
    """`trainer` with the tasks' length-bucketed loader (its order: seed + epoch, set_epoch)."""
    from seqlab.tasks.base import make_loader

    data = trainer.train_loader.dataset
    data.lengths = torch.full((len(data),), data.ids.size(1))
    trainer.train_loader = make_loader(data, 16, shuffle=True, seed=3, collate=None)
    return trainer


@pytest.mark.parametrize("accumulate, loader", [(1, "torch"), (2, "torch"), (1, "bucketed")])
def test_a_run_killed_inside_an_epoch_resumes_there_exactly(tmp_path, accumulate, loader):
    """--save-every N: last.pt inside the epoch; resuming from it gives the weights, history and
    log of the unbroken run (shuffling from torch's RNG or by the tasks' bucket sampler,
    dropout and a per-batch schedule)."""
    kwargs = {"dropout": 0.3, "schedule": "cosine", "save_every": 1, "accumulate": accumulate}

    def trainer(out):
        t = make_trainer(out, **kwargs)
        return bucketed(t) if loader == "bucketed" else t

    full = trainer(tmp_path / "full").fit()
    cut = trainer(tmp_path / "cut")
    cut.train_loader = CrashingLoader(cut.train_loader, after=13)  # 8 batches an epoch
    with pytest.raises(RuntimeError, match="simulated kill"):
        cut.fit()
    state = load_checkpoint(tmp_path / "cut" / "last.pt")
    assert state["epoch"] == 1 and state["partial"]["batches"] == (5 if accumulate == 1 else 4)
    resumed = trainer(tmp_path / "cut")
    history = resumed.fit(resume=tmp_path / "cut" / "last.pt")
    assert strip_times(history) == strip_times(full)
    a = load_checkpoint(tmp_path / "full" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "cut" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert "partial" not in load_checkpoint(tmp_path / "cut" / "last.pt")  # epoch ends clean


def test_save_every_needs_a_loader_with_a_length(tmp_path):
    train, valid = loaders()
    with pytest.raises(SeqlabError, match="a train loader with a length"):
        Trainer(TinyClassifier(TinyConfig()), TrainConfig(save_every=2), (b for b in train), valid)


def test_early_stopping_resumed_inside_an_epoch_keeps_the_best_epoch(tmp_path):
    """Killed inside epoch 2 after epoch 1 was the best (flipped valid labels: the validation
    loss rises), the resumed run still ends on epoch 1's weights, as the unbroken run does."""
    kwargs = {"flip_valid": True, "patience": 2, "save_every": 1}
    full = make_trainer(tmp_path / "full", **kwargs)
    history = full.fit()
    assert full.best["epoch"] == 1 and len(history) == 3
    cut = make_trainer(tmp_path / "cut", **kwargs)
    cut.train_loader = CrashingLoader(cut.train_loader, after=13)  # inside epoch 2
    with pytest.raises(RuntimeError, match="simulated kill"):
        cut.fit()
    resumed = make_trainer(tmp_path / "cut", **kwargs)
    assert strip_times(resumed.fit(resume=tmp_path / "cut" / "last.pt")) == strip_times(history)
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_truncated_bptt_resumed_inside_an_epoch_continues_the_text(tmp_path):
    """The carried recurrent state is part of a checkpoint taken inside an epoch."""
    from seqlab.models import LanguageModelConfig, language_model
    from seqlab.tasks.lm import batches
    from seqlab.train import CarryState, Perplexity

    stream = torch.randint(1, 20, (2000,), generator=torch.Generator().manual_seed(0))

    def trainer(out, crash=None):
        torch.manual_seed(0)
        config = LanguageModelConfig(20, "lstm", 8, 8, 1, dropout=0.2)
        cfg = TrainConfig(epochs=2, lr=1e-2, quiet=True, save_every=3, batch_size=4)
        train = batches(stream, 4, 10)  # 50 windows
        loader = train if crash is None else CrashingLoader(train, crash)
        return Trainer(language_model(config), cfg, loader, batches(stream[:400], 2, 10),
                       metric=Perplexity(), out_dir=out, meta={"task": "lm"},
                       forward=CarryState())  # fmt: skip

    full = trainer(tmp_path / "full").fit()
    with pytest.raises(RuntimeError, match="simulated kill"):
        trainer(tmp_path / "cut", crash=70).fit()
    assert load_checkpoint(tmp_path / "cut" / "last.pt")["partial"]["batches"] == 18
    history = trainer(tmp_path / "cut").fit(resume=tmp_path / "cut" / "last.pt")
    assert strip_times(history) == strip_times(full)
