"""SequenceClassifier: embedding -> encoder -> pooling -> dropout -> linear.

Encoders: "dense" (the Keras "ordinary network": Embedding, Flatten, Dense(relu); needs a fixed
`max_length`), "rnn", "lstm", "gru" (seqlab.nn recurrent layers), "ngram" (fastText bag of hashed
n-grams), "nbsvm" (NB-weighted binarized n-grams, Wang & Manning 2012; call `prepare` with the
training batches before training) and "transformer" (a Transformer encoder stack). With two
classes the model has one output unit (Keras' sigmoid + binary cross-entropy), so parameter
counts match the Keras course models.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqlab.models.common import (
    PAD_ID,
    POOLINGS,
    RECURRENT,
    check_ids,
    check_lengths,
    length_mask,
    pool,
    recurrent_layer,
)
from seqlab.models.ngram import NBWeightedBag, NgramBag
from seqlab.nn.transformer import TransformerEncoder, positional_encoding

ENCODERS = ("dense", "rnn", "lstm", "gru", "ngram", "nbsvm", "transformer")


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


class SequenceClassifier(nn.Module):
    """Text classifier; `logits, loss = model(ids, lengths, labels)`."""

    def __init__(self, config: SequenceClassifierConfig) -> None:
        super().__init__()
        c = self.config = config
        if c.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, got {c.encoder!r}")
        if c.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {c.num_classes}")
        self.pooling = c.pooling or ("mean" if c.encoder == "transformer" else "last")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {c.pooling!r}")
        if c.encoder == "ngram":
            self.bag = NgramBag(c.vocab_size, c.embed_dim, c.ngram_n, c.num_buckets)
            features = c.embed_dim
        elif c.encoder == "nbsvm":
            if c.num_classes != 2:
                raise ValueError(f"the nbsvm encoder needs two classes, got {c.num_classes}")
            self.bag = NBWeightedBag(c.vocab_size, c.embed_dim, c.ngram_n, c.num_buckets)
            features = c.embed_dim
        else:
            self.embedding = nn.Embedding(c.vocab_size, c.embed_dim, padding_idx=PAD_ID)
            # Keras' default uniform(-0.05, 0.05) rather than torch's N(0, 1): with unit-variance
            # embeddings the course's RMSprop models learn far more slowly (dense baseline 0.66
            # instead of Chollet's ~0.75 validation accuracy at maxlen 20).
            nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
            with torch.no_grad():
                self.embedding.weight[PAD_ID].zero_()
        if c.encoder == "dense":
            if not c.max_length:
                raise ValueError("the dense encoder needs a fixed max_length (Keras' maxlen)")
            self.flatten = nn.Flatten()  # (B, T, C) -> (B, T*C)
            self.dense = nn.Linear(c.max_length * c.embed_dim, c.hidden_size)
            features = c.hidden_size
        elif c.encoder in RECURRENT:
            self.rnn = recurrent_layer(
                c.encoder,
                c.embed_dim,
                c.hidden_size,
                c.num_layers,
                c.bidirectional,
                c.layer_dropout,
                c.backend,
                c.recurrent_dropout,
            )
            features = c.hidden_size * (2 if c.bidirectional else 1)
        elif c.encoder == "transformer":
            max_len = c.max_length or (5000 if c.positional == "sinusoidal" else 512)
            self.positions = positional_encoding(
                c.positional, c.embed_dim, max_len, c.layer_dropout
            )
            self.transformer = TransformerEncoder(
                c.embed_dim,
                c.num_heads,
                c.hidden_size,
                c.num_layers,
                c.layer_dropout,
                c.norm_first,
                c.backend,
            )
            features = c.embed_dim
        self.dropout = nn.Dropout(c.dropout)
        # Two classes: one logit, as Keras' Dense(1, activation="sigmoid").
        self.output = nn.Linear(features, 1 if c.num_classes == 2 else c.num_classes)
        if c.encoder == "nbsvm":
            # Logistic regression on fixed features: a unit output scale lets Adam's first steps
            # move the logit at the learning rate (a random scale near 0 stalls them; measured on
            # IMDB: valid accuracy 0.920 after one epoch instead of 0.908).
            nn.init.ones_(self.output.weight)
            nn.init.zeros_(self.output.bias)

    def encode(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """Sentence features (B, F) for ids (B, T) and lengths (B,)."""
        c = self.config
        if c.encoder in ("ngram", "nbsvm"):
            return self.bag(ids, length_mask(lengths, ids.size(1)))
        if c.encoder == "dense":
            T = ids.size(1)
            if T > c.max_length:
                if (ids[:, c.max_length :] != PAD_ID).any():
                    raise ValueError(
                        f"ids has real tokens beyond max_length={c.max_length}; the dense encoder "
                        f"takes (B, T) with T <= {c.max_length} (truncate the text first)"
                    )
                ids = ids[:, : c.max_length]
            # The pad embedding row stays zero (padding_idx), so right padding adds nothing.
            ids = F.pad(ids, (0, c.max_length - ids.size(1)), value=PAD_ID)  # (B, max_length)
            x = self.embedding(ids.masked_fill(~length_mask(lengths, ids.size(1)), PAD_ID))
            return torch.relu(self.dense(self.flatten(x)))
        x = self.embedding(ids)  # (B, T, C)
        if c.encoder in RECURRENT:
            # Outputs only (no final state): the fused layers then skip the slow packed kernels.
            outputs = self.rnn.outputs(x, lengths)  # (B, T, dirs*H)
            if self.pooling == "last" and c.bidirectional:
                # Keras' Bidirectional final state: forward after the last real token, backward
                # after the first one.
                H = c.hidden_size
                last = pool(outputs[..., :H], lengths, "last")
                return torch.cat([last, outputs[:, 0, H:]], dim=1)  # (B, 2H)
            return pool(outputs, lengths, self.pooling)
        # Transformer: scale embeddings by sqrt(C) before adding positions (Vaswani §3.4).
        x = self.positions(x * math.sqrt(c.embed_dim))
        x = self.transformer(x, key_mask=length_mask(lengths, x.size(1)))
        return pool(x, lengths, self.pooling)

    @torch.no_grad()
    def prepare(self, batches: Iterable[dict[str, Tensor]]) -> None:
        """Data-dependent set-up from the training batches, before training.

        Only the nbsvm encoder has any (its NB log-count ratios); for the others this is a no-op.
        """
        if self.config.encoder != "nbsvm":
            return
        self.bag.fit_ratio(
            ((b["ids"], length_mask(b["lengths"], b["ids"].size(1)), b["labels"]) for b in batches),
            self.config.nb_alpha,
            self.config.nb_min_count,
        )

    def forward(
        self, ids: Tensor, lengths: Tensor | None = None, labels: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """ids (B, T) -> logits (B, 1) for two classes else (B, num_classes), and the mean loss."""
        check_ids("ids", ids, self.config.vocab_size)
        lengths = check_lengths("lengths", lengths, ids)
        logits = self.output(self.dropout(self.encode(ids, lengths)))
        if labels is None:
            return logits, None
        labels = torch.as_tensor(labels, device=logits.device)
        if labels.shape != (ids.size(0),) or labels.is_floating_point():
            raise ValueError(
                f"labels must be an integer tensor of shape (B,)=({ids.size(0)},), "
                f"got {tuple(labels.shape)} {labels.dtype}"
            )
        if labels.numel() and (
            int(labels.min()) < 0 or int(labels.max()) >= self.config.num_classes
        ):
            raise ValueError(f"labels must lie in [0, num_classes={self.config.num_classes})")
        if self.config.num_classes == 2:
            loss = F.binary_cross_entropy_with_logits(logits.squeeze(1), labels.to(logits.dtype))
        else:
            loss = F.cross_entropy(logits, labels)
        return logits, loss

    def example_batch(self, batch_size: int = 2, length: int | None = None) -> dict[str, Tensor]:
        """A random batch of full-length sequences, e.g. for `seqlab.summary`."""
        T = length or self.config.max_length or 8
        ids = torch.randint(1, self.config.vocab_size, (batch_size, T))
        return {"ids": ids, "lengths": torch.full((batch_size,), T, dtype=torch.long)}


def class_probabilities(logits: Tensor) -> Tensor:
    """(B, num_classes) probabilities from classifier logits: (B, 1) sigmoid or (B, K) softmax."""
    if logits.dim() != 2:
        raise ValueError(f"logits must have shape (B, 1) or (B, K), got {tuple(logits.shape)}")
    if logits.size(1) == 1:
        p = torch.sigmoid(logits)
        return torch.cat([1 - p, p], dim=1)
    return logits.softmax(dim=1)
