"""LanguageModel: a causal Transformer (the PyTorch tutorial model) or an RNN/LSTM/GRU LM.

Transformer (pytorch tutorial "Language Modeling with nn.Transformer"): embedding x sqrt(C),
positional encoding, encoder stack under a square subsequent (causal) mask, linear decoder.
Recurrent (pytorch/examples word_language_model): embedding, dropout, RNN, dropout, linear decoder.
`tie_weights` shares the embedding and decoder matrices (Press & Wolf 2017; Inan et al. 2017).
`adaptive_cutoffs` replaces the decoder by an adaptive softmax (Grave et al. 2017): frequent words
get the full hidden size, rare ones a smaller projection, which makes a 33k-word output layer
several times cheaper on a CPU. It needs token ids sorted by frequency, as `Vocab` gives them.

One interface for both families: `decode(tokens, state) -> (logits, state)` continues a text
from a state (the RNN's hidden state, or the Transformer's `KVCache` of keys and values), so
generation and truncated BPTT never branch on the architecture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from seqlab.models.common import (
    PAD_ID,
    batch_first_state,
    check_ids,
    layer_first_state,
    recurrent_layer,
    token_loss,
)
from seqlab.nn.attention import KVCache
from seqlab.nn.output import VocabProjection
from seqlab.nn.transformer import TransformerEncoder, positional_encoding

ARCHS = ("transformer", "rnn", "lstm", "gru")


@dataclass
class LanguageModelConfig:
    """Hyper-parameters of a LanguageModel (the defaults are the PyTorch tutorial's)."""

    vocab_size: int
    arch: str = "transformer"  # one of ARCHS
    embed_dim: int = 200
    hidden_size: int = 200  # Transformer feed-forward size / recurrent state size
    num_layers: int = 2
    num_heads: int = 2
    dropout: float = 0.2
    tie_weights: bool = False
    backend: str = "fused"
    positional: str = "sinusoidal"  # or "learned"
    max_length: int = 5000  # longest sequence the positional encoding covers
    norm_first: bool = False
    adaptive_cutoffs: list[int] | None = None  # e.g. [2000, 10000]; None: a full softmax


class LanguageModel(nn.Module):
    """Next-token model; `logits, loss = model(tokens, targets)` with logits (B, T, V)."""

    def __init__(self, config: LanguageModelConfig) -> None:
        super().__init__()
        c = self.config = config
        if c.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {c.arch!r}")
        self.embedding = nn.Embedding(c.vocab_size, c.embed_dim)
        if c.arch == "transformer":
            self.positions = positional_encoding(c.positional, c.embed_dim, c.max_length, c.dropout)
            self.transformer = TransformerEncoder(
                c.embed_dim,
                c.num_heads,
                c.hidden_size,
                c.num_layers,
                c.dropout,
                c.norm_first,
                c.backend,
            )
            out_size = c.embed_dim
        else:
            self.dropout = nn.Dropout(c.dropout)
            self.rnn = recurrent_layer(
                c.arch,
                c.embed_dim,
                c.hidden_size,
                c.num_layers,
                dropout=c.dropout,
                backend=c.backend,
            )
            out_size = c.hidden_size
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)  # the tutorial's initialisation
        if c.adaptive_cutoffs:
            if c.tie_weights:
                raise ValueError("tie_weights and an adaptive softmax cannot be combined")
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
            if out_size != c.embed_dim:
                raise ValueError(
                    f"tie_weights needs hidden_size == embed_dim, got {out_size} != {c.embed_dim}"
                )
            self.decoder.weight = self.embedding.weight

    @property
    def is_transformer(self) -> bool:
        """True for the Transformer (a key/value cache), False for RNNs (a hidden state)."""
        return self.config.arch == "transformer"

    def features(self, tokens: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """Top-layer outputs h (B, T, C) of tokens (B, T) after `state`, and the new state."""
        x = self.embedding(tokens)  # (B, T, C)
        if self.is_transformer:
            # Causal self-attention: position t sees tokens <= t only (cached ones included).
            # Right padding needs no key mask: pads come after every real token they could
            # disturb.
            start = 0 if state is None else len(state)
            x = self.positions(x * math.sqrt(self.config.embed_dim), start)
            return self.transformer(x, causal=True, cache=state), state
        h0 = None if state is None else layer_first_state(state)
        h, state = self.rnn(self.dropout(x), h0)
        return self.dropout(h), batch_first_state(state)

    def logits(self, h: Tensor) -> Tensor:
        """Next-token scores (B, T, V); log-probabilities for the adaptive softmax."""
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
        if self.is_transformer and state is None:
            state = KVCache(self.config.num_layers)
        h, state = self.features(tokens, state)
        return self.logits(h), state

    def forward(
        self, tokens: Tensor, targets: Tensor | None = None, carry: Any = None
    ) -> tuple[Tensor | None, Tensor | None]:
        """tokens (B, T) -> logits (B, T, V); loss = mean cross-entropy over non-pad targets.

        `carry` (a `seqlab.train.CarryState`) continues an RNN from `carry.state` and leaves the
        final state there (truncated BPTT). A Transformer sees each batch as its own window, as
        in the PyTorch tutorial, and ignores it. With an adaptive softmax and targets, logits
        are None: the full (B, T, V) scores are the very cost it avoids.
        """
        check_ids("tokens", tokens, self.config.vocab_size)
        state = None
        if carry is not None and not self.is_transformer:
            state = carry.state
        h, state = self.features(tokens, state)
        if carry is not None and not self.is_transformer:
            carry.state = state
        if targets is None:
            return self.logits(h), None
        check_ids("targets", targets, self.config.vocab_size)
        if targets.shape != tokens.shape:
            raise ValueError(
                f"targets must have the shape of tokens (B, T)={tuple(tokens.shape)}, "
                f"got {tuple(targets.shape)}"
            )
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
