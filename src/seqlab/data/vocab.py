"""Vocabulary: token <-> id with special tokens, built from the training split only."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from seqlab.atomic import write_text_atomic
from seqlab.errors import SeqlabError

PAD, UNK, SOS, EOS = "<pad>", "<unk>", "<sos>", "<eos>"


class Vocab:
    """A fixed token list: `<pad>`=0, `<unk>`=1, then other specials, then tokens by frequency."""

    def __init__(self, itos: Sequence[str]) -> None:
        if len(itos) < 2 or itos[0] != PAD or itos[1] != UNK:
            raise ValueError(f"itos must start with {PAD!r}, {UNK!r}; got {list(itos[:2])}")
        self.itos: list[str] = list(itos)
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("itos contains duplicate tokens")

    @classmethod
    def build(
        cls,
        token_lists: Iterable[Sequence[str]],
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = (),
        stop_words: Iterable[str] | None = None,
    ) -> Vocab:
        """Count tokens (training split only!) and keep those seen `min_freq` times or more.

        Order: `<pad>`, `<unk>`, the other `specials` as given, then frequency descending with
        ties broken alphabetically, so the same data always gives the same ids. `max_size`
        counts every entry, specials included (like Keras' `num_words`). Stop words are left
        out of the vocabulary, so they encode as `<unk>` unless the encoder drops them first.
        """
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        counter: Counter[str] = Counter()
        for tokens in token_lists:
            counter.update(tokens)
        head = [PAD, UNK] + [s for s in specials if s not in (PAD, UNK)]
        skip = set(head) | set(stop_words or ())
        words = [(t, c) for t, c in counter.items() if c >= min_freq and t not in skip]
        words.sort(key=lambda tc: (-tc[1], tc[0]))
        itos = head + [t for t, _ in words]
        if max_size is not None:
            if max_size < len(head):
                raise ValueError(f"max_size={max_size} is smaller than the {len(head)} specials")
            itos = itos[:max_size]
        return cls(itos)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        return self.stoi.get(token, 1)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos

    def __repr__(self) -> str:
        return (
            f"Vocab(size={len(self)}, specials={[t for t in self.itos if t.startswith('<')][:4]})"
        )

    @property
    def pad_id(self) -> int:
        """Id of `<pad>` (always 0)."""
        return 0

    @property
    def unk_id(self) -> int:
        """Id of `<unk>` (always 1)."""
        return 1

    @property
    def sos_id(self) -> int:
        """Id of `<sos>`; KeyError if this vocabulary has none."""
        return self._special(SOS)

    @property
    def eos_id(self) -> int:
        """Id of `<eos>`; KeyError if this vocabulary has none."""
        return self._special(EOS)

    def _special(self, token: str) -> int:
        if token not in self.stoi:
            raise KeyError(f"this vocabulary has no {token} token (build it with specials=...)")
        return self.stoi[token]

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Token strings to ids; unknown tokens become `<unk>` (1)."""
        get = self.stoi.get
        return [get(t, 1) for t in tokens]

    def decode(self, ids: Iterable[int], skip_pad: bool = True) -> list[str]:
        """Ids to token strings, dropping `<pad>` unless `skip_pad=False`."""
        return [self.itos[int(i)] for i in ids if not (skip_pad and int(i) == 0)]

    def to_dict(self) -> dict:
        """JSON-safe representation (the token list)."""
        return {"itos": list(self.itos)}

    @classmethod
    def from_dict(cls, d: dict) -> Vocab:
        """Inverse of `to_dict`."""
        return cls(d["itos"])

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary as JSON, atomically."""
        write_text_atomic(path, json.dumps(self.to_dict(), ensure_ascii=False))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        """Read a vocabulary written by `save`."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError) as e:
            raise SeqlabError(f"cannot read vocabulary {path}: {e}") from e
