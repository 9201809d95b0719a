"""Language models: `TransformerLM` (the PyTorch tutorial model) and `RecurrentLM` (RNN/LSTM/GRU).

Transformer (pytorch tutorial "Language Modeling with nn.Transformer"): embedding x sqrt(C),
positional encoding, encoder stack under a square subsequent (causal) mask, linear decoder.
Recurrent (pytorch/examples word_language_model): embedding, dropout, RNN, dropout, linear decoder.
`tie_weights` shares the embedding and decoder matrices (Press & Wolf 2017; Inan et al. 2017).
`adaptive_cutoffs` replaces the decoder by an adaptive softmax (Grave et al. 2017): frequent words
get the full hidden size, rare ones a smaller projection, which makes a 33k-word output layer
several times cheaper on a CPU. It needs token ids sorted by frequency, as `Vocab` gives them.
`factored_classes` K replaces it by the exact class-factored softmax `seqlab.nn.FactoredSoftmax`
(P(w|h) = P(class(w)|h) P(w|class(w), h)), whose K frequency classes (Mikolov et al. 2011) come
from the training stream's counts (`prepare`).

Both share one config (`LanguageModelConfig`, whose `arch` picks the class: build with
`language_model(config)`) and one base class, `LanguageModel`, which owns the embedding, the
output head (decoder, tied decoder or adaptive softmax) and the loss. One interface for both:
`decode(tokens, state) -> (logits, state)` continues a text from a state (the RNN's hidden state,
or the Transformer's `KVCache` of keys and values), so generation and truncated BPTT never branch
on the architecture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqlab.models.common import (
    PAD_ID,
    batch_first_state,
    check_ids,
    layer_first_state,
    recurrent_layer,
    token_loss,
    transformer_stack,
)
from seqlab.nn.attention import KVCache
from seqlab.nn.factored import FactoredSoftmax, balanced_classes, frequency_classes
from seqlab.nn.output import VocabProjection
from seqlab.nn.recurrent import locked_dropout
from seqlab.nn.transformer import positional_encoding


@dataclass
class LanguageModelConfig:
    """Hyper-parameters of a TransformerLM or RecurrentLM (the defaults are the PyTorch
    tutorial's); `arch` picks the class."""

    vocab_size: int
    arch: str = "transformer"  # one of ARCHS
    embed_dim: int = 200
    hidden_size: int = 200  # Transformer feed-forward size / recurrent state size
    num_layers: int = 2
    num_heads: int = 2
    dropout: float = 0.2
    embed_dropout: float = 0.0  # training: drop whole words' vectors (AWD-LSTM's embedding dropout)
    weight_drop: float = 0.0  # recurrent: DropConnect on the hidden-to-hidden weights (AWD-LSTM)
    locked_dropout: bool = False  # recurrent: one dropout mask per sequence for all its steps
    tie_weights: bool = False
    backend: str = "fused"
    positional: str = "sinusoidal"  # or "learned"
    max_length: int = 5000  # longest sequence the positional encoding covers
    norm_first: bool = False
    adaptive_cutoffs: list[int] | None = None  # e.g. [2000, 10000]; None: a full softmax
    factored_classes: int | None = None  # a class-factored softmax over this many classes


class LanguageModel(nn.Module):
    """Base of the language models: the embedding, the output head and the loss.

    `logits, loss = model(tokens, targets)` with logits (B, T, V). Subclasses build their layers
    between `super().__init__(config)` (the embedding) and `self._init_output(size)` (the head),
    which keeps the order of parameters and random draws of the single class this replaced, and
    define `features`. Build one with `language_model(config)`.
    """

    def __init__(self, config: LanguageModelConfig) -> None:
        super().__init__()
        if type(self) is LanguageModel:
            raise TypeError("LanguageModel is a base class: build with language_model(config)")
        if language_model_class(config.arch) is not type(self):
            raise ValueError(f"arch {config.arch!r} is not a {type(self).__name__}")
        if not 0.0 <= config.embed_dropout < 1.0:
            raise ValueError(f"embed_dropout must be in [0, 1), got {config.embed_dropout}")
        if config.weight_drop and config.arch == "transformer":
            raise ValueError("weight_drop drops recurrent weights: use it with rnn, lstm or gru")
        if config.locked_dropout and config.arch == "transformer":
            raise ValueError("locked_dropout is for recurrent models: use it with rnn, lstm or gru")
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim)

    def _init_output(self, out_size: int) -> None:
        """Initialise the embedding, then build the output head on features of `out_size`."""
        c = self.config
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)  # the tutorial's initialisation
        if c.tie_weights and c.adaptive_cutoffs:
            raise ValueError("tie_weights and an adaptive softmax cannot be combined")
        if c.tie_weights and out_size != c.embed_dim:
            raise ValueError(
                f"tie_weights needs hidden_size == embed_dim, got {out_size} != {c.embed_dim}"
            )
        if c.factored_classes:
            if c.adaptive_cutoffs:
                raise ValueError("a factored softmax cannot be combined with an adaptive one")
            if not 1 <= c.factored_classes <= c.vocab_size:
                raise ValueError(
                    f"factored_classes must be in [1, vocab_size={c.vocab_size}], "
                    f"got {c.factored_classes}"
                )
            # balanced classes until `prepare` assigns the frequency classes (a loaded
            # checkpoint brings its own map)
            classes = balanced_classes(c.vocab_size, c.factored_classes)
            self.factored = FactoredSoftmax(out_size, classes, c.factored_classes)
            if c.tie_weights:  # the input embedding of word w is its output row (`embed`)
                del self.embedding
            return
        if c.adaptive_cutoffs:
            cutoffs = list(c.adaptive_cutoffs)
            if cutoffs != sorted(set(cutoffs)) or cutoffs[0] < 1 or cutoffs[-1] >= c.vocab_size:
                raise ValueError(
                    f"adaptive_cutoffs must increase strictly within (0, vocab_size="
                    f"{c.vocab_size}), got {cutoffs}"
                )
            self.adaptive = nn.AdaptiveLogSoftmaxWithLoss(out_size, c.vocab_size, cutoffs, 4.0)
            return
        self.decoder = VocabProjection(out_size, c.vocab_size)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        if c.tie_weights:
            self.decoder.weight = self.embedding.weight

    def features(self, tokens: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """Top-layer outputs h (B, T, C) of tokens (B, T) after `state`, and the new state."""
        raise NotImplementedError

    def embed(self, tokens: Tensor) -> Tensor:
        """Word vectors (B, T, E) of tokens (B, T): the embedding's rows, or for a tied factored
        softmax the output rows of the words (stored sorted by class)."""
        if self.config.factored_classes and self.config.tie_weights:
            vectors = F.embedding(self.factored.row[tokens], self.factored.weight)
        else:
            vectors = self.embedding(tokens)
        p = self.config.embed_dropout
        if self.training and p > 0:
            # Embedding dropout (Gal & Ghahramani 2016; Merity et al. 2018): each word of the
            # vocabulary keeps or loses its whole vector for the batch, wherever it occurs.
            keep = torch.bernoulli(vectors.new_full((self.config.vocab_size,), 1 - p)) / (1 - p)
            vectors = vectors * keep[tokens].unsqueeze(-1)
        return vectors

    @torch.no_grad()
    def prepare(self, tokens: Tensor) -> None:
        """Data-dependent set-up from the training stream (token ids) before training: the
        factored softmax's frequency classes; nothing for the other output heads."""
        if self.config.factored_classes:
            counts = torch.bincount(tokens.reshape(-1).cpu(), minlength=self.config.vocab_size)
            self.factored.assign_classes(frequency_classes(counts, self.config.factored_classes))

    def start_state(self) -> Any:
        """The state `decode` starts from when given none."""
        return None

    def _train_features(self, tokens: Tensor, carry: Any) -> Tensor:
        """Features for `forward`; `carry` (a `seqlab.train.CarryState`) is ignored here."""
        return self.features(tokens)[0]

    def logits(self, h: Tensor) -> Tensor:
        """Next-token scores (B, T, V); log-probabilities for the adaptive and factored
        softmaxes."""
        if self.config.factored_classes:
            with torch.autocast(h.device.type, enabled=False):  # log-sum-exps in full precision
                return self.factored.log_prob(h.to(self.factored.weight.dtype))
        if self.config.adaptive_cutoffs:
            B, T, C = h.shape
            with torch.autocast(h.device.type, enabled=False):  # as in forward()
                h = h.to(self.adaptive.head.weight.dtype)
                return self.adaptive.log_prob(h.reshape(B * T, C)).view(B, T, -1)
        return self.decoder(h)

    def decode(self, tokens: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """Logits (B, T, V) of the tokens after each of tokens (B, T), continuing from `state`.

        The returned state continues the text: `decode(b, decode(a)[1])` gives the logits of
        `decode(cat(a, b))` for the positions of b. For the Transformer the state is a `KVCache`,
        updated in place; for RNNs the hidden state, batch-first: (h,) or (h, c), each
        (B, layers, H).
        """
        check_ids("tokens", tokens, self.config.vocab_size)
        h, state = self.features(tokens, self.start_state() if state is None else state)
        return self.logits(h), state

    def forward(
        self, tokens: Tensor, targets: Tensor | None = None, carry: Any = None
    ) -> tuple[Tensor | None, Tensor | None]:
        """tokens (B, T) -> logits (B, T, V); loss = mean cross-entropy over non-pad targets.

        `carry` (a `seqlab.train.CarryState`) continues an RNN from `carry.state` and leaves the
        final state there (truncated BPTT). A Transformer sees each batch as its own window, as
        in the PyTorch tutorial, and ignores it. With an adaptive or factored softmax and targets,
        logits are None: the full (B, T, V) scores are the very cost they avoid.
        """
        check_ids("tokens", tokens, self.config.vocab_size)
        h = self._train_features(tokens, carry)
        if targets is None:
            return self.logits(h), None
        check_ids("targets", targets, self.config.vocab_size)
        if targets.shape != tokens.shape:
            raise ValueError(
                f"targets must have the shape of tokens (B, T)={tuple(tokens.shape)}, "
                f"got {tuple(targets.shape)}"
            )
        if self.config.factored_classes:
            with torch.autocast(h.device.type, enabled=False):
                h = h.to(self.factored.weight.dtype)
                return None, self.factored.loss(h, targets, ignore_index=PAD_ID)
        if not self.config.adaptive_cutoffs:
            logits = self.logits(h)
            return logits, token_loss(logits, targets)
        keep = targets.reshape(-1) != PAD_ID  # the adaptive softmax has no ignore_index
        h = h.reshape(-1, h.size(-1))[keep]  # (N, C)
        # torch's adaptive softmax mixes dtypes under autocast (index_copy_ of bf16 into fp32):
        # it runs in the parameters' dtype.
        with torch.autocast(h.device.type, enabled=False):
            h = h.to(self.adaptive.head.weight.dtype)
            return None, self.adaptive(h, targets.reshape(-1)[keep]).loss

    def example_batch(self, batch_size: int = 2, length: int | None = None) -> dict[str, Tensor]:
        """A random (tokens, targets) batch, e.g. for `seqlab.summary`."""
        T = length or 8
        data = torch.randint(1, self.config.vocab_size, (batch_size, T + 1))
        return {"tokens": data[:, :-1], "targets": data[:, 1:]}


class TransformerLM(LanguageModel):
    """Causal Transformer LM: embedding x sqrt(C), positions, encoder stack under a causal mask,
    output head. Its decoding state is a `KVCache`."""

    def __init__(self, config: LanguageModelConfig) -> None:
        super().__init__(config)
        c = config
        self.positions = positional_encoding(c.positional, c.embed_dim, c.max_length, c.dropout)
        self.transformer = transformer_stack(c, c.dropout)
        self._init_output(c.embed_dim)

    def features(self, tokens: Tensor, state: KVCache | None = None) -> tuple[Tensor, Any]:
        """Top-layer outputs h (B, T, C) of tokens (B, T) after the cached ones, and the cache."""
        x = self.embed(tokens)  # (B, T, C)
        # Causal self-attention: position t sees tokens <= t only (cached ones included).
        # Right padding needs no key mask: pads come after every real token they could disturb.
        start = 0 if state is None else len(state)
        x = self.positions(x * math.sqrt(self.config.embed_dim), start)
        return self.transformer(x, causal=True, cache=state), state

    def start_state(self) -> KVCache:
        """An empty cache of every layer's keys and values."""
        return KVCache(self.config.num_layers)


class RecurrentLM(LanguageModel):
    """RNN/LSTM/GRU LM (pytorch/examples word_language_model): embedding, dropout, recurrent
    layers, dropout, output head. Its state is the hidden state, carried across BPTT windows."""

    def __init__(self, config: LanguageModelConfig) -> None:
        super().__init__(config)
        c = config
        self.dropout = nn.Dropout(c.dropout)
        self.rnn = recurrent_layer(
            c.arch,
            c.embed_dim,
            c.hidden_size,
            c.num_layers,
            dropout=c.dropout,
            backend=c.backend,
            weight_drop=c.weight_drop,
            locked=c.locked_dropout,
        )
        self._init_output(c.hidden_size)

    def features(self, tokens: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """Top-layer outputs h (B, T, H) after `state` (batch-first), and the new state."""
        h0 = None if state is None else layer_first_state(state)
        h, state = self.rnn(self._drop(self.embed(tokens)), h0)
        return self._drop(h), batch_first_state(state)

    def _drop(self, x: Tensor) -> Tensor:
        """Dropout on the recurrent layers' inputs and outputs (B, T, C): per element, or with
        `locked_dropout` one mask per sequence (variational dropout, as between the layers)."""
        if self.config.locked_dropout:
            return locked_dropout(x, self.config.dropout, self.training)
        return self.dropout(x)

    def _train_features(self, tokens: Tensor, carry: Any) -> Tensor:
        """Features continuing from `carry.state`, whose state they leave there (truncated BPTT)."""
        if carry is None:
            return self.features(tokens)[0]
        h, carry.state = self.features(tokens, carry.state)
        return h


# arch (LanguageModelConfig.arch) -> class
LANGUAGE_MODELS: dict[str, type[LanguageModel]] = {
    "transformer": TransformerLM,
    "rnn": RecurrentLM,
    "lstm": RecurrentLM,
    "gru": RecurrentLM,
}
ARCHS = tuple(LANGUAGE_MODELS)


def language_model_class(arch: str) -> type[LanguageModel]:
    """The class of a LanguageModelConfig.arch; ValueError for an unknown one."""
    if arch not in LANGUAGE_MODELS:
        raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
    return LANGUAGE_MODELS[arch]


def language_model(config: LanguageModelConfig) -> LanguageModel:
    """The TransformerLM or RecurrentLM that `config.arch` names."""
    return language_model_class(config.arch)(config)
