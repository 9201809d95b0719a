"""TextEncoder: preprocessing + tokenizer + vocabulary + truncation, saved inside checkpoints."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from seqlab.data.tokenizers import Tokenizer, get_tokenizer, tokenizer_from_dict
from seqlab.data.vocab import PAD, UNK, Vocab

if TYPE_CHECKING:
    from seqlab.data.pretrained_text import PretrainedTextEncoder

# IMDB reviews keep the HTML line breaks of the original pages ("<br /><br />").
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
TRUNCATE_SIDES = ("pre", "post")


def truncate_ids(
    ids: Sequence[int], max_length: int | None, truncate: str = "pre"
) -> Sequence[int]:
    """Cut `ids` to `max_length`: "pre" drops the beginning (keeps the end, Keras' default
    `pad_sequences(truncating="pre")`), "post" drops the end (keeps the beginning)."""
    if max_length is None or len(ids) <= max_length:
        return ids
    return ids[len(ids) - max_length :] if truncate == "pre" else ids[:max_length]


class TextEncoder:
    """Turns raw text into token ids the same way at training and at prediction time.

    The text-encoder protocol, shared with `PretrainedTextEncoder`: `kind`, `encode`,
    `encode_many`, `collate`, `decode`, `vocab_size`, `to_dict` (`text_encoder_from_dict` reads
    either back)."""

    kind = "vocab"

    def __init__(
        self,
        tokenizer: Tokenizer,
        vocab: Vocab,
        *,
        lowercase: bool = True,
        strip_html: bool = True,
        stop_words: Iterable[str] | None = None,
        max_length: int | None = None,
        truncate: str = "pre",
    ) -> None:
        if truncate not in TRUNCATE_SIDES:
            raise ValueError(f"truncate must be 'pre' or 'post', got {truncate!r}")
        if max_length is not None and max_length < 1:
            raise ValueError(f"max_length must be >= 1 or None, got {max_length}")
        self.tokenizer, self.vocab = tokenizer, vocab
        self.lowercase, self.strip_html = lowercase, strip_html
        self.stop_words = frozenset(stop_words or ())
        self.max_length, self.truncate = max_length, truncate

    @classmethod
    def fit(
        cls, texts: Sequence[str], tokenizer: str | Tokenizer = "basic_english", **settings
    ) -> TextEncoder:
        """Train the tokenizer (BPE only) and build the vocabulary on `texts` (the train split);
        the keywords are `fit_encode`'s."""
        return cls.fit_encode(texts, tokenizer, **settings)[0]

    @classmethod
    def fit_encode(
        cls,
        texts: Sequence[str],
        tokenizer: str | Tokenizer = "basic_english",
        *,
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = (),
        tokenizer_options: dict | None = None,
        **settings,
    ) -> tuple[TextEncoder, list[list[int]]]:
        """`fit`, also returning the untruncated ids of `texts` (tokenizing them only once)."""
        if isinstance(tokenizer, str):
            tokenizer = get_tokenizer(tokenizer, **(tokenizer_options or {}))
        enc = cls(tokenizer, Vocab([PAD, UNK]), **settings)
        clean = [enc.preprocess(t) for t in texts]
        tokenizer.train(clean)
        token_lists = [enc._drop_stop_words(t) for t in tokenizer.tokenize_many(clean)]
        enc.vocab = Vocab.build(
            token_lists, min_freq=min_freq, max_size=max_size, specials=specials
        )
        return enc, [enc.vocab.encode(t) for t in token_lists]

    def preprocess(self, text: str) -> str:
        """Remove `<br />` markup and lower-case, as configured."""
        if self.strip_html:
            text = _BR.sub(" ", text)
        return text.lower() if self.lowercase else text

    def _drop_stop_words(self, tokens: list[str]) -> list[str]:
        if not self.stop_words:
            return tokens
        return [t for t in tokens if t not in self.stop_words]

    def tokenize(self, text: str) -> list[str]:
        """Preprocess and tokenize one text (stop words removed)."""
        return self._drop_stop_words(self.tokenizer(self.preprocess(text)))

    def encode(self, text: str, truncate: bool = True) -> list[int]:
        """Text to ids, cut to `max_length` on the configured side unless `truncate=False`."""
        ids = self.vocab.encode(self.tokenize(text))
        return list(truncate_ids(ids, self.max_length, self.truncate)) if truncate else ids

    def encode_many(self, texts: Iterable[str], truncate: bool = True) -> list[list[int]]:
        """`encode` for many texts, tokenizing them in one call (parallel for BPE)."""
        clean = [self.preprocess(t) for t in texts]
        out = [
            self.vocab.encode(self._drop_stop_words(t)) for t in self.tokenizer.tokenize_many(clean)
        ]
        if truncate and self.max_length is not None:
            out = [list(truncate_ids(ids, self.max_length, self.truncate)) for ids in out]
        return out

    def words(self, tokens: Sequence[str]) -> list[str]:
        """Tokens back to words (BPE pieces joined; other tokenizers' tokens are words)."""
        return self.tokenizer.words(tokens)

    def decode(self, ids: Iterable[int]) -> str:
        """Ids back to space-joined words (padding dropped, BPE pieces joined)."""
        return " ".join(self.words(self.vocab.decode(ids)))

    def collate(self, items: Sequence[dict]) -> dict[str, Any]:
        """Items of a ClassificationDataset -> {"ids" (B, T), "lengths" (B,), "labels" (B,)}
        (`pad_collate`); an empty text counts as one padding token."""
        from seqlab.data.batching import pad_collate

        batch = pad_collate(items)
        batch["lengths"] = batch["lengths"].clamp(min=1)
        return batch

    @property
    def vocab_size(self) -> int:
        """Words the vocabulary knows (specials included)."""
        return len(self.vocab)

    def to_dict(self) -> dict:
        """JSON-safe settings, tokenizer and vocabulary: enough to rebuild the encoder."""
        return {
            "tokenizer": self.tokenizer.to_dict(),
            "vocab": self.vocab.to_dict(),
            "lowercase": self.lowercase,
            "strip_html": self.strip_html,
            "stop_words": sorted(self.stop_words),
            "max_length": self.max_length,
            "truncate": self.truncate,
        }

    @classmethod
    def from_dict(cls, d: dict) -> TextEncoder:
        """Inverse of `to_dict`."""
        return cls(
            tokenizer_from_dict(d["tokenizer"]),
            Vocab.from_dict(d["vocab"]),
            lowercase=d["lowercase"],
            strip_html=d["strip_html"],
            stop_words=d.get("stop_words"),
            max_length=d["max_length"],
            truncate=d["truncate"],
        )

    def __repr__(self) -> str:
        return (
            f"TextEncoder(tokenizer={self.tokenizer.name!r}, vocab={len(self.vocab)}, "
            f"max_length={self.max_length}, truncate={self.truncate!r})"
        )


def text_encoder_from_dict(d: dict) -> TextEncoder | PretrainedTextEncoder:
    """Rebuild the text encoder a checkpoint recorded: a seqlab TextEncoder (vocabulary), or a
    pretrained model's tokenizer (`"kind": "pretrained-tokenizer"`)."""
    kind = d.get("kind", "vocab")
    if kind == "vocab":
        return TextEncoder.from_dict(d)
    if kind == "pretrained-tokenizer":
        from seqlab.data.pretrained_text import PretrainedTextEncoder

        return PretrainedTextEncoder.from_dict(d)
    raise ValueError(f"unknown text encoder kind {kind!r}")
