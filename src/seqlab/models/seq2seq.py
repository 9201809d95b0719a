"""Seq2Seq: recurrent encoder-decoder (Sutskever et al. 2014) with optional attention.

The encoder reads the source; its final state starts the decoder. With attention the decoder
output h_t queries the encoder outputs (Luong et al. 2015, §3.1, "global attention"):
context c_t = sum_s a_ts h_s, attentional state h~_t = tanh(Wc [c_t; h_t]) (eq. 5), and the
score may be dot, general, additive (Bahdanau et al. 2015) or cosine. Because attention sits
after the recurrence, a teacher-forced decoder runs over the whole target in one call.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from seqlab.models.common import (
    PAD_ID,
    check_ids,
    check_lengths,
    length_mask,
    recurrent_layer,
    token_loss,
    translation_example,
)
from seqlab.nn.attention import SCORES, Seq2SeqAttention

State = Tensor | tuple[Tensor, Tensor]


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


def check_target(tgt: Tensor, vocab_size: int) -> None:
    """tgt (B, T) must hold <sos> ... <eos> with T >= 2 (inputs tgt[:, :-1], targets tgt[:, 1:])."""
    check_ids("tgt", tgt, vocab_size)
    if tgt.size(1) < 2:
        raise ValueError(
            f"tgt must have shape (B, T) with T >= 2 (<sos> ... <eos>), got {tuple(tgt.shape)}"
        )


class Seq2Seq(nn.Module):
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
        self.output = nn.Linear(H, c.tgt_vocab_size)

    def encode(self, src: Tensor, src_lengths: Tensor | None) -> tuple[Tensor, State, Tensor]:
        """src (B, S) -> encoder outputs (B, S, H), final state, source mask (B, S)."""
        check_ids("src", src, self.config.src_vocab_size)
        src_lengths = check_lengths("src_lengths", src_lengths, src)
        outputs, state = self.encoder(self.dropout(self.src_embedding(src)), lengths=src_lengths)
        return outputs, state, length_mask(src_lengths, src.size(1))

    def decode(
        self, tgt_in: Tensor, state: State, memory: Tensor, src_mask: Tensor
    ) -> tuple[Tensor, State, Tensor | None]:
        """Decoder inputs (B, T) from `state` -> logits (B, T, V), new state, attention (B, T, S).

        Feeding one step at a time with the returned state equals feeding all steps at once.
        """
        h, state = self.decoder(self.dropout(self.tgt_embedding(tgt_in)), state)  # (B, T, H)
        weights = None
        if self.config.attention is not None:
            context, weights = self.attention(h, memory, src_mask)  # (B, T, H), (B, T, S)
            h = torch.tanh(self.Wc(torch.cat([context, h], dim=-1)))
        return self.output(self.dropout(h)), state, weights

    def forward(
        self,
        src: Tensor,
        src_lengths: Tensor | None,
        tgt: Tensor,
        tgt_lengths: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Teacher-forced logits (B, T-1, V) for tgt[:, 1:] and their mean loss over non-pad tokens.

        `tgt_lengths` is accepted for the batch contract; pads are skipped by the loss and, the
        decoder being causal, cannot change logits at real positions.
        """
        check_target(tgt, self.config.tgt_vocab_size)
        memory, state, src_mask = self.encode(src, src_lengths)
        tgt_in, targets = tgt[:, :-1], tgt[:, 1:]
        ratio = self.config.teacher_forcing if self.training else 1.0
        if ratio >= 1.0:
            logits, _, _ = self.decode(tgt_in, state, memory, src_mask)
        else:
            # Scheduled sampling (Bengio et al. 2015): per token, feed the truth with probability
            # `ratio`, else the model's own previous prediction.
            steps, token = [], tgt_in[:, :1]
            for t in range(tgt_in.size(1)):
                step_logits, state, _ = self.decode(token, state, memory, src_mask)
                steps.append(step_logits)
                if t + 1 < tgt_in.size(1):
                    truth = tgt_in[:, t + 1 : t + 2]
                    guess = step_logits.argmax(-1)
                    use_truth = torch.rand(truth.shape, device=truth.device) < ratio
                    token = torch.where(use_truth, truth, guess)
            logits = torch.cat(steps, dim=1)
        return logits, token_loss(logits, targets)

    @torch.no_grad()
    def greedy_decode(
        self, src: Tensor, src_lengths: Tensor | None, sos_id: int, eos_id: int, max_length: int
    ) -> Tensor:
        """Greedy translations (B, <= max_length) without <sos>; after <eos> a row holds pads."""
        memory, state, src_mask = self.encode(src, src_lengths)
        B = src.size(0)
        token = torch.full((B, 1), sos_id, dtype=torch.long, device=src.device)
        done = torch.zeros(B, dtype=torch.bool, device=src.device)
        out = []
        for _ in range(max_length):
            logits, state, _ = self.decode(token, state, memory, src_mask)
            token = logits.argmax(-1).masked_fill(done[:, None], PAD_ID)  # (B, 1)
            out.append(token)
            done |= token[:, 0] == eos_id
            if done.all():
                break
        return torch.cat(out, dim=1)

    def example_batch(self, batch_size: int = 2, length: int | None = None) -> dict[str, Tensor]:
        """A random translation batch, e.g. for `seqlab.summary`."""
        c = self.config
        return translation_example(c.src_vocab_size, c.tgt_vocab_size, batch_size, length or 8)
