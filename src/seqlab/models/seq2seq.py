"""Seq2Seq: recurrent encoder-decoder (Sutskever et al. 2014) with optional attention.

The encoder reads the source; its final state starts the decoder. With attention the decoder
output h_t queries the encoder outputs (Luong et al. 2015, §3.1, "global attention"):
context c_t = sum_s a_ts h_s, attentional state h~_t = tanh(Wc [c_t; h_t]) (eq. 5), and the
score may be dot, general, additive (Bahdanau et al. 2015) or cosine. Because attention sits
after the recurrence, a teacher-forced decoder runs over the whole target in one call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from seqlab.models.common import (
    PAD_ID,
    Translator,
    batch_first_state,
    check_ids,
    check_lengths,
    layer_first_state,
    length_mask,
    recurrent_layer,
)
from seqlab.nn.attention import SCORES, Seq2SeqAttention
from seqlab.nn.output import VocabProjection

State = Tensor | tuple[Tensor, Tensor]


class Seq2SeqMemory(NamedTuple):
    """What the decoder reads: encoder outputs (B, S, H), source mask (B, S) (True = real token)
    and the encoder's final state, batch-first (a tuple of (B, layers, H))."""

    outputs: Tensor
    mask: Tensor
    state: tuple[Tensor, ...]


@dataclass
class Seq2SeqConfig:
    """Hyper-parameters of a recurrent Seq2Seq model."""

    src_vocab_size: int
    tgt_vocab_size: int
    cell: str = "gru"  # "rnn", "lstm" or "gru"
    embed_dim: int = 64
    hidden_size: int = 128
    num_layers: int = 1
    attention: str | None = None  # None or one of "dot", "general", "additive", "cosine"
    dropout: float = 0.0
    teacher_forcing: float = 1.0  # probability of feeding the true previous token in training
    backend: str = "fused"
    label_smoothing: float = 0.0  # training loss only (see models.common.token_loss)


class Seq2Seq(Translator):
    """Recurrent encoder-decoder; `logits, loss = model(src, src_lengths, tgt)`."""

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        c = self.config = config
        if c.attention is not None and c.attention not in SCORES:
            raise ValueError(f"attention must be None or one of {SCORES}, got {c.attention!r}")
        if not 0.0 <= c.teacher_forcing <= 1.0:
            raise ValueError(f"teacher_forcing must be in [0, 1], got {c.teacher_forcing}")
        H = c.hidden_size
        self.src_embedding = nn.Embedding(c.src_vocab_size, c.embed_dim, padding_idx=PAD_ID)
        self.tgt_embedding = nn.Embedding(c.tgt_vocab_size, c.embed_dim, padding_idx=PAD_ID)
        self.encoder = recurrent_layer(
            c.cell, c.embed_dim, H, c.num_layers, dropout=c.dropout, backend=c.backend
        )
        self.decoder = recurrent_layer(
            c.cell, c.embed_dim, H, c.num_layers, dropout=c.dropout, backend=c.backend
        )
        if c.attention is not None:
            self.attention = Seq2SeqAttention(c.attention, H, H)
            self.Wc = nn.Linear(2 * H, H)  # Luong eq. 5
        self.dropout = nn.Dropout(c.dropout)
        self.output = VocabProjection(H, c.tgt_vocab_size)

    def encode(self, src: Tensor, src_lengths: Tensor | None) -> Seq2SeqMemory:
        """src (B, S) -> encoder outputs, source mask and final state (see Seq2SeqMemory)."""
        check_ids("src", src, self.config.src_vocab_size)
        src_lengths = check_lengths("src_lengths", src_lengths, src)
        outputs, state = self.encoder(self.dropout(self.src_embedding(src)), lengths=src_lengths)
        mask = length_mask(src_lengths, src.size(1))
        return Seq2SeqMemory(outputs, mask, batch_first_state(state))

    def decode(
        self, tgt_in: Tensor, memory: Seq2SeqMemory, state: tuple[Tensor, ...] | None = None
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """Decoder inputs (B, T) -> logits (B, T, V) and the state after them (batch-first).

        `state=None` starts from the encoder's final state. Feeding one step at a time with the
        returned state equals feeding all steps at once.
        """
        logits, state, _ = self.decode_with_attention(tgt_in, memory, state)
        return logits, state

    def decode_with_attention(
        self, tgt_in: Tensor, memory: Seq2SeqMemory, state: tuple[Tensor, ...] | None = None
    ) -> tuple[Tensor, tuple[Tensor, ...], Tensor | None]:
        """`decode`, also returning the attention weights (B, T, S) (None without attention)."""
        check_ids("tgt_in", tgt_in, self.config.tgt_vocab_size)
        h0 = layer_first_state(memory.state if state is None else state)
        h, h_last = self.decoder(self.dropout(self.tgt_embedding(tgt_in)), h0)  # (B, T, H)
        weights = None
        if self.config.attention is not None:
            context, weights = self.attention(h, memory.outputs, memory.mask)  # (B,T,H), (B,T,S)
            h = torch.tanh(self.Wc(torch.cat([context, h], dim=-1)))
        return self.output(self.dropout(h)), batch_first_state(h_last), weights

    def teacher_forced(
        self, src: Tensor, src_lengths: Tensor | None, tgt: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Logits (B, T-1, V) for the targets tgt[:, 1:], and those targets; in training with
        `teacher_forcing` < 1, scheduled sampling (Bengio et al. 2015): per token, the truth is
        fed with that probability, else the model's own previous prediction."""
        memory = self.encode(src, src_lengths)
        tgt_in, targets = tgt[:, :-1], tgt[:, 1:]
        ratio = self.config.teacher_forcing if self.training else 1.0
        if ratio >= 1.0:
            return self.decode(tgt_in, memory)[0], targets
        steps, token, state = [], tgt_in[:, :1], None
        for t in range(tgt_in.size(1)):
            step_logits, state = self.decode(token, memory, state)
            steps.append(step_logits)
            if t + 1 < tgt_in.size(1):
                truth = tgt_in[:, t + 1 : t + 2]
                guess = step_logits.argmax(-1)
                use_truth = torch.rand(truth.shape, device=truth.device) < ratio
                token = torch.where(use_truth, truth, guess)
        return torch.cat(steps, dim=1), targets
