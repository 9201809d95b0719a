"""PretrainedTextEncoder: a pretrained model's own tokenizer, saved inside checkpoints.

A pretrained encoder only understands the word pieces it was trained on, so its text encoder is
the model's Hugging Face tokenizer, not a seqlab vocabulary. The tokenizer's whole definition
(`tokenizer.json`, a few hundred kB) is stored in the checkpoint as a string, so `seqlab predict`
needs neither the network nor the original model folder.

Long texts are cut before the special tokens are added. "head+tail" keeps the first quarter and
the last three quarters of the budget, the best truncation for IMDB in Sun et al. (2019), "How
to Fine-Tune BERT for Text Classification?", §5.3.1 (128 head + 382 tail tokens of 512).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch

from seqlab.errors import SeqlabError

KIND = "pretrained-tokenizer"
TRUNCATIONS = ("head", "tail", "head+tail")


def cut(ids: Sequence[int], budget: int, truncate: str) -> list[int]:
    """`ids` cut to `budget` tokens: keep the beginning (head), the end (tail), or both."""
    if len(ids) <= budget:
        return list(ids)
    if truncate == "head":
        return list(ids[:budget])
    if truncate == "tail":
        return list(ids[len(ids) - budget :])
    head = budget // 4
    return list(ids[:head]) + list(ids[len(ids) - (budget - head) :])


class PretrainedTextEncoder:
    """Text -> word-piece ids of a pretrained model: `[CLS] tokens [SEP]` for BERT, cut to
    `max_length` including the special tokens."""

    kind = KIND

    def __init__(self, tokenizer_json: str, max_length: int = 128, truncate: str = "head") -> None:
        from tokenizers import Tokenizer

        if truncate not in TRUNCATIONS:
            raise SeqlabError(f"truncate must be one of {', '.join(TRUNCATIONS)}, got {truncate!r}")
        self.tokenizer_json = tokenizer_json
        self.tokenizer = Tokenizer.from_str(tokenizer_json)
        padding = self.tokenizer.padding  # tokenizer.json's own settings, if any
        # Truncation and padding are done here and in the collate function, not by the tokenizer.
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.prefix, self.suffix = self._special_ids()
        if max_length < len(self.prefix) + len(self.suffix) + 1:
            raise SeqlabError(f"max_length {max_length} leaves no room for the text")
        self.max_length, self.truncate = max_length, truncate
        # Any id works under the attention mask; the model's own padding id is the natural one.
        pad = padding["pad_id"] if padding else self.tokenizer.token_to_id("[PAD]")
        self.pad_id = int(pad or 0)

    @classmethod
    def from_pretrained(
        cls, model_dir: str | Path, max_length: int = 128, truncate: str = "head"
    ) -> PretrainedTextEncoder:
        """The tokenizer of a local model folder (tokenizer.json, or vocab.txt & co. converted
        by `transformers`), read without the network."""
        model_dir = Path(model_dir)
        path = model_dir / "tokenizer.json"
        if path.is_file():
            text = path.read_text(encoding="utf-8")
        else:
            from transformers import AutoTokenizer

            try:
                hf = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
                text = hf.backend_tokenizer.to_str()
            except (OSError, ValueError, AttributeError) as e:
                raise SeqlabError(f"{model_dir}: no usable tokenizer files ({e})") from None
        return cls(text, max_length=max_length, truncate=truncate)

    def _special_ids(self) -> tuple[list[int], list[int]]:
        """The ids the tokenizer's post-processor puts before and after a text ([CLS], [SEP])."""
        enc = self.tokenizer.encode("a", add_special_tokens=True)
        plain = [i for i, special in enumerate(enc.special_tokens_mask) if not special]
        if not plain:
            return [], []
        return list(enc.ids[: plain[0]]), list(enc.ids[plain[-1] + 1 :])

    def encode(self, text: str) -> list[int]:
        """One text to ids, special tokens included, at most `max_length` of them."""
        return self.encode_many([text])[0]

    def encode_many(self, texts: Iterable[str]) -> list[list[int]]:
        """`encode` for many texts in one (parallel) tokenizer call."""
        budget = self.max_length - len(self.prefix) - len(self.suffix)
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [self.prefix + cut(e.ids, budget, self.truncate) + self.suffix for e in encodings]

    def decode(self, ids: Iterable[int]) -> str:
        """Ids back to text (special tokens dropped)."""
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def collate(self, items: Sequence[dict]) -> dict[str, torch.Tensor]:
        """Items of a ClassificationDataset -> {"input_ids", "attention_mask" (B, T), "labels"}."""
        T = max(len(it["ids"]) for it in items)
        ids = torch.full((len(items), T), self.pad_id, dtype=torch.long)  # (B, T)
        mask = torch.zeros((len(items), T), dtype=torch.long)  # (B, T): 1 = real token
        for b, it in enumerate(items):
            n = len(it["ids"])
            ids[b, :n] = torch.as_tensor(np.asarray(it["ids"], dtype=np.int64))
            mask[b, :n] = 1
        labels = torch.tensor([it["label"] for it in items], dtype=torch.long)  # (B,)
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    def to_dict(self) -> dict:
        """JSON-safe: the kind, the tokenizer definition and the truncation settings."""
        return {
            "kind": KIND,
            "tokenizer_json": self.tokenizer_json,
            "max_length": self.max_length,
            "truncate": self.truncate,
        }

    @classmethod
    def from_dict(cls, d: dict) -> PretrainedTextEncoder:
        """Inverse of `to_dict`."""
        return cls(d["tokenizer_json"], max_length=d["max_length"], truncate=d["truncate"])

    @property
    def vocab_size(self) -> int:
        """Word pieces the tokenizer knows (specials included)."""
        return self.tokenizer.get_vocab_size()

    def __repr__(self) -> str:
        return (
            f"PretrainedTextEncoder(vocab={self.vocab_size}, max_length={self.max_length}, "
            f"truncate={self.truncate!r})"
        )
