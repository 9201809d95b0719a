"""TransformerTranslator: the compact course form and the standard encoder-decoder Transformer.

- mode="standard" (Vaswani et al. 2017, Fig. 1): an encoder stack over the source, a decoder stack
  with causal self-attention and cross-attention over the encoder memory, a linear output layer.
- mode="compact" (the course assignment): encoder layer(s) over the source whose output at source
  position t feeds a per-position output layer predicting target token t (tgt[:, 1:], no <sos>).
  Source and target are aligned by position; the logits cover max(S, T-1) positions, the shorter
  side being padded, so targets longer than the source are still predicted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqlab.models.common import (
    PAD_ID,
    check_ids,
    check_lengths,
    length_mask,
    token_loss,
    translation_example,
)
from seqlab.models.seq2seq import check_target
from seqlab.nn.transformer import TransformerDecoder, TransformerEncoder, positional_encoding

MODES = ("standard", "compact")


@dataclass
class TransformerTranslatorConfig:
    """Hyper-parameters of a TransformerTranslator."""

    src_vocab_size: int
    tgt_vocab_size: int
    mode: str = "standard"  # or "compact"
    d_model: int = 128
    num_heads: int = 4
    d_ff: int = 256
    num_encoder_layers: int = 2
    num_decoder_layers: int = 2  # unused in compact mode
    dropout: float = 0.1
    positional: str = "sinusoidal"  # or "learned"
    max_length: int = 256  # longest source/target the positional encoding covers
    norm_first: bool = False
    backend: str = "fused"


class TransformerTranslator(nn.Module):
    """Transformer for translation; `logits, loss = model(src, src_lengths, tgt)`."""

    def __init__(self, config: TransformerTranslatorConfig) -> None:
        super().__init__()
        c = self.config = config
        if c.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {c.mode!r}")
        self.src_embedding = nn.Embedding(c.src_vocab_size, c.d_model, padding_idx=PAD_ID)
        self.positions = positional_encoding(c.positional, c.d_model, c.max_length, c.dropout)
        layers = (c.d_model, c.num_heads, c.d_ff)
        rest = (c.dropout, c.norm_first, c.backend)
        self.encoder = TransformerEncoder(*layers, c.num_encoder_layers, *rest)
        if c.mode == "standard":
            self.tgt_embedding = nn.Embedding(c.tgt_vocab_size, c.d_model, padding_idx=PAD_ID)
            self.decoder = TransformerDecoder(*layers, c.num_decoder_layers, *rest)
        self.output = nn.Linear(c.d_model, c.tgt_vocab_size)

    def _embed(self, embedding: nn.Embedding, ids: Tensor) -> Tensor:
        # Embeddings are scaled by sqrt(d_model) before adding positions (Vaswani §3.4).
        return self.positions(embedding(ids) * math.sqrt(self.config.d_model))

    def encode(self, src: Tensor, src_lengths: Tensor | None) -> tuple[Tensor, Tensor]:
        """src (B, S) -> memory (B, S, C) and source mask (B, S), True at real tokens."""
        check_ids("src", src, self.config.src_vocab_size)
        src_lengths = check_lengths("src_lengths", src_lengths, src)
        src_mask = length_mask(src_lengths, src.size(1))
        return self.encoder(self._embed(self.src_embedding, src), key_mask=src_mask), src_mask

    def decode(self, tgt_in: Tensor, memory: Tensor, src_mask: Tensor) -> Tensor:
        """Standard mode: decoder inputs (B, T) over memory (B, S, C) -> logits (B, T, V)."""
        if self.config.mode != "standard":
            raise ValueError("decode() exists in mode='standard' only; compact mode has no decoder")
        # Right-padded targets need no key mask: causal attention never looks ahead at the pads.
        h = self.decoder(self._embed(self.tgt_embedding, tgt_in), memory, src_mask)
        return self.output(h)

    def forward(
        self,
        src: Tensor,
        src_lengths: Tensor | None,
        tgt: Tensor,
        tgt_lengths: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Logits for tgt[:, 1:] ((B, T-1, V); compact: (B, max(S, T-1), V)) and the mean loss."""
        check_target(tgt, self.config.tgt_vocab_size)
        targets = tgt[:, 1:]
        if self.config.mode == "compact":
            L = max(src.size(1), targets.size(1))
            src = F.pad(src, (0, L - src.size(1)), value=PAD_ID)
            targets = F.pad(targets, (0, L - targets.size(1)), value=PAD_ID)
            memory, _ = self.encode(src, src_lengths)
            logits = self.output(memory)  # (B, L, V): one prediction per source position
        else:
            memory, src_mask = self.encode(src, src_lengths)
            logits = self.decode(tgt[:, :-1], memory, src_mask)
        return logits, token_loss(logits, targets)

    @torch.no_grad()
    def greedy_decode(
        self, src: Tensor, src_lengths: Tensor | None, sos_id: int, eos_id: int, max_length: int
    ) -> Tensor:
        """Greedy translations (B, <= max_length) without <sos>; after <eos> a row holds pads."""
        if self.config.mode == "compact":
            L = max(src.size(1), max_length)
            memory, _ = self.encode(F.pad(src, (0, L - src.size(1)), value=PAD_ID), src_lengths)
            out = self.output(memory)[:, :max_length].argmax(-1)  # (B, max_length)
            after_eos = (out == eos_id).long().cumsum(1) - (out == eos_id).long() > 0
            return out.masked_fill(after_eos, PAD_ID)
        memory, src_mask = self.encode(src, src_lengths)
        B = src.size(0)
        tokens = torch.full((B, 1), sos_id, dtype=torch.long, device=src.device)
        done = torch.zeros(B, dtype=torch.bool, device=src.device)
        for _ in range(max_length):
            nxt = self.decode(tokens, memory, src_mask)[:, -1:].argmax(-1)  # (B, 1)
            nxt = nxt.masked_fill(done[:, None], PAD_ID)
            tokens = torch.cat([tokens, nxt], dim=1)
            done |= nxt[:, 0] == eos_id
            if done.all():
                break
        return tokens[:, 1:]

    def example_batch(self, batch_size: int = 2, length: int | None = None) -> dict[str, Tensor]:
        """A random translation batch, e.g. for `seqlab.summary`."""
        c = self.config
        return translation_example(c.src_vocab_size, c.tgt_vocab_size, batch_size, length or 8)
