"""The SequenceClassifier's sentence encoders, one class per kind, in one registry.

Each encoder is built from the classifier's config and maps ids (B, T) and lengths (B,) to
sentence features (B, F), F being its `num_features`; `prepare(batches)` does any data-dependent
set-up before training (only nbsvm has one), and `init_output(linear)` may re-initialise the
classifier's output layer (nbsvm again). `ENCODERS` maps each `SequenceClassifierConfig.encoder`
name to its class; `@register_encoder(name, ...)` fills it, so the classifier never branches on
the name.

Kinds: "dense" (the Keras "ordinary network": Embedding, Flatten, Dense(relu); needs a fixed
`max_length`), "rnn", "lstm", "gru" (seqlab.nn recurrent layers), "ngram" (fastText bag of
hashed n-grams), "nbsvm" (NB-weighted binarized n-grams, Wang & Manning 2012), "cnn" (Kim
2014's parallel convolutions with max-over-time pooling) and "transformer" (a Transformer
encoder stack).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqlab.models.common import (
    PAD_ID,
    POOLINGS,
    length_mask,
    pool,
    recurrent_layer,
    transformer_stack,
)
from seqlab.models.ngram import NBWeightedBag, NgramBag
from seqlab.nn.transformer import positional_encoding

if TYPE_CHECKING:
    from seqlab.models.classifier import SequenceClassifierConfig

# encoder name (SequenceClassifierConfig.encoder) -> class, in registration order
ENCODERS: dict[str, type[SentenceEncoder]] = {}


def register_encoder(*names: str) -> Callable[[type[SentenceEncoder]], type[SentenceEncoder]]:
    """Class decorator: make the encoder class the one built for each of `names`."""

    def register(cls: type[SentenceEncoder]) -> type[SentenceEncoder]:
        for name in names:
            ENCODERS[name] = cls
        return cls

    return register


class SentenceEncoder(nn.Module):
    """Base of the classifier encoders: `forward(ids, lengths) -> features (B, num_features)`."""

    default_pooling: ClassVar[str] = "last"
    num_features: int

    def __init__(self, config: SequenceClassifierConfig) -> None:
        super().__init__()
        self.pooling = config.pooling or self.default_pooling
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {config.pooling!r}")

    def prepare(self, batches: Iterable[dict[str, Tensor]]) -> None:
        """Data-dependent set-up from the training batches; none by default."""

    def init_output(self, output: nn.Linear) -> None:
        """Re-initialise the classifier's output layer; by default torch's init stays."""


def token_embedding(config: SequenceClassifierConfig) -> nn.Embedding:
    """The word embedding of the dense, recurrent, convolutional and Transformer encoders.

    By default Keras' uniform(-0.05, 0.05) rather than torch's N(0, 1): with unit-variance
    embeddings the course's RMSprop models learn far more slowly (dense baseline 0.66 instead
    of Chollet's ~0.75 validation accuracy at maxlen 20). Kim (2014) starts CNN-rand's vectors
    in [-0.25, 0.25] (`embed_init`)."""
    if not config.embed_init > 0:
        raise ValueError(f"embed_init must be > 0, got {config.embed_init}")
    embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=PAD_ID)
    nn.init.uniform_(embedding.weight, -config.embed_init, config.embed_init)
    with torch.no_grad():
        embedding.weight[PAD_ID].zero_()
    return embedding


@register_encoder("dense")
class DenseEncoder(SentenceEncoder):
    """Keras' ordinary network: embed a fixed-length text, flatten it, one Dense(relu) layer."""

    def __init__(self, config: SequenceClassifierConfig) -> None:
        super().__init__(config)
        if not config.max_length:
            raise ValueError("the dense encoder needs a fixed max_length (Keras' maxlen)")
        self.max_length = config.max_length
        self.embedding = token_embedding(config)
        self.flatten = nn.Flatten()  # (B, T, C) -> (B, T*C)
        self.dense = nn.Linear(config.max_length * config.embed_dim, config.hidden_size)
        self.num_features = config.hidden_size

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """ids (B, T) with T <= max_length (or pads beyond it), lengths (B,) -> (B, hidden)."""
        L = self.max_length
        if ids.size(1) > L:
            if (ids[:, L:] != PAD_ID).any():
                raise ValueError(
                    f"ids has real tokens beyond max_length={L}; the dense encoder "
                    f"takes (B, T) with T <= {L} (truncate the text first)"
                )
            ids = ids[:, :L]
        # The pad embedding row stays zero (padding_idx), so right padding adds nothing.
        ids = F.pad(ids, (0, L - ids.size(1)), value=PAD_ID)  # (B, L)
        x = self.embedding(ids.masked_fill(~length_mask(lengths, ids.size(1)), PAD_ID))
        return torch.relu(self.dense(self.flatten(x)))


@register_encoder("rnn", "lstm", "gru")
class RecurrentEncoder(SentenceEncoder):
    """Embedding, a (stacked, optionally bidirectional) seqlab.nn RNN/LSTM/GRU, pooling."""

    def __init__(self, config: SequenceClassifierConfig) -> None:
        super().__init__(config)
        c = config
        self.embedding = token_embedding(c)
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
        self.hidden_size, self.bidirectional = c.hidden_size, c.bidirectional
        self.num_features = c.hidden_size * (2 if c.bidirectional else 1)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """ids (B, T), lengths (B,) -> pooled outputs (B, dirs*H)."""
        # Outputs only (no final state): the fused layers then skip the slow packed kernels.
        outputs = self.rnn.outputs(self.embedding(ids), lengths)  # (B, T, dirs*H)
        if self.pooling == "last" and self.bidirectional:
            # Keras' Bidirectional final state: forward after the last real token, backward
            # after the first one.
            H = self.hidden_size
            last = pool(outputs[..., :H], lengths, "last")
            return torch.cat([last, outputs[:, 0, H:]], dim=1)  # (B, 2H)
        return pool(outputs, lengths, self.pooling)


@register_encoder("ngram")
class NgramEncoder(SentenceEncoder):
    """fastText: the mean embedding of the text's hashed 1..n-grams (seqlab.models.ngram)."""

    def __init__(self, config: SequenceClassifierConfig) -> None:
        super().__init__(config)
        c = config
        self.bag = NgramBag(c.vocab_size, c.embed_dim, c.ngram_n, c.num_buckets)
        self.num_features = c.embed_dim

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """ids (B, T), lengths (B,) -> (B, C)."""
        return self.bag(ids, length_mask(lengths, ids.size(1)))


@register_encoder("nbsvm")
class NBSVMEncoder(SentenceEncoder):
    """NBSVM's NB-scaled binarized n-grams (two classes); `prepare` fits the NB ratios."""

    def __init__(self, config: SequenceClassifierConfig) -> None:
        super().__init__(config)
        c = config
        if c.num_classes != 2:
            raise ValueError(f"the nbsvm encoder needs two classes, got {c.num_classes}")
        self.bag = NBWeightedBag(c.vocab_size, c.embed_dim, c.ngram_n, c.num_buckets)
        self.alpha, self.min_count = c.nb_alpha, c.nb_min_count
        self.num_features = c.embed_dim

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """ids (B, T), lengths (B,) -> (B, C)."""
        return self.bag(ids, length_mask(lengths, ids.size(1)))

    @torch.no_grad()
    def prepare(self, batches: Iterable[dict[str, Tensor]]) -> None:
        """Fit the NB log-count ratios on the training batches (ids, lengths, labels)."""
        self.bag.fit_ratio(
            ((b["ids"], length_mask(b["lengths"], b["ids"].size(1)), b["labels"]) for b in batches),
            self.alpha,
            self.min_count,
        )

    def init_output(self, output: nn.Linear) -> None:
        """Logistic regression on fixed features: a unit output scale lets Adam's first steps
        move the logit at the learning rate (a random scale near 0 stalls them; measured on
        IMDB: valid accuracy 0.920 after one epoch instead of 0.908)."""
        nn.init.ones_(output.weight)
        nn.init.zeros_(output.bias)


@register_encoder("cnn")
class ConvEncoder(SentenceEncoder):
    """Kim (2014): 1-d convolutions of each width in `filter_widths` (`hidden_size` filters
    each) over the word embeddings, ReLU, then max (or mean) over the windows of each text;
    features (B, len(filter_widths) * hidden_size). Dropout before the output is the
    classifier's `dropout` (Kim: 0.5). `conv_padding` "valid" takes the windows inside the
    text; "full" pads width - 1 zero vectors at both ends, as Kim's code does, so a filter also
    sees a text's first and last words beside its edges ("<edge> How many")."""

    default_pooling: ClassVar[str] = "max"

    def __init__(self, config: SequenceClassifierConfig) -> None:
        super().__init__(config)
        c = config
        widths = tuple(c.filter_widths)
        if not widths or min(widths) < 1:
            raise ValueError(f"filter widths must be one or more integers >= 1, got {widths}")
        if self.pooling == "last":
            raise ValueError("the cnn encoder pools windows by max or mean, not last")
        if c.conv_padding not in ("valid", "full"):
            raise ValueError(f"conv_padding must be 'valid' or 'full', got {c.conv_padding!r}")
        self.widths, self.full = widths, c.conv_padding == "full"
        self.embedding = token_embedding(c)
        self.convs = nn.ModuleList(
            nn.Conv1d(c.embed_dim, c.hidden_size, w, padding=w - 1 if self.full else 0)
            for w in widths
        )
        self.num_features = c.hidden_size * len(widths)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """ids (B, T), lengths (B,) -> (B, len(widths) * filters)."""
        x = self.embedding(ids).transpose(1, 2)  # (B, C, T); padding embeds to zero
        if x.size(2) < max(self.widths):  # a text shorter than a filter: pad with zeros
            x = F.pad(x, (0, max(self.widths) - x.size(2)))
        features = []
        for width, conv in zip(self.widths, self.convs, strict=True):
            h = torch.relu(conv(x))  # (B, F, windows)
            # Windows past the text's last one see only padding; a text shorter than the
            # filter keeps its one (zero-padded) window. Full padding adds width - 1 at each end.
            overhang = width - 1 if self.full else 1 - width
            windows = torch.clamp(lengths + overhang, min=1)
            mask = length_mask(windows, h.size(2))[:, None, :]  # (B, 1, windows)
            if self.pooling == "max":  # ReLU outputs are >= 0: masked windows as 0 change nothing
                features.append(h.masked_fill(~mask, 0.0).amax(dim=2))
            else:
                features.append((h * mask).sum(dim=2) / windows[:, None].to(h.dtype))
        return torch.cat(features, dim=1)


@register_encoder("transformer")
class TransformerSentenceEncoder(SentenceEncoder):
    """Embedding x sqrt(C), positions, a Transformer encoder stack under the key mask, pooling
    (mean by default)."""

    default_pooling: ClassVar[str] = "mean"

    def __init__(self, config: SequenceClassifierConfig) -> None:
        super().__init__(config)
        c = config
        self.embedding = token_embedding(c)
        max_len = c.max_length or (5000 if c.positional == "sinusoidal" else 512)
        self.positions = positional_encoding(c.positional, c.embed_dim, max_len, c.layer_dropout)
        self.transformer = transformer_stack(c, c.layer_dropout)
        self.num_features = c.embed_dim

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """ids (B, T), lengths (B,) -> pooled outputs (B, C)."""
        # Scale embeddings by sqrt(C) before adding positions (Vaswani §3.4).
        x = self.positions(self.embedding(ids) * math.sqrt(self.num_features))  # (B, T, C)
        x = self.transformer(x, key_mask=length_mask(lengths, x.size(1)))
        return pool(x, lengths, self.pooling)
