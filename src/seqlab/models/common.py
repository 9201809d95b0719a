"""Input checks, masks and pooling shared by the model families (padding id is 0 everywhere)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from seqlab.nn import GRU, LSTM, RNN
from seqlab.nn import padding_mask as length_mask  # (B, T) True at real steps
from seqlab.nn.transformer import TransformerEncoder

PAD_ID = 0
UNK_ID = 1  # seqlab.data.vocab: every vocabulary starts <pad>, <unk>
RECURRENT = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
POOLINGS = ("last", "mean", "max")


def check_ids(name: str, ids: Tensor, vocab_size: int) -> None:
    """Raise ValueError unless `ids` is an integer (B, T) tensor with values in [0, vocab_size)."""
    if not isinstance(ids, Tensor) or ids.dim() != 2 or ids.is_floating_point() or ids.is_complex():
        got = f"{tuple(ids.shape)} {ids.dtype}" if isinstance(ids, Tensor) else type(ids).__name__
        raise ValueError(f"{name} must be an integer tensor of shape (B, T), got {got}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(
            f"{name} must hold token ids in [0, vocab_size={vocab_size}), "
            f"got values in [{int(ids.min())}, {int(ids.max())}]"
        )


def check_lengths(name: str, lengths: Tensor | None, ids: Tensor) -> Tensor:
    """Validate lengths (B,) in [1, T] for ids (B, T); None means "count the non-pad tokens"."""
    B, T = ids.shape
    if lengths is None:
        # Right-padded batches: the length is the number of non-pad ids (at least 1).
        return (ids != PAD_ID).sum(dim=1).clamp(min=1)
    lengths = torch.as_tensor(lengths, device=ids.device)
    if lengths.dim() != 1 or lengths.size(0) != B or lengths.is_floating_point():
        raise ValueError(
            f"{name} must be an integer tensor of shape (B,)=({B},), "
            f"got {tuple(lengths.shape)} {lengths.dtype}"
        )
    if B and (int(lengths.min()) < 1 or int(lengths.max()) > T):
        raise ValueError(
            f"{name} must lie in [1, T={T}] (T = padded sequence length), "
            f"got values in [{int(lengths.min())}, {int(lengths.max())}]"
        )
    return lengths.long()


def pool(outputs: Tensor, lengths: Tensor, how: str) -> Tensor:
    """Pool outputs (B, T, C) over real positions: "last" real step, "mean" or "max" -> (B, C)."""
    if how == "last":
        index = (lengths - 1).view(-1, 1, 1).expand(-1, 1, outputs.size(2))  # (B, 1, C)
        return outputs.gather(1, index).squeeze(1)
    mask = length_mask(lengths, outputs.size(1)).unsqueeze(2)  # (B, T, 1)
    if how == "mean":
        return (outputs * mask).sum(1) / lengths.unsqueeze(1).to(outputs.dtype)
    if how == "max":
        return outputs.masked_fill(~mask, float("-inf")).amax(dim=1)
    raise ValueError(f"pooling must be one of {POOLINGS}, got {how!r}")


def recurrent_layer(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int,
    bidirectional: bool = False,
    dropout: float = 0.0,
    backend: str = "fused",
    recurrent_dropout: float = 0.0,
    weight_drop: float = 0.0,
    locked: bool = False,
) -> nn.Module:
    """Build seqlab.nn.RNN/LSTM/GRU by name ("rnn", "lstm", "gru")."""
    if cell not in RECURRENT:
        raise ValueError(f"recurrent cell must be one of {tuple(RECURRENT)}, got {cell!r}")
    rates = {"recurrent_dropout": recurrent_dropout, "weight_drop": weight_drop}
    kwargs = {k: v for k, v in rates.items() if v}
    return RECURRENT[cell](
        input_size,
        hidden_size,
        num_layers=num_layers,
        bidirectional=bidirectional,
        dropout=dropout,
        backend=backend,
        locked=locked,
        **kwargs,
    )


def transformer_stack(config: Any, dropout: float) -> nn.Module:
    """A seqlab.nn.TransformerEncoder of a model config's sizes (embed_dim = d_model,
    hidden_size = d_ff, num_heads, num_layers) and its norm_first and backend."""
    c = config
    return TransformerEncoder(
        c.embed_dim, c.num_heads, c.hidden_size, c.num_layers, dropout, c.norm_first, c.backend
    )


def batch_first_state(state: Tensor | tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """A recurrent layer's state ((layers*dirs, B, H), or (h, c)) as a tuple of (B, layers*dirs, H).

    Decoding states are batch-first everywhere, so beam search picks rows on dim 0 of every
    tensor without knowing the model (`seqlab.decoding.select_rows`).
    """
    parts = state if isinstance(state, tuple) else (state,)
    return tuple(p.transpose(0, 1) for p in parts)


def layer_first_state(state: tuple[Tensor, ...]) -> Tensor | tuple[Tensor, Tensor]:
    """Inverse of `batch_first_state`: the layout the recurrent layers take."""
    parts = tuple(p.transpose(0, 1).contiguous() for p in state)
    return parts if len(parts) == 2 else parts[0]


def token_loss(logits: Tensor, targets: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """Mean cross-entropy over real targets: logits (B, T, V), targets (B, T) with pad = 0.

    `label_smoothing` eps trains against (1 - eps) on the target plus eps spread uniformly over
    the vocabulary (Szegedy et al. 2016; Vaswani et al. 2017 use 0.1)."""
    return nn.functional.cross_entropy(
        logits.reshape(-1, logits.size(-1)),
        targets.reshape(-1),
        ignore_index=PAD_ID,
        label_smoothing=label_smoothing,
    )


def train_smoothing(model: nn.Module) -> float:
    """The label smoothing of `model.config` while training, 0 in evaluation: validation loss
    and perplexity stay the plain cross-entropy, comparable across runs."""
    return model.config.label_smoothing if model.training else 0.0


def check_target(tgt: Tensor, vocab_size: int) -> None:
    """tgt (B, T) must hold <sos> ... <eos> with T >= 2 (inputs tgt[:, :-1], targets tgt[:, 1:])."""
    check_ids("tgt", tgt, vocab_size)
    if tgt.size(1) < 2:
        raise ValueError(
            f"tgt must have shape (B, T) with T >= 2 (<sos> ... <eos>), got {tuple(tgt.shape)}"
        )


class Translator(nn.Module):
    """Base of the translation models: the training contract `logits, loss = model(src,
    src_lengths, tgt)` around each model's `teacher_forced`, and `example_batch`."""

    config: Any  # a dataclass with src_vocab_size, tgt_vocab_size and label_smoothing

    def teacher_forced(
        self, src: Tensor, src_lengths: Tensor | None, tgt: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Training logits for a checked target, and the targets they predict."""
        raise NotImplementedError

    def forward(
        self,
        src: Tensor,
        src_lengths: Tensor | None,
        tgt: Tensor,
        tgt_lengths: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Logits for tgt[:, 1:] and their mean loss over non-pad tokens.

        `tgt_lengths` is accepted for the batch contract; pads are skipped by the loss and, the
        decoders being causal, cannot change logits at real positions.
        """
        check_target(tgt, self.config.tgt_vocab_size)
        logits, targets = self.teacher_forced(src, src_lengths, tgt)
        return logits, token_loss(logits, targets, train_smoothing(self))

    def example_batch(self, batch_size: int = 2, length: int | None = None) -> dict[str, Tensor]:
        """A random full-length translation batch (src, src_lengths, tgt), e.g. for
        `seqlab.summary`."""
        c, B, T = self.config, batch_size, length or 8
        return {
            "src": torch.randint(1, c.src_vocab_size, (B, T)),
            "src_lengths": torch.full((B,), T, dtype=torch.long),
            "tgt": torch.randint(1, c.tgt_vocab_size, (B, T)),
        }
