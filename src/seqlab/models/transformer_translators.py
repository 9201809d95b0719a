"""Transformer translators: the standard encoder-decoder and the course's compact form.

- `TransformerTranslator` (Vaswani et al. 2017, Fig. 1): an encoder stack over the source, a
  decoder stack with causal self-attention and cross-attention over the encoder memory, a linear
  output layer.
- `CompactTranslator` (the course assignment): encoder layer(s) over the source whose output at
  source position t feeds a per-position output layer predicting target token t (tgt[:, 1:], no
  <sos>). Source and target are aligned by position; the logits cover max(S, T-1) positions, the
  shorter side being padded, so targets longer than the source are still predicted.

Both configs name their sizes as the other models do: `embed_dim` (Vaswani's d_model),
`hidden_size` (his d_ff), `num_layers`; checkpoints with the old names are upgraded by
`seqlab.models.model_from_config`. Both follow the decoding contract of `seqlab.decoding`
(`encode`, then `decode(tgt_in, memory, state)`), so greedy and beam search serve them unchanged.
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
    Translator,
    check_ids,
    check_lengths,
    length_mask,
    transformer_stack,
)
from seqlab.nn.attention import KVCache
from seqlab.nn.output import VocabProjection
from seqlab.nn.transformer import TransformerDecoder, positional_encoding


class EncoderMemory(NamedTuple):
    """What the decoder reads: encoder outputs (B, S, C) and source mask (B, S), True = real."""

    outputs: Tensor
    mask: Tensor


@dataclass
class TransformerSizes:
    """The settings both Transformer translators share (saved in checkpoints)."""

    src_vocab_size: int
    tgt_vocab_size: int
    embed_dim: int = 128  # Vaswani's d_model
    num_heads: int = 4
    hidden_size: int = 256  # the feed-forward size, Vaswani's d_ff
    num_layers: int = 1  # encoder layers
    dropout: float = 0.1
    positional: str = "sinusoidal"  # or "learned"
    max_length: int = 256  # longest source/target the positional encoding covers
    norm_first: bool = False
    backend: str = "fused"
    label_smoothing: float = 0.0  # training loss only (see models.common.token_loss)


@dataclass
class TransformerTranslatorConfig(TransformerSizes):
    """Hyper-parameters of a TransformerTranslator."""

    num_layers: int = 2  # encoder layers
    decoder_layers: int | None = None  # None: as many as num_layers


@dataclass
class CompactTranslatorConfig(TransformerSizes):
    """Hyper-parameters of the course's CompactTranslator (no decoder)."""


def scaled_embedding(vocab_size: int, d_model: int) -> nn.Embedding:
    """A token embedding for inputs scaled by sqrt(d_model) (Vaswani §3.4), drawn from
    N(0, 1/d_model) as fairseq's Transformer does, so the scaled vectors have unit variance,
    the size of the positional encoding. (nn.Embedding's own N(0, 1), scaled by sqrt(256) = 16,
    buries the positions and saturates the first attention softmax.)"""
    embedding = nn.Embedding(vocab_size, d_model, padding_idx=PAD_ID)
    nn.init.normal_(embedding.weight, std=d_model**-0.5)
    with torch.no_grad():
        embedding.weight[PAD_ID].zero_()
    return embedding


class _TransformerSource(Translator):
    """The source side both translators share: embedding, positions and encoder stack, created
    in this order (which fixes the random initialisation)."""

    def __init__(self, config: TransformerSizes) -> None:
        super().__init__()
        c = self.config = config
        self.src_embedding = scaled_embedding(c.src_vocab_size, c.embed_dim)
        self.positions = positional_encoding(c.positional, c.embed_dim, c.max_length, c.dropout)
        self.encoder = transformer_stack(c, c.dropout)

    def _embed(self, embedding: nn.Embedding, ids: Tensor, start: int = 0) -> Tensor:
        # Embeddings are scaled by sqrt(d_model) before adding positions (Vaswani §3.4).
        return self.positions(embedding(ids) * math.sqrt(self.config.embed_dim), start)


class TransformerTranslator(_TransformerSource):
    """Transformer for translation; `logits, loss = model(src, src_lengths, tgt)`."""

    def __init__(self, config: TransformerTranslatorConfig) -> None:
        super().__init__(config)
        c = config
        self.decoder_layers = c.num_layers if c.decoder_layers is None else c.decoder_layers
        self.tgt_embedding = scaled_embedding(c.tgt_vocab_size, c.embed_dim)
        self.decoder = TransformerDecoder(
            c.embed_dim, c.num_heads, c.hidden_size, self.decoder_layers, c.dropout,
            c.norm_first, c.backend,
        )  # fmt: skip
        self.output = VocabProjection(c.embed_dim, c.tgt_vocab_size)

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
        the whole prefix at once (tested).
        """
        check_ids("tgt_in", tgt_in, self.config.tgt_vocab_size)
        cache = KVCache(self.decoder_layers) if state is None else state
        x = self._embed(self.tgt_embedding, tgt_in, start=len(cache))
        # Right-padded targets need no key mask: causal attention never looks ahead at the pads.
        h = self.decoder(x, memory.outputs, memory.mask, cache=cache)
        return self.output(h), cache

    def decode_with_attention(
        self, tgt_in: Tensor, memory: EncoderMemory, state: KVCache | None = None
    ) -> tuple[Tensor, KVCache, Tensor]:
        """`decode`, also returning the last decoder layer's cross-attention weights, averaged
        over heads (B, T, S). That layer runs its scratch backend here (the fused kernel keeps
        its weights), which computes the same outputs (tested for parity)."""
        attn = self.decoder.layers[-1].cross_attn
        captured: list[Tensor] = []
        handle = attn.register_forward_hook(lambda module, args, out: captured.append(out[1]))
        backend, attn.backend = attn.backend, "scratch"
        try:
            logits, state = self.decode(tgt_in, memory, state)
        finally:
            attn.backend = backend
            handle.remove()
        return logits, state, captured[0].mean(dim=1)

    def teacher_forced(
        self, src: Tensor, src_lengths: Tensor | None, tgt: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Logits (B, T-1, V) for tgt[:, 1:], and those targets."""
        logits, _ = self.decode(tgt[:, :-1], self.encode(src, src_lengths))
        return logits, tgt[:, 1:]


class CompactMemory(NamedTuple):
    """The compact model's memory: the source (B, S), its lengths (B,) and the encoder outputs
    (B, L, C) over the source right-padded to L >= S positions."""

    src: Tensor
    lengths: Tensor
    outputs: Tensor


class CompactTranslator(_TransformerSource):
    """The course's one-layer Transformer "translator": target token t is read off the encoder's
    output at source position t (`logits, loss = model(src, src_lengths, tgt)`).

    It is not autoregressive: `decode` ignores the tokens it is fed and returns the predictions
    of the next positions, its state being the position reached (B,). Greedy search is then the
    exact best translation, and beam search finds the same.
    """

    def __init__(self, config: CompactTranslatorConfig) -> None:
        super().__init__(config)
        self.output = VocabProjection(config.embed_dim, config.tgt_vocab_size)

    def _outputs(self, src: Tensor, lengths: Tensor, L: int) -> Tensor:
        """Encoder outputs (B, L, C) of src right-padded to L positions. Pads are masked as keys,
        so the outputs at real positions do not depend on L."""
        src = F.pad(src, (0, L - src.size(1)), value=PAD_ID)
        return self.encoder(self._embed(self.src_embedding, src), key_mask=length_mask(lengths, L))

    def encode(self, src: Tensor, src_lengths: Tensor | None) -> CompactMemory:
        """src (B, S) -> CompactMemory over the source (S positions; `decode` pads further)."""
        check_ids("src", src, self.config.src_vocab_size)
        lengths = check_lengths("src_lengths", src_lengths, src)
        return CompactMemory(src, lengths, self._outputs(src, lengths, src.size(1)))

    def decode(
        self, tgt_in: Tensor, memory: CompactMemory, state: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Logits (B, T, V) of the next T target positions; the state is the position (B,).

        Positions past the encoded ones are computed on a longer padding of the source."""
        B, T = tgt_in.shape
        start = 0 if state is None else int(state[0])
        outputs = memory.outputs
        if start + T > outputs.size(1):
            outputs = self._outputs(memory.src, memory.lengths, start + T)
        logits = self.output(outputs[:, start : start + T])  # (B, T, V)
        return logits, torch.full((B,), start + T, dtype=torch.long, device=tgt_in.device)

    def teacher_forced(
        self, src: Tensor, src_lengths: Tensor | None, tgt: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Logits (B, L, V), one prediction per position for L = max(S, T-1), and the targets
        tgt[:, 1:] right-padded to L."""
        check_ids("src", src, self.config.src_vocab_size)
        lengths = check_lengths("src_lengths", src_lengths, src)
        targets = tgt[:, 1:]
        L = max(src.size(1), targets.size(1))
        logits = self.output(self._outputs(src, lengths, L))  # (B, L, V): one per position
        return logits, F.pad(targets, (0, L - targets.size(1)), value=PAD_ID)
