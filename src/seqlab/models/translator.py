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
from typing import NamedTuple

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
from seqlab.nn.attention import KVCache
from seqlab.nn.transformer import TransformerDecoder, TransformerEncoder, positional_encoding

MODES = ("standard", "compact")


class EncoderMemory(NamedTuple):
    """What the decoder reads: encoder outputs (B, S, C) and source mask (B, S), True = real."""

    outputs: Tensor
    mask: Tensor


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

    def _embed(self, embedding: nn.Embedding, ids: Tensor, start: int = 0) -> Tensor:
        # Embeddings are scaled by sqrt(d_model) before adding positions (Vaswani §3.4).
        return self.positions(embedding(ids) * math.sqrt(self.config.d_model), start)

    def encode(self, src: Tensor, src_lengths: Tensor | None) -> EncoderMemory:
        """src (B, S) -> memory (B, S, C) and source mask (B, S), True at real tokens."""
        check_ids("src", src, self.config.src_vocab_size)
        src_lengths = check_lengths("src_lengths", src_lengths, src)
        src_mask = length_mask(src_lengths, src.size(1))
        outputs = self.encoder(self._embed(self.src_embedding, src), key_mask=src_mask)
        return EncoderMemory(outputs, src_mask)

    def decode(
        self, tgt_in: Tensor, memory: EncoderMemory, state: KVCache | None = None
    ) -> tuple[Tensor, KVCache]:
        """Decoder inputs (B, T) after the cached positions -> logits (B, T, V) and the cache.

        The state is a `KVCache` of the decoder's self-attention keys and values (updated in
        place): decoding one token at a time costs one position per step, and equals decoding
        the whole prefix at once (tested). Standard mode only; compact mode has no decoder.
        """
        if self.config.mode != "standard":
            raise ValueError("decode() exists in mode='standard' only; compact mode has no decoder")
        check_ids("tgt_in", tgt_in, self.config.tgt_vocab_size)
        cache = KVCache(self.config.num_decoder_layers) if state is None else state
        x = self._embed(self.tgt_embedding, tgt_in, start=len(cache))
        # Right-padded targets need no key mask: causal attention never looks ahead at the pads.
        h = self.decoder(x, memory.outputs, memory.mask, cache=cache)
        return self.output(h), cache

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
            memory = self.encode(src, src_lengths)
            logits = self.output(memory.outputs)  # (B, L, V): one prediction per source position
        else:
            logits, _ = self.decode(tgt[:, :-1], self.encode(src, src_lengths))
        return logits, token_loss(logits, targets)

    @torch.no_grad()
    def compact_decode(self, src: Tensor, src_lengths: Tensor | None, eos_id: int, max_length: int):
        """Compact mode: the most likely target token at each source position, (B, max_length),
        pads after <eos>. (The model is not autoregressive: this argmax is its exact best.)"""
        if self.config.mode != "compact":
            raise ValueError("compact_decode() is for mode='compact'; use seqlab.decoding")
        L = max(src.size(1), max_length)
        memory = self.encode(F.pad(src, (0, L - src.size(1)), value=PAD_ID), src_lengths)
        out = self.output(memory.outputs)[:, :max_length].argmax(-1)  # (B, max_length)
        after_eos = (out == eos_id).long().cumsum(1) - (out == eos_id).long() > 0
        return out.masked_fill(after_eos, PAD_ID)

    def example_batch(self, batch_size: int = 2, length: int | None = None) -> dict[str, Tensor]:
        """A random translation batch, e.g. for `seqlab.summary`."""
        c = self.config
        return translation_example(c.src_vocab_size, c.tgt_vocab_size, batch_size, length or 8)
