"""SequenceClassifier: embedding -> encoder -> pooling -> dropout -> linear.

The encoder (dense, rnn/lstm/gru, ngram, nbsvm or transformer) is looked up by name in
`seqlab.models.encoders.ENCODERS`; each maps ids and lengths to sentence features. With two
classes the model has one output unit (Keras' sigmoid + binary cross-entropy), so parameter
counts match the Keras course models. A multi-label model (`multi_label=True`: each text may
carry several of the K labels) always has K output units, one sigmoid each, and binary
cross-entropy against multi-hot labels (B, K). `factored_classes` G replaces the output layer
of K > 2 exclusive classes by the exact class-factored softmax `seqlab.nn.FactoredSoftmax`
(P(y|h) = P(group(y)|h) P(y|group(y), h)), its G groups by label frequency. For nbsvm and a
factored output, call `prepare` with the training batches before training.

Checkpoints written before the encoders were modules name the encoder's weights without the
`encoder.` prefix (`rnn.*`, `embedding.weight`); loading renames them (`_upgrade_keys`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqlab.models.common import PAD_ID, UNK_ID, check_ids, check_lengths
from seqlab.models.encoders import ENCODERS as ENCODER_CLASSES
from seqlab.nn.factored import FactoredSoftmax, balanced_classes, frequency_classes

ENCODERS = tuple(ENCODER_CLASSES)  # the encoder names, as the CLI offers them
# Encoders that cannot be multi-label: nbsvm's NB ratios contrast one class with the other.
SINGLE_LABEL_ENCODERS = ("nbsvm",)
# The encoder's weights before it became the `encoder` submodule (old checkpoints).
_OLD_ENCODER_KEYS = ("embedding.", "rnn.", "dense.", "bag.", "positions.", "transformer.")


@dataclass
class SequenceClassifierConfig:
    """Hyper-parameters of a SequenceClassifier (saved in checkpoints)."""

    vocab_size: int
    num_classes: int = 2
    encoder: str = "lstm"  # one of ENCODERS
    embed_dim: int = 16
    hidden_size: int = 32  # dense units / recurrent state size / Transformer feed-forward size
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0  # before the output layer
    word_dropout: float = 0.0  # training: each real token becomes <unk> with this probability
    layer_dropout: float = 0.0  # between stacked recurrent layers / inside Transformer layers
    recurrent_dropout: float = 0.0  # on the recurrent state (Gal & Ghahramani 2016), if > 0
    backend: str = "fused"  # recurrent/attention backend: "fused" or "scratch"
    pooling: str | None = None  # "last", "mean", "max"; None: last (recurrent), mean (transformer)
    max_length: int | None = None  # dense: the fixed input length; transformer: positions
    num_heads: int = 2
    norm_first: bool = False
    positional: str = "sinusoidal"  # or "learned"
    ngram_n: int = 2  # ngram/nbsvm encoders: features are 1..n-grams
    num_buckets: int = 2**18  # ngram/nbsvm encoders: hash buckets for the n-grams with n >= 2
    nb_alpha: float = 0.5  # nbsvm: Laplace smoothing of the NB feature counts
    nb_min_count: int = 2  # nbsvm: features in fewer training documents get no weight
    filter_widths: list[int] = field(default_factory=lambda: [3, 4, 5])  # cnn: Kim's widths
    conv_padding: str = "valid"  # cnn: "full" also takes the windows overhanging either end
    embed_init: float = 0.05  # word vectors start uniform in [-embed_init, embed_init]
    multi_label: bool = False  # K sigmoid outputs and binary cross-entropy, labels (B, K)
    factored_classes: int | None = None  # a class-factored softmax over this many label groups


class SequenceClassifier(nn.Module):
    """Text classifier; `logits, loss = model(ids, lengths, labels)`."""

    summary_flatten = ("encoder",)  # seqlab.summary lists the encoder's layers as the model's

    def __init__(self, config: SequenceClassifierConfig) -> None:
        super().__init__()
        c = self.config = config
        if c.encoder not in ENCODER_CLASSES:
            raise ValueError(f"encoder must be one of {ENCODERS}, got {c.encoder!r}")
        if c.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {c.num_classes}")
        if c.multi_label and c.encoder in SINGLE_LABEL_ENCODERS:
            raise ValueError(f"the {c.encoder} encoder cannot be multi-label")
        if not 0.0 <= c.word_dropout < 1.0:
            raise ValueError(f"word_dropout must be in [0, 1), got {c.word_dropout}")
        self.encoder = ENCODER_CLASSES[c.encoder](c)
        self.dropout = nn.Dropout(c.dropout)
        self.output: nn.Module
        if c.factored_classes:
            if c.multi_label or c.num_classes < 3 or c.encoder in SINGLE_LABEL_ENCODERS:
                raise ValueError(
                    "a factored softmax needs 3 or more exclusive classes and a neural encoder"
                )
            if not 1 <= c.factored_classes <= c.num_classes:
                raise ValueError(
                    f"factored_classes must be in [1, num_classes={c.num_classes}], "
                    f"got {c.factored_classes}"
                )
            # balanced groups until `prepare` assigns them by label frequency (a loaded
            # checkpoint brings its own map)
            groups = balanced_classes(c.num_classes, c.factored_classes)
            self.output = FactoredSoftmax(self.encoder.num_features, groups, c.factored_classes)
        else:
            # Two classes: one logit, as Keras' Dense(1, activation="sigmoid"); multi-label: K.
            self.output = nn.Linear(self.encoder.num_features, self.num_outputs)
            self.encoder.init_output(self.output)
        self.register_load_state_dict_pre_hook(_upgrade_keys)

    @property
    def num_outputs(self) -> int:
        """Output units: K, or 1 for two classes that exclude each other."""
        c = self.config
        return 1 if c.num_classes == 2 and not c.multi_label else c.num_classes

    def encode(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """Sentence features (B, F) for ids (B, T) and lengths (B,)."""
        return self.encoder(ids, lengths)

    @torch.no_grad()
    def prepare(self, batches: Iterable[dict[str, Tensor]]) -> None:
        """Data-dependent set-up from the training batches, before training.

        The nbsvm encoder's NB log-count ratios; a factored output's label groups, by label
        frequency (Mikolov et al. 2011); for the others this is a no-op. Both may read
        `batches`: pass a re-iterable (a DataLoader), not a generator.
        """
        self.encoder.prepare(batches)
        if self.config.factored_classes:
            counts = torch.zeros(self.config.num_classes, dtype=torch.long)
            for batch in batches:
                counts += torch.bincount(batch["labels"].reshape(-1), minlength=counts.numel())
            if not counts.any():
                raise ValueError("prepare: no labels in `batches` (a generator already read?)")
            self.output.assign_classes(frequency_classes(counts, self.config.factored_classes))

    def drop_words(self, ids: Tensor) -> Tensor:
        """Word dropout (Iyyer et al. 2015's, as <unk> replacement): while training, each real
        token becomes <unk> with probability `word_dropout`. With a vocabulary of every training
        word, <unk> is otherwise never seen in training, yet stands for every unseen test word.
        """
        p = self.config.word_dropout
        if not (self.training and p > 0):
            return ids
        drop = (torch.rand(ids.shape, device=ids.device) < p) & (ids != PAD_ID)
        return ids.masked_fill(drop, UNK_ID)

    def forward(
        self, ids: Tensor, lengths: Tensor | None = None, labels: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """ids (B, T) -> logits (B, 1) for two classes else (B, num_classes), and the mean loss;
        multi-label: logits (B, K) and labels (B, K) of 0/1; a factored output gives
        log-probabilities (B, K) (their softmax is the distribution, as for logits)."""
        check_ids("ids", ids, self.config.vocab_size)
        lengths = check_lengths("lengths", lengths, ids)
        features = self.dropout(self.encode(self.drop_words(ids), lengths))
        if self.config.factored_classes:  # log-sum-exps in full precision, as the LM's
            with torch.autocast(features.device.type, enabled=False):
                logits = self.output(features.to(self.output.weight.dtype))
        else:
            logits = self.output(features)
        if labels is None:
            return logits, None
        labels = torch.as_tensor(labels, device=logits.device)
        if self.config.multi_label:
            return logits, multi_label_loss(logits, labels)
        if labels.shape != (ids.size(0),) or labels.is_floating_point():
            raise ValueError(
                f"labels must be an integer tensor of shape (B,)=({ids.size(0)},), "
                f"got {tuple(labels.shape)} {labels.dtype}"
            )
        if labels.numel() and (
            int(labels.min()) < 0 or int(labels.max()) >= self.config.num_classes
        ):
            raise ValueError(f"labels must lie in [0, num_classes={self.config.num_classes})")
        if self.config.factored_classes:  # the logits are log-probabilities already
            loss = F.nll_loss(logits, labels)
        elif self.config.num_classes == 2:
            loss = F.binary_cross_entropy_with_logits(logits.squeeze(1), labels.to(logits.dtype))
        else:
            loss = F.cross_entropy(logits, labels)
        return logits, loss

    def example_batch(self, batch_size: int = 2, length: int | None = None) -> dict[str, Tensor]:
        """A random batch of full-length sequences, e.g. for `seqlab.summary`."""
        T = length or self.config.max_length or 8
        ids = torch.randint(1, self.config.vocab_size, (batch_size, T))
        return {"ids": ids, "lengths": torch.full((batch_size,), T, dtype=torch.long)}


def multi_label_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Binary cross-entropy of K independent sigmoids, the mean over B x K, for multi-hot
    labels (B, K) of 0/1 (any dtype)."""
    if labels.shape != logits.shape:
        raise ValueError(
            f"multi-label labels must have shape (B, K)={tuple(logits.shape)}, "
            f"got {tuple(labels.shape)}"
        )
    target = labels.to(logits.dtype)
    if target.numel() and not bool(((target == 0) | (target == 1)).all()):
        raise ValueError("multi-label labels must be 0 or 1")
    return F.binary_cross_entropy_with_logits(logits, target)


def _upgrade_keys(module: nn.Module, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
    """Load-time hook: move old checkpoints' encoder weights (`rnn.*`) under `encoder.`."""
    for key in list(state_dict):
        name = key[len(prefix) :]
        if key.startswith(prefix) and name.startswith(_OLD_ENCODER_KEYS):
            state_dict[f"{prefix}encoder.{name}"] = state_dict.pop(key)


def class_probabilities(logits: Tensor, multi_label: bool = False) -> Tensor:
    """(B, num_classes) probabilities from classifier logits: (B, 1) sigmoid or (B, K) softmax;
    `multi_label`: K independent sigmoids (each row need not sum to 1)."""
    if logits.dim() != 2:
        raise ValueError(f"logits must have shape (B, 1) or (B, K), got {tuple(logits.shape)}")
    if multi_label:
        return torch.sigmoid(logits)
    if logits.size(1) == 1:
        p = torch.sigmoid(logits)
        return torch.cat([1 - p, p], dim=1)
    return logits.softmax(dim=1)
