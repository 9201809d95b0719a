"""Settings of each task's data and model (light: no torch import, so the CLI starts fast)."""

from __future__ import annotations

from dataclasses import dataclass

# The SequenceClassifier encoders (seqlab.models.classifier.ENCODERS; a test keeps them equal).
ENCODERS = ("dense", "rnn", "lstm", "gru", "ngram", "nbsvm", "transformer")


@dataclass
class ClassifyConfig:
    """Data and model settings of a classification run (the CLI options besides training)."""

    data: str = "imdb"  # "imdb" or a .csv/.tsv/.jsonl file with text and label columns
    data_dir: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    limit: int | float | None = None  # class-balanced subset of each split: a count or fraction
    # "official" (the data set's own train/test; valid carved from train by valid_fraction) or
    # "a:b:c" (pool all labelled texts, split a:b:c); None: official, or 7:1:2 for one user file.
    split: str | None = None
    valid_fraction: float = 0.2
    tokenizer: str = "basic_english"
    min_freq: int = 1
    max_vocab: int | None = None
    max_length: int | None = 256
    truncate: str = "pre"  # "pre" keeps the end of long texts (Keras), "post" the beginning
    model: str = "lstm"  # one of ENCODERS
    embed: int = 100
    hidden: int = 100
    layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    layer_dropout: float = 0.0
    recurrent_dropout: float = 0.0
    pooling: str | None = None
    heads: int = 2
    ngram: int = 2
    buckets: int = 2**18
    backend: str = "fused"
