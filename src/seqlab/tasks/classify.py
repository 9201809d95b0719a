"""Text classification: `seqlab train classify`, and what `finetune` shares with it.

`TextClassification` is every task that labels texts: the data's labelled splits, a text
encoder (a seqlab vocabulary here, a pretrained tokenizer in `finetune`) whose `collate` makes
the batches, accuracy in training, a confusion matrix when a checkpoint is evaluated, and
`predict`. A checkpoint holds the model config, the fitted encoder and the label names.
Multi-label runs (`--multi-label`, GoEmotions) record micro/macro F1 and the exact-match ratio
instead, at the thresholds of `seqlab.tasks.multilabel`, which the checkpoint holds too.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import torch
from torch.utils.data import DataLoader

from seqlab.data import ClassificationData, pad_collate
from seqlab.data.classification import ClassificationDataset, Pools, make_splits
from seqlab.errors import SeqlabError
from seqlab.explain import attention_maps, check_tokens, record, recurrent_traces
from seqlab.models import class_probabilities
from seqlab.models.classifier import SequenceClassifier, SequenceClassifierConfig
from seqlab.tasks import multilabel
from seqlab.tasks.base import Loaded, Task, make_loader, split_sizes
from seqlab.tasks.configs import ClassifyRun
from seqlab.train import Accuracy, ConfusionMatrix, Metric, Trainer, evaluate
from seqlab.train.metrics import MultiLabelF1

Pool = tuple[list[str], np.ndarray]  # texts and label ids (N,), or multi-hot rows (N, K)
# Encoders whose configs take the text length: the dense one (a fixed Flatten size) and the
# Transformer (its positions).
LENGTH_ENCODERS = ("dense", "transformer")


def raw_pools(data: Any, label_names: list[str] | None = None) -> tuple[Pools, list[str], str]:
    """The labelled texts of a data section before any split: ((train, valid or None, test or
    None for a single file) pools, label names, the default split). Labels map to ids in
    `label_names` order when given (a checkpoint's), else in the order training uses (sorted;
    numbers numerically); multi-label data gives multi-hot rows (N, K)."""
    from seqlab.data.imdb import LABEL_NAMES, imdb_source, read_imdb_split
    from seqlab.data.readers import read_records
    from seqlab.data.user_data import _sort_key

    if data.source == "imdb":
        source = imdb_source(data.data_dir)
        pools = read_imdb_split(source, "train"), None, read_imdb_split(source, "test")
        return pools, list(label_names or LABEL_NAMES), data.split or "official"
    if data.source == "goemotions":
        from seqlab.data.goemotions import goemotions_pools

        split_pools, names = goemotions_pools(data.data_dir)
        if label_names is not None and list(label_names) != names:
            raise SeqlabError(f"goemotions labels {names}, not the model's {label_names}")
        pools = split_pools["train"], split_pools["valid"], split_pools["test"]
        return pools, names, data.split or "official"
    if data.source == "trec":
        from seqlab.data.trec import FILES, read_trec, trec_source

        source = trec_source(data.data_dir)
        raw = [read_trec(source / f, data.label_set) for f in FILES.values()]
        names = label_names or sorted({label for _, labels in raw for label in labels})
        index = {n: i for i, n in enumerate(names)}
        train_pool, test_pool = (
            (texts, np.array([index[label] for label in labels], dtype=np.int64))
            for texts, labels in raw
        )
        return (train_pool, None, test_pool), list(names), data.split or "official"
    if data.multi_label:
        from seqlab.data.multilabel import read_multilabel

        columns = data.text_column, data.label_column, data.label_separator
        pool, names = read_multilabel(data.source, *columns, label_names)
        return (pool, None, None), names, data.split or "7:1:2"
    records = read_records(data.source, data.text_column, data.label_column)
    if not records:
        raise SeqlabError(f"{data.source}: no records")
    names = label_names or sorted({label for _, label, _ in records}, key=_sort_key)
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted({label for _, label, _ in records} - set(index))
    if unknown:
        raise SeqlabError(f"{data.source}: labels {unknown} are not the model's {names}")
    labels = np.array([index[label] for _, label, _ in records], dtype=np.int64)
    return (([t for t, _, _ in records], labels), None, None), list(names), data.split or "7:1:2"


def all_records(data: Any, label_names: list[str]) -> Pool:
    """Every labelled text of the data (all IMDB, TREC or GoEmotions splits, or the file)."""
    pools = [p for p in raw_pools(data, label_names)[0] if p is not None]
    return [t for p in pools for t in p[0]], np.concatenate([p[1] for p in pools])


class TextClassification(Task):
    """Labelled texts in, a label out: what classify and finetune share."""

    splits: ClassVar[tuple[str, ...]] = ("train", "valid", "test", "all")
    use = "seqlab predict CHECKPOINT TEXT"
    subset_fields: ClassVar[tuple[str, ...]] = ("limit",)
    eval_batch_size: ClassVar[int] = 256

    def split_texts(self, data: Any, split: str, label_names: list[str], seed: int) -> Pool:
        """task: the texts and label ids of a split, carved as in training."""
        raise NotImplementedError

    def check(self, run: Any) -> None:
        """Multi-label settings that cannot work (`seqlab.tasks.multilabel.check_run`)."""
        multilabel.check_run(run)

    def check_data(self, run: Any, data: ClassificationData) -> None:
        """One class is nothing to learn; an empty train or test split trains or scores nothing
        (an empty valid split is --valid-fraction 0: no validation, and no thresholds to
        tune)."""
        multilabel.check_data(run, data)
        d = run.data
        if data.num_classes < 2:
            column = f"label column {d.label_column!r}" if "." in d.source else "labels"
            raise SeqlabError(
                f"{d.source}: the {column} has only one class ({', '.join(data.label_names)}); "
                "a classifier needs at least 2"
            )
        for split in ("train", "test"):
            if not len(getattr(data, split)):
                raise SeqlabError(
                    f"the {split} split of {d.source} is empty ({split_sizes(data, 'texts')}): "
                    f"give it a share in --split (now {d.split or 'official'}) or more data"
                )

    def saved_state(self, run: Any, data: ClassificationData) -> dict[str, Any]:
        state = {"encoder": data.encoder.to_dict(), "label_names": list(data.label_names)}
        if data.multi_label:  # --threshold tune: TuneThresholds replaces them every epoch
            state["thresholds"] = multilabel.initial_thresholds(run, data.num_classes)
        return state

    def loaders(self, run: Any, data: ClassificationData) -> tuple[Any, Any | None]:
        b, seed, collate = run.train.batch_size, run.train.seed, data.encoder.collate
        train = make_loader(data.train, b, shuffle=True, seed=seed, collate=collate)
        # --valid-fraction 0 trains on all of train; the Trainer then watches the training loss.
        if not len(data.valid):
            return train, None
        return train, make_loader(data.valid, b, shuffle=False, collate=collate)

    def metric(self) -> Metric:
        return Accuracy()

    def run_metric(self, run: Any, data: ClassificationData) -> Metric:
        if data.multi_label:  # --threshold tune: 0.5 in training, tuned after each validation
            return MultiLabelF1(data.num_classes, multilabel.initial_thresholds(run, 1))
        return self.metric()

    def callbacks(self, run: Any, data: ClassificationData) -> list:
        if data.multi_label and run.data.threshold == "tune":
            b = run.train.batch_size
            return [multilabel.TuneThresholds(data.valid, data.encoder.collate, b)]
        return []

    def test_metric(self, data: ClassificationData) -> Metric:
        """The metric of the test pass after training."""
        return Accuracy()

    def test(self, run: Any, data: ClassificationData, trainer: Trainer) -> tuple[dict, dict]:
        loader = make_loader(
            data.test, run.train.batch_size, shuffle=False, collate=data.encoder.collate
        )
        amp, limit = run.train.amp, run.train.limit_batches
        if data.multi_label:
            return multilabel.test_pass(run, data, trainer, loader), {}
        metric = self.test_metric(data)
        test = evaluate(trainer.model, loader, metric, trainer.device, amp=amp, limit=limit)
        trainer.log(f"test loss {test['loss']:.4f}  test accuracy {test['accuracy']:.4f}")
        return test, {}

    def score(self, loaded: Loaded, run: Any, split: str, batch_size: Any, limit_batches: Any):
        """Loss, accuracy and confusion matrix on a split (or all records), the example count
        and the label names."""
        section = run.data
        names = loaded.label_names
        if split == "all":
            texts, labels = all_records(section, names)
        else:
            texts, labels = self.split_texts(section, split, names, loaded.run.train.seed)
        if not texts:  # e.g. valid with --valid-fraction 0: no metric over nothing
            raise SeqlabError(f"the {split} split of {section.source} is empty")
        encoder = loaded.encoder
        dataset = ClassificationDataset.from_lists(encoder.encode_many(texts), labels)
        b = batch_size or self.eval_batch_size
        loader = make_loader(dataset, b, shuffle=False, collate=encoder.collate)
        if multilabel.loaded_is_multi_label(loaded):
            metrics = multilabel.score(loaded, loader, limit_batches)
            return {**metrics, "examples": len(dataset), "label_names": names}
        metric = ConfusionMatrix(len(names))
        metrics = evaluate(loaded.model, loader, metric, loaded.device, limit=limit_batches)
        return {**metrics, "examples": len(dataset), "label_names": names}

    @torch.no_grad()
    def probabilities(self, loaded: Loaded, texts: list[str]) -> torch.Tensor:
        """(B, num_classes) probability of every class, columns in `loaded.label_names` order
        (multi-label: the K independent sigmoids)."""
        items = [{"ids": ids, "label": 0} for ids in loaded.encoder.encode_many(texts)]
        batch = loaded.encoder.collate(items)
        del batch["labels"]
        logits, _ = loaded.model(**{k: v.to(loaded.device) for k, v in batch.items()})
        return class_probabilities(logits, multilabel.loaded_is_multi_label(loaded)).cpu()

    @torch.no_grad()
    def explain(
        self, loaded: Loaded, text: str, *, max_tokens: int | None = None
    ) -> dict[str, Any]:
        """What the classifier looked at in one text: its tokens as the model reads them, the
        attention maps of its attention modules and the traces of its recurrent layers
        (`seqlab.explain`). A fine-tuned Hugging Face encoder computes its attention inside
        `transformers`, where these hooks do not reach: its `attention` and `recurrent` are
        empty lists (its tokens are still given)."""
        encoder = loaded.encoder
        batch = encoder.collate([{"ids": encoder.encode(text), "label": 0}])
        del batch["labels"]
        ids = batch["ids"] if "ids" in batch else batch["input_ids"]  # (1, T)
        n = int(batch["lengths"][0]) if "lengths" in batch else int(batch["attention_mask"].sum())
        check_tokens("text", n, max_tokens)
        vocab = getattr(encoder, "vocab", None)
        to_string = vocab.itos.__getitem__ if vocab is not None else encoder.tokenizer.id_to_token
        tokens = [to_string(int(i)) for i in ids[0, :n]]
        model = loaded.model
        with record(model) as recording:
            model(**{k: v.to(loaded.device) for k, v in batch.items()})
        return {
            "tokens": tokens,
            "attention": attention_maps(recording, 0, tokens, model=model),
            "recurrent": recurrent_traces(recording, 0, tokens, model),
        }

    def predict(self, loaded: Loaded, texts: list[str]) -> list[tuple[str, float]]:
        """(label, probability) of the most likely class for each text."""
        probs = self.probabilities(loaded, texts)  # (B, num_classes)
        best = probs.argmax(dim=1)
        names = loaded.label_names
        return [(names[int(k)], float(probs[i, k])) for i, k in enumerate(best)]

    def labels_above(self, loaded: Loaded, texts: list[str]) -> list[list[tuple[str, float]]]:
        """Per text, the (label, probability) of every label it is given, most probable first:
        a multi-label checkpoint's labels above their thresholds (maybe none), otherwise the
        one most likely class."""
        if not multilabel.loaded_is_multi_label(loaded):
            return [[p] for p in self.predict(loaded, texts)]
        probs = self.probabilities(loaded, texts)  # (B, K)
        return multilabel.labels_above(probs, multilabel.thresholds_of(loaded), loaded.label_names)


def load_data(data: Any, seed: int = 0) -> ClassificationData:
    """IMDB, TREC or the user's file as train/valid/test splits with an encoder fitted on
    train (`data`: a ClassifyData section)."""
    from seqlab.data import load_imdb, load_text_classification
    from seqlab.data.stopwords import stop_words

    common = {
        "split": data.split,
        "valid_fraction": data.valid_fraction,
        "seed": data.seed_of_split(seed),
        "tokenizer": data.tokenizer,
        "min_freq": data.min_freq,
        "max_size": data.max_vocab,
        "stop_words": stop_words(data.stop_words),
        "max_length": data.max_length,
        "truncate": data.truncate,
        "limit": data.limit,
    }
    if data.source == "imdb":
        return load_imdb(data.data_dir, **{**common, "split": data.split or "official"})
    if data.source == "trec":
        from seqlab.data.trec import load_trec

        split = data.split or "official"
        return load_trec(data.data_dir, label_set=data.label_set, **{**common, "split": split})
    if data.source == "goemotions":
        from seqlab.data.goemotions import load_goemotions

        return load_goemotions(data.data_dir, **{**common, "split": data.split or "official"})
    columns = {"text_column": data.text_column, "label_column": data.label_column}
    if data.multi_label:
        from seqlab.data.multilabel import load_multilabel_file

        return load_multilabel_file(
            data.source, separator=data.label_separator, **columns, **common
        )
    return load_text_classification(data.source, **columns, **common)


class Classify(TextClassification):
    """`seqlab train classify`: a SequenceClassifier over a seqlab vocabulary."""

    name = "classify"
    run_class = ClassifyRun

    def load_data(self, run: ClassifyRun) -> ClassificationData:
        return load_data(run.data, seed=run.train.seed)

    size_names = ("vocab_size", "num_classes")

    def sizes(self, data: ClassificationData) -> dict[str, int]:
        return {"vocab_size": data.vocab_size, "num_classes": data.num_classes}

    def make_model(self, run: ClassifyRun, **sizes: int) -> SequenceClassifier:
        m = run.model
        length = run.data.max_length if m.encoder in LENGTH_ENCODERS else None
        multi = multilabel.is_multi_label(run.data)
        config = SequenceClassifierConfig(
            **sizes, max_length=length, multi_label=multi, **dataclasses.asdict(m)
        )
        try:
            return SequenceClassifier(config)
        except ValueError as e:
            raise SeqlabError(f"cannot build the {m.encoder} model: {e}") from None

    def prepare(self, model: SequenceClassifier, data: ClassificationData) -> None:
        model.prepare(DataLoader(data.train, batch_size=256, collate_fn=pad_collate))

    def describe(self, run: ClassifyRun, data: ClassificationData, model: Any, params: int) -> str:
        kind = f"multi-label ({data.num_classes} labels) " if data.multi_label else ""
        return (
            f"{run.model.encoder} {kind}classifier, {params:,} parameters; vocabulary "
            f"{data.vocab_size:,}; " + split_sizes(data, "texts")
        )

    def extra_results(self, run: ClassifyRun, data: ClassificationData, result: Any) -> dict:
        return {"train_tokens": int(data.train.lengths.sum())}  # per epoch, after truncation

    def split_texts(self, data: Any, split: str, label_names: list[str], seed: int) -> Pool:
        pools, _, ratio = raw_pools(data, label_names)
        splits = make_splits(
            *pools,
            split=ratio,
            valid_fraction=data.valid_fraction,
            seed=data.seed_of_split(seed),
            limit=data.limit,
        )
        return splits[split]


TASK = Classify()
