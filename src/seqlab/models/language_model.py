"""LanguageModel: a causal Transformer (the PyTorch tutorial model) or an RNN/LSTM/GRU LM.

Transformer (pytorch tutorial "Language Modeling with nn.Transformer"): embedding x sqrt(C),
positional encoding, encoder stack under a square subsequent (causal) mask, linear decoder.
Recurrent (pytorch/examples word_language_model): embedding, dropout, RNN, dropout, linear decoder.
`tie_weights` shares the embedding and decoder matrices (Press & Wolf 2017; Inan et al. 2017).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from seqlab.models.common import check_ids, recurrent_layer, token_loss
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
        self.decoder = nn.Linear(out_size, c.vocab_size)
        # The tutorial's initialisation: uniform(-0.1, 0.1) weights, zero decoder bias.
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        if c.tie_weights:
            if out_size != c.embed_dim:
                raise ValueError(
                    f"tie_weights needs hidden_size == embed_dim, got {out_size} != {c.embed_dim}"
                )
            self.decoder.weight = self.embedding.weight

    def forward(
        self, tokens: Tensor, targets: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """tokens (B, T) -> logits (B, T, V); loss = mean cross-entropy over non-pad targets."""
        check_ids("tokens", tokens, self.config.vocab_size)
        x = self.embedding(tokens)  # (B, T, C)
        if self.config.arch == "transformer":
            # Causal self-attention: position t sees tokens <= t only. Right padding needs no key
            # mask, since pads come after every real token they could disturb.
            x = self.positions(x * math.sqrt(self.config.embed_dim))
            h = self.transformer(x, causal=True)
        else:
            h, _ = self.rnn(self.dropout(x))
            h = self.dropout(h)
        logits = self.decoder(h)  # (B, T, V)
        if targets is None:
            return logits, None
        check_ids("targets", targets, self.config.vocab_size)
        if targets.shape != tokens.shape:
            raise ValueError(
                f"targets must have the shape of tokens (B, T)={tuple(tokens.shape)}, "
                f"got {tuple(targets.shape)}"
            )
        return logits, token_loss(logits, targets)

    @torch.no_grad()
    def generate(self, tokens: Tensor, max_new_tokens: int, temperature: float = 1.0) -> Tensor:
        """Extend tokens (B, T) by sampling (temperature 0: greedy); returns (B, T+new)."""
        for _ in range(max_new_tokens):
            logits = self(tokens[:, -self.config.max_length :])[0][:, -1]  # (B, V)
            if temperature == 0:
                nxt = logits.argmax(-1, keepdim=True)
            else:
                nxt = torch.multinomial((logits / temperature).softmax(-1), 1)
            tokens = torch.cat([tokens, nxt], dim=1)
        return tokens

    def example_batch(self, batch_size: int = 2, length: int | None = None) -> dict[str, Tensor]:
        """A random (tokens, targets) batch, e.g. for `seqlab.summary`."""
        T = length or 8
        data = torch.randint(1, self.config.vocab_size, (batch_size, T + 1))
        return {"tokens": data[:, :-1], "targets": data[:, 1:]}
