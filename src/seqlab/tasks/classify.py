"""Text classification: build data and model from a config, train, evaluate and predict.

`train` is what `seqlab train classify` runs; `evaluate_checkpoint` and `predict` need only a
checkpoint, which holds the model config, the fitted TextEncoder and the label names.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from seqlab.atomic import write_text_atomic
from seqlab.data import BucketBatchSampler, ClassificationData, TextEncoder, pad_collate
from seqlab.data.classification import ClassificationDataset, make_splits
from seqlab.errors import CheckpointError, SeqlabError
from seqlab.models import class_probabilities
from seqlab.models.classifier import SequenceClassifier, SequenceClassifierConfig
from seqlab.tasks import load_trained
from seqlab.tasks.configs import ClassifyConfig
from seqlab.train import (
    Accuracy,
    ConfusionMatrix,
    TrainConfig,
    Trainer,
    evaluate,
    load_checkpoint,
)
from seqlab.train.device import seed_everything, select_device
from seqlab.train.distributed import dist_info

TASK = "classify"
SPLITS = ("train", "valid", "test", "all")


@dataclass
class ClassifyResult:
    """What a training run produced."""

    model: SequenceClassifier
    data: ClassificationData
    history: list[dict[str, Any]]
    test: dict[str, float]
    params: int
    train_wall_s: float


def load_data(cfg: ClassifyConfig, seed: int = 0) -> ClassificationData:
    """IMDB or the user's file as train/valid/test splits with an encoder fitted on train."""
    from seqlab.data import load_imdb, load_text_classification
    from seqlab.data.stopwords import stop_words

    common = {
        "split": cfg.split,
        "valid_fraction": cfg.valid_fraction,
        "seed": seed,
        "tokenizer": cfg.tokenizer,
        "min_freq": cfg.min_freq,
        "max_size": cfg.max_vocab,
        "stop_words": stop_words(cfg.stop_words),
        "max_length": cfg.max_length,
        "truncate": cfg.truncate,
        "limit": cfg.limit,
    }
    if cfg.data == "imdb":
        return load_imdb(cfg.data_dir, **{**common, "split": cfg.split or "official"})
    if cfg.data == "trec":
        from seqlab.data.trec import load_trec

        return load_trec(
            cfg.data_dir, label_set=cfg.label_set, **{**common, "split": cfg.split or "official"}
        )
    columns = {"text_column": cfg.text_column, "label_column": cfg.label_column}
    return load_text_classification(cfg.data, **columns, **common)


def build_model(cfg: ClassifyConfig, vocab_size: int, num_classes: int) -> SequenceClassifier:
    """A SequenceClassifier from the run's settings."""
    config = SequenceClassifierConfig(
        vocab_size=vocab_size,
        num_classes=num_classes,
        encoder=cfg.model,
        embed_dim=cfg.embed,
        hidden_size=cfg.hidden,
        num_layers=cfg.layers,
        bidirectional=cfg.bidirectional,
        dropout=cfg.dropout,
        layer_dropout=cfg.layer_dropout,
        recurrent_dropout=cfg.recurrent_dropout,
        backend=cfg.backend,
        pooling=cfg.pooling,
        # Only the dense encoder (fixed Flatten size) and Transformer positions need a length.
        max_length=cfg.max_length if cfg.model in ("dense", "transformer") else None,
        num_heads=cfg.heads,
        ngram_n=cfg.ngram,
        num_buckets=cfg.buckets,
    )
    try:
        return SequenceClassifier(config)
    except ValueError as e:
        raise SeqlabError(f"cannot build the {cfg.model} model: {e}") from None


def make_loader(
    dataset: Any,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int = 0,
    collate: Callable[[list[dict]], dict] = pad_collate,
) -> DataLoader:
    """Length-bucketed batches of a data set with `.lengths` (classification or translation
    pairs), sharded over DDP processes when run under torchrun."""
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


def train(
    cfg: ClassifyConfig,
    train_cfg: TrainConfig,
    out_dir: str | Path | None = None,
    *,
    resume: bool = False,
    data: ClassificationData | None = None,
) -> ClassifyResult:
    """Train a classifier, evaluate it on the test split and write OUT/results.json.

    `data` skips loading when many models share one data set (it must be what `load_data(cfg,
    train_cfg.seed)` returns; studies pass it to train dozens of models on the same splits).
    """
    if data is None:
        data = load_data(cfg, seed=train_cfg.seed)
    seed_everything(train_cfg.seed)
    model = build_model(cfg, data.vocab_size, data.num_classes)
    if not resume:  # a resumed run takes its fitted state from the checkpoint
        model.prepare(DataLoader(data.train, batch_size=256, collate_fn=pad_collate))
    meta = {
        "task": TASK,
        "data": dataclasses.asdict(cfg),
        "encoder": data.encoder.to_dict(),
        "label_names": list(data.label_names),
    }
    b, seed = train_cfg.batch_size, train_cfg.seed
    trainer = Trainer(
        model,
        train_cfg,
        make_loader(data.train, b, shuffle=True, seed=seed),
        # --valid-fraction 0 trains on all of train; the Trainer then watches the training loss.
        make_loader(data.valid, b, shuffle=False) if len(data.valid) else None,
        metric=Accuracy(),
        out_dir=out_dir,
        meta=meta,
    )
    params = sum(p.numel() for p in model.parameters())
    trainer.log(
        f"{cfg.model} classifier, {params:,} parameters; vocabulary {data.vocab_size:,}; "
        f"{len(data.train):,} train / {len(data.valid):,} valid / {len(data.test):,} test texts"
    )
    checkpoint = Path(out_dir) / "last.pt" if out_dir is not None else None
    start = None
    if resume and checkpoint is not None and checkpoint.is_file():
        saved = load_checkpoint(checkpoint, task=TASK)
        _check_same_data(saved, meta, checkpoint)
        start = checkpoint
    elif resume:
        trainer.log(f"--resume: no checkpoint at {checkpoint}; starting from scratch")
    history = trainer.fit(resume=start)
    wall = trainer.train_wall_s  # all of the run's training, resumptions included
    test_loader = make_loader(data.test, b, shuffle=False)
    test = evaluate(
        model,
        test_loader,
        Accuracy(),
        trainer.device,
        amp=train_cfg.amp,
        limit=train_cfg.limit_batches,
    )
    trainer.log(f"test loss {test['loss']:.4f}  test accuracy {test['accuracy']:.4f}")
    if out_dir is not None and trainer.dist.is_main:
        results = {"history": history, "test": test, "params": params, "train_wall_s": wall}
        results["train_tokens"] = int(data.train.lengths.sum())  # per epoch, after truncation
        results |= {"config": meta["data"], "train_config": train_cfg.to_dict()}
        write_text_atomic(Path(out_dir) / "results.json", json.dumps(results, indent=1) + "\n")
    return ClassifyResult(model, data, history, test, params, wall)


def _check_same_data(saved: dict[str, Any], meta: dict[str, Any], path: Path) -> None:
    """Resuming with other data or another model would silently train something else."""
    old, new = saved.get("data", {}), meta["data"]
    diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if diff:
        raise CheckpointError(
            f"{path} was trained with other settings ({', '.join(diff)}); "
            "use the original options or another --out"
        )


def load_classifier(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[SequenceClassifier, TextEncoder, list[str], dict[str, Any]]:
    """Model (eval mode), encoder, label names and the raw state of a classify checkpoint."""
    model, encoder, state = load_trained(path, TASK, device)
    return model, encoder, list(state["label_names"]), state


Pool = tuple[list[str], np.ndarray]  # texts and label ids


def raw_pools(
    cfg: Any, label_names: list[str] | None = None
) -> tuple[Pool, Pool | None, list[str], str]:
    """The labelled texts of `cfg.data` before any split: (train pool, test pool or None for a
    single file, label names, the default split). Labels map to ids in `label_names` order when
    given (a checkpoint's), else in the order training uses (sorted; numbers numerically).

    `cfg` is any task config with the data fields of ClassifyConfig (FinetuneConfig has them).
    """
    from seqlab.data.imdb import LABEL_NAMES, imdb_source, read_imdb_split
    from seqlab.data.readers import read_records
    from seqlab.data.user_data import _sort_key

    if cfg.data == "imdb":
        source = imdb_source(cfg.data_dir)
        pools = read_imdb_split(source, "train"), read_imdb_split(source, "test")
        return pools[0], pools[1], list(label_names or LABEL_NAMES), cfg.split or "official"
    if cfg.data == "trec":
        from seqlab.data.trec import FILES, read_trec, trec_source

        source = trec_source(cfg.data_dir)
        raw = [read_trec(source / f, cfg.label_set) for f in FILES.values()]
        names = label_names or sorted({label for _, labels in raw for label in labels})
        index = {n: i for i, n in enumerate(names)}
        train_pool, test_pool = (
            (texts, np.array([index[label] for label in labels], dtype=np.int64))
            for texts, labels in raw
        )
        return train_pool, test_pool, list(names), cfg.split or "official"
    records = read_records(cfg.data, cfg.text_column, cfg.label_column)
    if not records:
        raise SeqlabError(f"{cfg.data}: no records")
    names = label_names or sorted({label for _, label, _ in records}, key=_sort_key)
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted({label for _, label, _ in records} - set(index))
    if unknown:
        raise SeqlabError(f"{cfg.data}: labels {unknown} are not the model's {names}")
    labels = np.array([index[label] for _, label, _ in records], dtype=np.int64)
    return ([t for t, _, _ in records], labels), None, list(names), cfg.split or "7:1:2"


def read_split(
    cfg: ClassifyConfig, split: str, encoder: TextEncoder, label_names: list[str], seed: int
) -> ClassificationDataset:
    """The texts of `split` encoded with a checkpoint's encoder (its vocabulary, not a new one).

    Splits are carved as in training (same valid fraction, seed and limit); "all" takes every
    record of the file (or both IMDB splits), e.g. for a separate test file.
    """
    if split not in SPLITS:
        raise SeqlabError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    train_pool, test_pool, _, ratio = raw_pools(cfg, label_names)
    if split == "all":
        pools = [p for p in (train_pool, test_pool) if p is not None]
        texts = [t for p in pools for t in p[0]]
        labels = np.concatenate([p[1] for p in pools])
    else:
        splits = make_splits(
            train_pool,
            None,
            test_pool,
            split=ratio,
            valid_fraction=cfg.valid_fraction,
            seed=seed,
            limit=cfg.limit,
        )
        texts, labels = splits[split]
    ids = encoder.encode_many(texts)
    return ClassificationDataset.from_lists(ids, labels)


def evaluate_checkpoint(
    path: str | Path,
    *,
    data: str | None = None,
    data_dir: str | None = None,
    split: str = "test",
    batch_size: int | None = None,
    limit: int | float | None = None,
    limit_batches: int | None = None,
    device: str = "auto",
) -> dict[str, float]:
    """Loss, accuracy and confusion matrix of a checkpoint on a split of its data (or of `data`);
    also the example count and the label names."""
    dev = select_device(device)
    model, encoder, label_names, state = load_classifier(path, dev)
    cfg = ClassifyConfig(**state.get("data", {}))
    if data is not None and data != cfg.data:
        cfg = dataclasses.replace(cfg, data=data, limit=None)  # another data set: no subset
    cfg = dataclasses.replace(cfg, data_dir=data_dir or cfg.data_dir)
    if limit is not None:
        cfg.limit = limit
    seed = state.get("train_config", {}).get("seed", 0)
    dataset = read_split(cfg, split, encoder, label_names, seed)
    loader = make_loader(dataset, batch_size or 256, shuffle=False)
    metric = ConfusionMatrix(len(label_names))
    metrics = evaluate(model, loader, metric, dev, limit=limit_batches)
    return {**metrics, "examples": len(dataset), "label_names": label_names}


def predict(path: str | Path, texts: list[str], device: str = "cpu") -> list[tuple[str, float]]:
    """(label, probability) of the most likely class for each text."""
    model, encoder, label_names, _ = load_classifier(path, device)
    ids = [encoder.encode(t) for t in texts]
    batch = pad_collate([{"ids": x, "label": 0} for x in ids])
    with torch.no_grad():
        logits, _ = model(ids=batch["ids"].to(device), lengths=batch["lengths"].clamp(min=1))
    probs = class_probabilities(logits)  # (B, num_classes)
    best = probs.argmax(dim=1)
    return [(label_names[int(k)], float(probs[i, k])) for i, k in enumerate(best)]
