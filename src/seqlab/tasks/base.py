"""The task skeleton, written once: train / resume / evaluate / results.json for every task.

A task (classify, lm, translate, finetune: one module each, `TASK = SomeTask()`) supplies what
differs - its run config class, data, model builder, loaders, metric, forward hook, callbacks,
test pass and extra results - and `Task.train` does the rest. `load(checkpoint)` (in
seqlab.tasks) returns a `Loaded`: the task, the model ready for inference, its text encoders,
label names and saved run config, which every command and a server can hold and call.

What a task can do beyond training and evaluation is an explicit interface it implements
(`Classifies`, `Generates`, `Translates`), checked by the commands, never a method that raises.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch.utils.data import DataLoader

from seqlab.atomic import write_text_atomic
from seqlab.config import changed_settings, config_from_dict, flag_of, nest, replaced, to_dict
from seqlab.data import BucketBatchSampler, pad_collate
from seqlab.errors import CheckpointError, SeqlabError
from seqlab.tasks.interfaces import (  # noqa: F401 - the task API, importable from here
    Classifies,
    EvaluatesWithCache,
    Generates,
    Loaded,
    Translates,
    require,
)
from seqlab.train import Callback, Forward, Metric, Trainer, load_checkpoint
from seqlab.train.device import seed_everything
from seqlab.train.distributed import dist_info
from seqlab.train.run_dir import claim_run_dir


@dataclass
class TrainResult:
    """What a training run produced; `results` is what OUT/results.json holds."""

    model: torch.nn.Module
    data: Any
    history: list[dict[str, Any]]
    test: dict[str, Any] | None
    params: int
    train_wall_s: float
    results: dict[str, Any] = field(default_factory=dict)


def split_sizes(data: Any, noun: str) -> str:
    """ "N train / N valid / N test NOUN" of data with train, valid and test splits."""
    return f"{len(data.train):,} train / {len(data.valid):,} valid / {len(data.test):,} test {noun}"


def make_loader(
    dataset: Any,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int = 0,
    collate: Any = pad_collate,
) -> DataLoader:
    """Length-bucketed batches of a data set with `.lengths` (texts or translation pairs),
    sharded over DDP processes when run under torchrun."""
    info = dist_info()
    if info.enabled and not shuffle:
        # Evaluation: each process takes every R-th batch, without the repeated batches that
        # keep training steps in lockstep, so every example is counted exactly once.
        batches = list(BucketBatchSampler(dataset.lengths, batch_size, shuffle=False))
        shard = batches[info.rank :: info.world_size]
        return DataLoader(dataset, batch_sampler=shard, collate_fn=collate)
    sampler = BucketBatchSampler(
        dataset.lengths,
        batch_size,
        shuffle=shuffle,
        seed=seed,
        num_replicas=info.world_size,
        rank=info.rank,
    )
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)


# Tokenizers that lower-case every text themselves (torchtext's basic_english does).
LOWER_CASING_TOKENIZERS = ("basic_english",)


def check_case(data: Any) -> None:
    """SeqlabError for a data section that asks to keep the case (`lower` false) with a
    tokenizer that lower-cases anyway: the run would train on lower-cased text all the same
    (a cased translation run would report case-sensitive BLEU of lower-cased output)."""
    tokenizer, lower = getattr(data, "tokenizer", None), getattr(data, "lower", True)
    if tokenizer in LOWER_CASING_TOKENIZERS and not lower:
        raise SeqlabError(
            f"--tokenizer {tokenizer} lower-cases every text, so the case cannot be kept: give "
            "--lower, or keep the case with --tokenizer whitespace, bpe or spacy"
        )


class Task:
    """What every task shares. Subclasses set the class attributes and implement the hooks
    marked "task:"; `train`, `saved_run` and `load`'s rebuilding are written once here."""

    name: ClassVar[str]
    run_class: ClassVar[type]  # a dataclass with sections data, model, train[, decode]
    # Checkpoint keys of the text encoders this task saves (input first).
    encoder_keys: ClassVar[tuple[str, ...]] = ("encoder",)
    # Sections a resumed run must share with its checkpoint; the others (train, decode) may
    # change, e.g. more epochs or another beam width.
    resume_sections: ClassVar[tuple[str, ...]] = ("data", "model")
    splits: ClassVar[tuple[str, ...]] = ("train", "valid", "test")
    use: ClassVar[str] = "seqlab evaluate CHECKPOINT"  # how its checkpoints are used
    # Options of `evaluate` beyond the common ones (split, data, batch size, limit).
    evaluate_options: ClassVar[tuple[str, ...]] = ()
    size_names: ClassVar[tuple[str, ...]] = ()  # the keys of `sizes`
    # Data fields that choose a subset: `--limit` sets them; another data set drops them.
    subset_fields: ClassVar[tuple[str, ...]] = ()

    # -- task: data, model, loaders -------------------------------------------------------------
    def check(self, run: Any) -> None:
        """task: SeqlabError for settings that cannot work, before any data is read (each
        field's own range is checked as the run is read: `seqlab.config.Rule`)."""

    def check_data(self, run: Any, data: Any) -> None:
        """task: SeqlabError for settings the data cannot serve (one class, an empty split),
        before the model is built."""

    def load_data(self, run: Any) -> Any:
        """task: the run's data (splits, fitted encoders)."""
        raise NotImplementedError

    def sizes(self, data: Any) -> dict[str, int]:
        """task: the model sizes the data decides (vocabulary sizes, number of classes)."""
        raise NotImplementedError

    def make_model(self, run: Any, **sizes: int) -> torch.nn.Module:
        """task: a fresh model for the run's model section and `sizes`."""
        raise NotImplementedError

    def build_model(self, run: Any, data: Any) -> torch.nn.Module:
        """A fresh model for the run and its data."""
        return self.make_model(run, **self.sizes(data))

    def prepare(self, model: torch.nn.Module, data: Any) -> None:
        """task: data-dependent set-up of a new (not resumed) model before training."""

    def saved_state(self, run: Any, data: Any) -> dict[str, Any]:
        """task: what a checkpoint needs besides the config to rebuild the inputs (encoders
        under `encoder_keys`, label names)."""
        raise NotImplementedError

    def loaders(self, run: Any, data: Any) -> tuple[Any, Any | None]:
        """task: the training batches and the validation batches (None: no validation)."""
        raise NotImplementedError

    def metric(self) -> Metric:
        """task: the metric of training and validation."""
        raise NotImplementedError

    def run_metric(self, run: Any, data: Any) -> Metric:
        """task: the metric of training and validation when it depends on the run or its data
        (multi-label classification: its labels and threshold); default `metric()`."""
        return self.metric()

    def forward(self) -> Forward | None:
        """task: how a batch is run (None: `model(**batch)`)."""
        return None

    def callbacks(self, run: Any, data: Any) -> list[Callback]:
        """task: callbacks of the Trainer."""
        return []

    def describe(self, run: Any, data: Any, model: torch.nn.Module, params: int) -> str:
        """task: the first log line: the model and the data sizes."""
        raise NotImplementedError

    def test(self, run: Any, data: Any, trainer: Trainer) -> tuple[dict[str, Any] | None, dict]:
        """task: the test pass after training: (metrics or None, files {name: text} to write
        beside results.json)."""
        raise NotImplementedError

    def extra_results(self, run: Any, data: Any, result: TrainResult) -> dict[str, Any]:
        """task: fields of results.json beyond history, test, params and training time."""
        return {}

    def write_outputs(self, out_dir: Path, result: TrainResult) -> None:
        """task: more files from a finished run (e.g. plots)."""

    # -- the skeleton ---------------------------------------------------------------------------
    def train(
        self,
        run: Any,
        out_dir: str | Path | None = None,
        *,
        resume: bool = False,
        overwrite: bool = False,
        data: Any = None,
    ) -> TrainResult:
        """Train, test, and write OUT/results.json (and the task's other files).

        `data` skips loading when many runs share one data set (it must be what
        `load_data(run)` returns; studies pass it to train dozens of models on the same
        splits). `resume` continues OUT/last.pt if there is one; its data and model sections
        must be the run's (`resume_sections`). OUT is locked while the run trains, and another
        run in it is refused unless `resume` continues it or `overwrite` replaces it
        (`seqlab.train.run_dir`)."""
        check_case(run.data)
        self.check(run)  # before hours of training, not after
        with claim_run_dir(out_dir, resume=resume, overwrite=overwrite):
            return self._train(run, out_dir, resume, data)

    def _train(self, run: Any, out_dir: str | Path | None, resume: bool, data: Any) -> TrainResult:
        """`train` in a folder this run holds."""
        if data is None:
            data = self.load_data(run)
        self.check_data(run, data)
        seed_everything(run.train.seed)
        model = self.build_model(run, data)
        checkpoint = self._resume_from(run, out_dir, resume)
        if checkpoint is None:  # a resumed run takes its fitted state from the checkpoint
            self.prepare(model, data)
        config = {k: v for k, v in to_dict(run).items() if k != "train"}
        meta = {"task": self.name, "config": config, **self.saved_state(run, data)}
        train_loader, valid_loader = self.loaders(run, data)
        trainer = Trainer(
            model,
            run.train,
            train_loader,
            valid_loader,
            metric=self.run_metric(run, data),
            out_dir=out_dir,
            meta=meta,
            callbacks=self.callbacks(run, data),
            forward=self.forward(),
        )
        params = sum(p.numel() for p in model.parameters())
        trainer.log(self.describe(run, data, model, params))
        if resume and checkpoint is None:
            where = Path(out_dir) / "last.pt" if out_dir is not None else None
            trainer.log(f"--resume: no checkpoint at {where}; starting from scratch")
        history = trainer.fit(resume=checkpoint)
        wall = trainer.train_wall_s  # all of the run's training, resumptions included
        test, files = self.test(run, data, trainer)
        result = TrainResult(model, data, history, test, params, wall)
        result.results = {"history": history}
        if test is not None:
            result.results["test"] = test
        result.results |= {"params": params, "train_wall_s": wall}
        result.results |= self.extra_results(run, data, result)
        result.results |= {"config": config, "train_config": run.train.to_dict()}
        if out_dir is not None and trainer.dist.is_main:
            out = Path(out_dir)
            for name, text in files.items():
                write_text_atomic(out / name, text)
            text = json.dumps(result.results, indent=1) + "\n"
            write_text_atomic(out / "results.json", text)
            self.write_outputs(out, result)
        return result

    def _resume_from(self, run: Any, out_dir: str | Path | None, resume: bool) -> Path | None:
        """OUT/last.pt if `resume` and it exists and was trained with the same data and model
        settings; None if there is none."""
        if not resume:
            return None
        checkpoint = Path(out_dir) / "last.pt" if out_dir is not None else None
        if checkpoint is None or not checkpoint.is_file():
            return None
        saved = self.saved_run(load_checkpoint(checkpoint, task=self.name), checkpoint)
        changed = changed_settings(saved, run, self.resume_sections)
        if changed:
            raise CheckpointError(
                f"{checkpoint} was trained with other settings ({', '.join(self._named(changed))}"
                "); use the original options or another --out"
            )
        return checkpoint

    def _named(self, dotted: list[str]) -> list[str]:
        """'model.hidden_size' -> '--hidden (model.hidden_size)': what the user typed."""
        sections = typing.get_type_hints(self.run_class)
        out = []
        for name in dotted:
            sec, key = name.split(".")
            f = {f.name: f for f in dataclasses.fields(sections[sec])}[key]
            out.append(f"{flag_of(f)} ({name})")
        return out

    def saved_run(self, state: dict[str, Any], path: str | Path) -> Any:
        """The run config stored in a checkpoint. Settings added since it was written take
        their defaults; checkpoints from before the nested configs (a flat "data" dict of
        option names) are read through the option table; unknown settings are an error."""
        source = f"checkpoint {path}"
        if "config" in state:
            sections = dict(state["config"])
        else:
            sections = nest(self.run_class, dict(state.get("data", {})), source)
        sections["train"] = dict(state.get("train_config", {}))
        try:
            return config_from_dict(self.run_class, sections, source)
        except SeqlabError as e:
            raise CheckpointError(f"{e} (was it written by another version of seqlab?)") from None

    # -- evaluating a checkpoint -----------------------------------------------------------------
    def evaluate(
        self,
        loaded: Loaded,
        *,
        split: str = "test",
        data: str | None = None,
        data_dir: str | None = None,
        batch_size: int | None = None,
        limit: int | float | None = None,
        limit_batches: int | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """The metrics of a checkpoint on a split of its data, or of `data` (another data set
        or file, taken whole), read from `data_dir`; `limit` takes a subset, `options` change
        its decode section (`evaluate_options`). The batch size defaults to the task's."""
        if split not in self.splits:
            raise self.split_error(split)
        section = loaded.run.data
        if data is not None and data != section.source:
            section = dataclasses.replace(
                section, source=data, **{k: None for k in self.subset_fields}
            )
        section = replaced(section, data_dir=data_dir)
        if limit is not None:
            if not self.subset_fields:
                raise SeqlabError("--limit is for classification; use --dry-run for a check")
            section = dataclasses.replace(section, **{k: limit for k in self.subset_fields})
        run = dataclasses.replace(self.with_decoding(loaded.run, **options), data=section)
        return self.score(loaded, run, split, batch_size, limit_batches)

    def score(
        self,
        loaded: Loaded,
        run: Any,
        split: str,
        batch_size: int | None,
        limit_batches: int | None,
    ) -> dict[str, Any]:
        """task: the metrics of `loaded`'s model on `split` of `run`'s data (at most
        `limit_batches` batches), with the counts of what it read."""
        raise NotImplementedError

    def with_decoding(self, run: Any, **options: Any) -> Any:
        """`run` with the decoding `options` that are not None in its decode section."""
        if not any(v is not None for v in options.values()):
            return run
        return dataclasses.replace(run, decode=replaced(run.decode, **options))

    def split_error(self, split: str) -> SeqlabError:
        """The error for a split this task does not have."""
        return SeqlabError(f"unknown split {split!r}; choose one of {', '.join(self.splits)}")
