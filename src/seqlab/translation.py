"""Translating with any model of the decoding contract (`encode`, then `decode`): source ids
in, words out, by greedy or beam search as a run's decode section says; and the source-target
attention maps of models that offer `decode_with_attention`."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch

from seqlab.data.text import TextEncoder
from seqlab.data.translation import TranslationDataset, translation_collate
from seqlab.decoding import beam_search, greedy_decode
from seqlab.errors import SeqlabError


def check_decoding(decode: Any) -> None:
    """SeqlabError for a beam width or maximum translation length below 1."""
    if decode.beam < 1 or decode.max_decode < 1:
        raise SeqlabError(
            f"beam width and maximum length must be >= 1, got {decode.beam} and {decode.max_decode}"
        )


@torch.no_grad()
def translate_ids(
    model: torch.nn.Module,
    sources: list[list[int]],
    tgt_encoder: TextEncoder,
    decode: Any,
    device: torch.device | str = "cpu",
    batch_size: int = 128,
    *,
    as_words: bool = True,
) -> list[list[str]]:
    """The translation of each source (ids wrapped in <sos> ... <eos>), searched as the decode
    section says: its words, BPE pieces joined (or, with `as_words=False`, the model's own
    tokens), no <sos>/<eos>."""
    check_decoding(decode)
    vocab = tgt_encoder.vocab
    sos, eos = vocab.sos_id, vocab.eos_id
    # Padding and <sos> are never a next word; <unk> only where asked for.
    banned = [vocab.pad_id, sos] + ([] if decode.allow_unk else [vocab.unk_id])
    was_training = model.training
    model.eval()
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))  # similar lengths
    out: list[list[str]] = [[] for _ in sources]
    try:
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = translation_collate([{"src": sources[i], "tgt": [sos, eos]} for i in chunk])
            src, lengths = batch["src"].to(device), batch["src_lengths"].to(device)
            if decode.beam > 1:
                rows = beam_search(
                    model, src, lengths, sos, eos, decode.max_decode, decode.beam,
                    decode.length_penalty, banned,
                )  # fmt: skip
            else:
                rows = greedy_decode(model, src, lengths, sos, eos, decode.max_decode, banned)
                rows = rows.tolist()
            for i, row in zip(chunk, rows, strict=True):
                words = []
                for token in row:
                    if token == eos:
                        break
                    if token != 0:
                        words.append(vocab.itos[token])
                out[i] = tgt_encoder.words(words) if as_words else words
    finally:
        model.train(was_training)
    return out


def split_sources(dataset: TranslationDataset) -> list[list[int]]:
    """The source ids (<sos> ... <eos>) of every pair of a split."""
    return [dataset[i]["src"].tolist() for i in range(len(dataset))]


@torch.no_grad()
def attention_weights(
    model: torch.nn.Module, source: list[int], target: list[int], sos_id: int
) -> list[list[float]]:
    """Source-target attention (T + 1 rows, one per output word and <eos>; S columns) of the
    model reading `target` (ids, no <sos>/<eos>) after the source ids (<sos> ... <eos>)."""
    has_attention(model)
    device = next(model.parameters()).device
    src = torch.tensor([source], device=device)
    tgt_in = torch.tensor([[sos_id, *target]], device=device)
    memory = model.encode(src, torch.tensor([len(source)], device=device))
    return model.decode_with_attention(tgt_in, memory)[2][0].tolist()


@runtime_checkable
class AttentionMaps(Protocol):
    """A translator that shows where it looks: Seq2Seq (its attention) and TransformerTranslator
    (the last decoder layer's cross-attention, averaged over heads)."""

    def decode_with_attention(self, tgt_in: Any, memory: Any, state: Any = None) -> tuple:
        """(logits, state, attention weights (B, T, S)) of `decode`."""


def has_attention(model: torch.nn.Module) -> None:
    """SeqlabError unless the model has source-target attention weights to show: it implements
    `AttentionMaps` and was trained with attention."""
    if not isinstance(model, AttentionMaps):
        raise SeqlabError(f"a {type(model).__name__} has no source-target attention to plot")
    if getattr(model.config, "attention", "") is None:
        raise SeqlabError("this model was trained without attention (--attention none)")
