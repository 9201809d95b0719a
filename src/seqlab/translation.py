"""Translating with any model of the decoding contract (`encode`, then `decode`): source ids
in, words out, by greedy or beam search as a run's decode section says; and the source-target
attention maps of models that offer `decode_with_attention`."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch

from seqlab.data.text import TextEncoder
from seqlab.data.translation import TranslationDataset, translation_collate
from seqlab.decoding import ban, beam_search, greedy_decode
from seqlab.errors import SeqlabError


def check_decoding(decode: Any) -> None:
    """SeqlabError for a beam width or maximum translation length below 1."""
    if decode.beam < 1 or decode.max_decode < 1:
        raise SeqlabError(
            f"beam width and maximum length must be >= 1, got {decode.beam} and {decode.max_decode}"
        )


def banned_ids(vocab: Any, allow_unk: bool) -> list[int]:
    """Target ids a search never chooses: padding and <sos>, and <unk> unless allowed."""
    return [vocab.pad_id, vocab.sos_id] + ([] if allow_unk else [vocab.unk_id])


def trimmed(row: list[int], eos_id: int) -> list[int]:
    """A searched row up to its first <eos> (kept), padding dropped."""
    out = []
    for token in row:
        if token == eos_id:
            return [*out, token]
        if token != 0:
            out.append(token)
    return out


@torch.no_grad()
def search(
    model: torch.nn.Module,
    sources: list[list[int]],
    tgt_vocab: Any,
    decode: Any,
    device: torch.device | str = "cpu",
    batch_size: int = 128,
) -> list[list[int]]:
    """The target ids of each source (ids wrapped in <sos> ... <eos>) searched as the decode
    section says (greedy, or beam search for beam > 1): no <sos>, <eos> if it ended."""
    check_decoding(decode)
    sos, eos = tgt_vocab.sos_id, tgt_vocab.eos_id
    banned = banned_ids(tgt_vocab, decode.allow_unk)
    was_training = model.training
    model.eval()
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))  # similar lengths
    out: list[list[int]] = [[] for _ in sources]
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
                out[i] = trimmed(row, eos)
    finally:
        model.train(was_training)
    return out


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
    vocab = tgt_encoder.vocab
    rows = search(model, sources, vocab, decode, device, batch_size)
    out = []
    for row in rows:
        tokens = [vocab.itos[t] for t in row if t != vocab.eos_id]
        out.append(tgt_encoder.words(tokens) if as_words else tokens)
    return out


@torch.no_grad()
def translation_scores(
    model: torch.nn.Module,
    sources: list[list[int]],
    targets: list[list[int]],
    tgt_vocab: Any,
    allow_unk: bool = False,
    device: torch.device | str = "cpu",
    batch_size: int = 128,
) -> list[float]:
    """log p(target | source) of each pair, read by teacher forcing: the sum of the
    log-probabilities of the target's tokens (no <sos>; its <eos> counts where it has one)
    under the distribution the searches decode from (banned tokens removed, as `search` bans
    them), so it equals a beam search's own log-probability of that translation."""
    sos = tgt_vocab.sos_id
    banned = torch.tensor(banned_ids(tgt_vocab, allow_unk), device=device)
    was_training = model.training
    model.eval()
    scores = [0.0] * len(sources)
    try:
        for start in range(0, len(sources), batch_size):
            chunk = list(range(start, min(start + batch_size, len(sources))))
            items = [{"src": sources[i], "tgt": [sos, *targets[i]]} for i in chunk]
            batch = {k: v.to(device) for k, v in translation_collate(items).items()}
            memory = model.encode(batch["src"], batch["src_lengths"])
            tgt_in, gold = batch["tgt"][:, :-1], batch["tgt"][:, 1:]  # (B, T), (B, T)
            logits, _ = model.decode(tgt_in, memory)
            logp = ban(logits.float(), banned).log_softmax(-1)  # (B, T, V)
            picked = logp.gather(-1, gold[..., None])[..., 0].masked_fill(gold == 0, 0.0)
            for i, score in zip(chunk, picked.sum(1).tolist(), strict=True):
                scores[i] = score
    finally:
        model.train(was_training)
    return scores


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
