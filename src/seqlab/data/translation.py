"""Translation pairs: Multi30k de->en (Elliott et al., 2016) and the user's parallel files.

Each side has its own TextEncoder (tokenizer + vocabulary with `<sos>`/`<eos>`, built on train
with min_freq 2 by default, as in the pytorch-seq2seq tutorials). Both sides of an item are
wrapped as `<sos> ... <eos>`; `translation_collate` pads them with 0 into the translate batch.

Work is bounded: a side longer than `MAX_PAIR_TOKENS` (256 tokens, `<sos>`/`<eos>` included: the
Transformer translators' positional table) is cut to its first 255 tokens and `<eos>`, with a note
on standard error, so one runaway line cannot make a batch of S x T attention grow without limit.
Empty files are errors naming the file.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqlab.data.batching import pad_ids
from seqlab.data.cache import cached, file_identity, from_json_array, json_array
from seqlab.data.classification import balanced_subset
from seqlab.data.download import find_file
from seqlab.data.paths import data_dir as resolve_data_dir
from seqlab.data.readers import read_lines
from seqlab.data.text import TextEncoder
from seqlab.data.vocab import EOS, SOS, Vocab
from seqlab.errors import DataNotFoundError, SeqlabError

SPLITS = ("train", "valid", "test")
MULTI30K_FILES = {"train": "train", "valid": "val", "test": "test_2016_flickr"}
MAX_PAIR_TOKENS = 256  # per side, <sos> and <eos> included


def _pack(seqs: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in seqs], dtype=np.int64)])
    flat = np.fromiter((i for s in seqs for i in s), dtype=np.int32, count=int(offsets[-1]))
    return flat, offsets


class TranslationDataset(torch.utils.data.Dataset):
    """Sentence pairs as flat id arrays + offsets; item i is {"src": ids, "tgt": ids} (int64),
    each side cut to `max_length` ids (its first max_length - 1 and its last, `<eos>`)."""

    def __init__(
        self,
        src: tuple[np.ndarray, np.ndarray],
        tgt: tuple[np.ndarray, np.ndarray],
        max_length: int | None = None,
    ):
        (self.src_flat, self.src_offsets), (self.tgt_flat, self.tgt_offsets) = src, tgt
        if len(self.src_offsets) != len(self.tgt_offsets):
            raise ValueError("src and tgt must hold the same number of sentences")
        if max_length is not None and max_length < 2:
            raise ValueError(f"max_length must be >= 2 (<sos> and <eos>), got {max_length}")
        self.max_length = max_length

    def __len__(self) -> int:
        return len(self.src_offsets) - 1

    def __getitem__(self, i: int) -> dict:
        return {
            "src": self._side(self.src_flat, self.src_offsets, i),
            "tgt": self._side(self.tgt_flat, self.tgt_offsets, i),
        }

    def _side(self, flat: np.ndarray, offsets: np.ndarray, i: int) -> np.ndarray:
        start, end = int(offsets[i]), int(offsets[i + 1])
        L = self.max_length
        if L is not None and end - start > L:  # keep <sos> and the first words, end in <eos>
            return np.concatenate([flat[start : start + L - 1], flat[end - 1 : end]]).astype(
                np.int64
            )
        return flat[start:end].astype(np.int64)

    @property
    def full_lengths(self) -> np.ndarray:
        """max(source, target) length per pair before any cut, shape (N,)."""
        return np.maximum(np.diff(self.src_offsets), np.diff(self.tgt_offsets))

    @property
    def lengths(self) -> np.ndarray:
        """max(source, target) length per pair, shape (N,): what batches are bucketed by."""
        full = self.full_lengths
        return full if self.max_length is None else np.minimum(full, self.max_length)


def translation_collate(items: Sequence[dict]) -> dict[str, torch.Tensor]:
    """Pairs -> {"src": (B, S), "src_lengths": (B,), "tgt": (B, T), "tgt_lengths": (B,)}, pad 0."""
    src, src_lengths = pad_ids([it["src"] for it in items])
    tgt, tgt_lengths = pad_ids([it["tgt"] for it in items])
    return {"src": src, "src_lengths": src_lengths, "tgt": tgt, "tgt_lengths": tgt_lengths}


@dataclass
class TranslationData:
    """Train/valid/test pairs with one encoder (and vocabulary) per language."""

    train: TranslationDataset
    valid: TranslationDataset
    test: TranslationDataset
    src_encoder: TextEncoder
    tgt_encoder: TextEncoder

    @property
    def src_vocab(self) -> Vocab:
        """Source vocabulary."""
        return self.src_encoder.vocab

    @property
    def tgt_vocab(self) -> Vocab:
        """Target vocabulary."""
        return self.tgt_encoder.vocab


def _wrap(encoder: TextEncoder, ids_lists: list[list[int]]) -> list[list[int]]:
    sos, eos = encoder.vocab.sos_id, encoder.vocab.eos_id
    return [[sos, *ids, eos] for ids in ids_lists]


def limited_rows(n: int, limit: int | None, seed: int) -> np.ndarray:
    """The line numbers a split keeps under `limit` (seeded, in file order); all without one."""
    if limit is None:
        return np.arange(n)
    return np.sort(balanced_subset(np.zeros(n), limit, seed))


def load_parallel(
    files: dict[str, tuple[str | os.PathLike, str | os.PathLike]],
    *,
    tokenizer: str | tuple[str, str] = "basic_english",
    tokenizer_options: tuple[dict, dict] | None = None,
    lowercase: bool = True,
    min_freq: int = 2,
    max_size: int | None = None,
    shared: bool = False,
    limit: int | None = None,
    seed: int = 0,
    cache: bool = True,
    max_length: int | None = MAX_PAIR_TOKENS,
) -> TranslationData:
    """Parallel text files {"train": (src, tgt), "valid": ..., "test": ...}, one sentence a line.

    Plain or gzipped; the two files of a split must have the same number of lines, and hold
    some text (an empty file is an error naming it). Missing valid or test splits come back
    empty. `limit` keeps the first-seeded `limit` pairs of each split. `shared` fits one encoder
    (vocabulary, BPE merges) on both sides of train, with the source's tokenizer, and uses it
    for both languages. Sides longer than `max_length` ids are cut when read, with a note.
    """
    if "train" not in files:
        raise SeqlabError("a train pair of files is required")
    paths = {k: (Path(s), Path(t)) for k, (s, t) in files.items()}
    src_tok, tgt_tok = (tokenizer, tokenizer) if isinstance(tokenizer, str) else tokenizer
    src_opts, tgt_opts = tokenizer_options or ({}, {})

    def build() -> dict[str, np.ndarray]:
        lines = {}
        for split, (sp, tp) in paths.items():
            src_lines, tgt_lines = read_lines(sp), read_lines(tp)
            if len(src_lines) != len(tgt_lines):
                raise SeqlabError(
                    f"{sp} has {len(src_lines)} lines but {tp} has {len(tgt_lines)}; "
                    "parallel files need one sentence per line on both sides"
                )
            if limit is not None:
                keep = limited_rows(len(src_lines), limit, seed)
                src_lines = [src_lines[i] for i in keep]
                tgt_lines = [tgt_lines[i] for i in keep]
            lines[split] = (src_lines, tgt_lines)

        def fit(texts: list[str], tok: str, opts: dict) -> tuple[TextEncoder, list[list[int]]]:
            return TextEncoder.fit_encode(
                texts,
                tok,
                tokenizer_options=opts,
                min_freq=min_freq,
                max_size=max_size,
                specials=[SOS, EOS],
                lowercase=lowercase,
                strip_html=False,
            )

        if shared:
            src_train, tgt_train = lines["train"]
            enc, both_ids = fit(src_train + tgt_train, src_tok, src_opts)
            fitted = [(enc, both_ids[: len(src_train)]), (enc, both_ids[len(src_train) :])]
        else:
            fitted = [fit(lines["train"][0], src_tok, src_opts)]
            fitted.append(fit(lines["train"][1], tgt_tok, tgt_opts))
        arrays = {}
        for side, (enc, train_ids) in enumerate(fitted):
            name = ("src", "tgt")[side]
            arrays[f"{name}_encoder"] = json_array(enc.to_dict())
            for split in SPLITS:
                if split not in lines:
                    ids = []
                elif split == "train":
                    ids = train_ids
                else:
                    ids = enc.encode_many(lines[split][side], truncate=False)
                flat, offsets = _pack(_wrap(enc, ids))
                arrays[f"{split}_{name}_flat"], arrays[f"{split}_{name}_offsets"] = flat, offsets
        return arrays

    identity = {
        "files": {k: [file_identity(p) for p in v] for k, v in paths.items()},
        "settings": [src_tok, tgt_tok, src_opts, tgt_opts, lowercase, min_freq, max_size, shared],
        "limit": [limit, seed],
    }
    a = cached("translation", identity, build, enabled=cache)
    sets = [
        TranslationDataset(
            (a[f"{s}_src_flat"], a[f"{s}_src_offsets"]),
            (a[f"{s}_tgt_flat"], a[f"{s}_tgt_offsets"]),
            max_length,
        )
        for s in SPLITS
    ]
    for split, dataset in zip(SPLITS, sets, strict=True):
        sides = (dataset.src_offsets, dataset.tgt_offsets)
        for path, offsets in zip(paths.get(split, ()), sides, strict=False):  # given splits
            if len(offsets) < 2 or np.diff(offsets).max() <= 2:  # nothing but <sos> <eos>
                raise SeqlabError(f"{path}: no sentences (the {split} file is empty)")
        full = dataset.full_lengths
        if max_length is not None and len(full) and full.max() > max_length:
            _note(
                f"{split}: {int((full > max_length).sum()):,} of {len(full):,} pairs have a side "
                f"longer than {max_length} tokens (the longest {int(full.max()):,}); each such "
                f"side is cut to <sos>, its first {max_length - 2} tokens and <eos>"
            )
    encoders = [TextEncoder.from_dict(from_json_array(a[f"{n}_encoder"])) for n in ("src", "tgt")]
    return TranslationData(*sets, *encoders)


def _note(message: str) -> None:
    """A note on the data to standard error, once (by the main process under torchrun)."""
    if os.environ.get("RANK", "0") == "0":
        print(f"seqlab: note: {message}", file=sys.stderr, flush=True)


def multi30k_files(
    data_dir: str | os.PathLike | None = None,
    src: str = "de",
    tgt: str = "en",
    download: bool | None = None,
) -> dict[str, tuple[Path, Path]]:
    """Multi30k task-1 files: {train,val,test_2016_flickr}.{de,en}, gzipped or plain."""
    base = resolve_data_dir(data_dir)
    for folder in (base / "multi30k", base):
        for ext in (".gz", ""):
            found = {
                s: tuple(folder / f"{stem}.{lang}{ext}" for lang in (src, tgt))
                for s, stem in MULTI30K_FILES.items()
            }
            if all(p.is_file() for pair in found.values() for p in pair):
                return found
    try:
        return {
            s: tuple(
                find_file(f"multi30k/{stem}.{lang}.gz", data_dir, download=download)
                for lang in (src, tgt)
            )
            for s, stem in MULTI30K_FILES.items()
        }
    except DataNotFoundError as e:
        raise DataNotFoundError(f"Multi30k not found in {base}: {e}") from e


def load_multi30k(
    data_dir: str | os.PathLike | None = None,
    *,
    src: str = "de",
    tgt: str = "en",
    tokenizer: str | tuple[str, str] = "basic_english",
    download: bool | None = None,
    **settings: Any,
) -> TranslationData:
    """Multi30k German->English: 29,000 / 1,014 / 1,000 pairs (test = test_2016_flickr).

    With tokenizer="spacy", spaCy's blank `de`/`en` tokenizers are used for the two sides. The
    other keywords (`min_freq`, `max_size`, `lowercase`, `limit`, ...) are `load_parallel`'s.
    """
    files = multi30k_files(data_dir, src, tgt, download)
    options = ({"language": src}, {"language": tgt}) if tokenizer == "spacy" else None
    return load_parallel(files, tokenizer=tokenizer, tokenizer_options=options, **settings)
