"""Text classification data sets: compact id storage, seeded splits, and the shared build step."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from seqlab.data.cache import cached, from_json_array, json_array
from seqlab.data.text import TRUNCATE_SIDES, TextEncoder
from seqlab.errors import SeqlabError

SPLITS = ("train", "valid", "test")


class ClassificationDataset(torch.utils.data.Dataset):
    """Token ids of N texts as one flat array + offsets (not N Python lists), with labels.

    Item i is `{"ids": int64 array, "length": int, "label": int}`, the ids cut to `max_length`
    on the `truncate` side ("pre" keeps the end, "post" keeps the beginning). Multi-label data
    sets hold labels (N, K) of 0/1 (multi-hot); their items' "label" is a list of K ints, which
    the collate functions stack into labels (B, K).
    """

    def __init__(
        self,
        flat: np.ndarray,
        offsets: np.ndarray,
        labels: np.ndarray,
        max_length: int | None = None,
        truncate: str = "pre",
    ) -> None:
        if len(offsets) != len(labels) + 1:
            raise ValueError(f"offsets must have shape (N+1,) = ({len(labels) + 1},)")
        if truncate not in TRUNCATE_SIDES:
            raise ValueError(f"truncate must be 'pre' or 'post', got {truncate!r}")
        self.flat = np.asarray(flat, dtype=np.int32)  # (total tokens,)
        self.offsets = np.asarray(offsets, dtype=np.int64)  # (N+1,)
        self.labels = np.asarray(labels, dtype=np.int64)  # (N,), or (N, K) multi-hot
        self.max_length, self.truncate = max_length, truncate

    @classmethod
    def from_lists(
        cls, ids: Sequence[Sequence[int]], labels: Sequence[int], **kw
    ) -> ClassificationDataset:
        """Pack a list of id lists."""
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        flat = np.fromiter((i for x in ids for i in x), dtype=np.int32, count=int(offsets[-1]))
        return cls(flat, offsets, np.asarray(labels, dtype=np.int64), **kw)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        start, end = int(self.offsets[i]), int(self.offsets[i + 1])
        if self.max_length is not None and end - start > self.max_length:
            if self.truncate == "pre":
                start = end - self.max_length
            else:
                end = start + self.max_length
        ids = self.flat[start:end].astype(np.int64)
        label = self.labels[i].tolist() if self.multi_label else int(self.labels[i])
        return {"ids": ids, "length": len(ids), "label": label}

    @property
    def multi_label(self) -> bool:
        """Whether the labels are multi-hot rows (N, K) rather than ids (N,)."""
        return self.labels.ndim == 2

    @property
    def lengths(self) -> np.ndarray:
        """Length of every item after truncation, shape (N,): what a bucket sampler sorts by."""
        full = np.diff(self.offsets)
        return full if self.max_length is None else np.minimum(full, self.max_length)

    @property
    def num_tokens(self) -> int:
        """Tokens before truncation."""
        return int(self.offsets[-1])

    def label_counts(self, num_classes: int) -> list[int]:
        """Items per label id (multi-label: items carrying each label)."""
        if self.multi_label:
            return self.labels.sum(axis=0).tolist()
        return np.bincount(self.labels, minlength=num_classes).tolist()

    def subset(self, indices: Sequence[int]) -> ClassificationDataset:
        """A new data set holding the given items, in that order."""
        idx = np.asarray(indices, dtype=np.int64)
        starts, ends = self.offsets[idx], self.offsets[idx + 1]
        lengths = ends - starts
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        # Vectorised gather of the slices: position p of item k reads flat[starts[k] + p].
        pos = np.arange(offsets[-1]) - np.repeat(offsets[:-1], lengths) + np.repeat(starts, lengths)
        return ClassificationDataset(
            self.flat[pos], offsets, self.labels[idx], self.max_length, self.truncate
        )

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The arrays to cache, named PREFIX_flat, PREFIX_offsets, PREFIX_labels."""
        return {
            f"{prefix}_flat": self.flat,
            f"{prefix}_offsets": self.offsets,
            f"{prefix}_labels": self.labels,
        }


@dataclass
class ClassificationData:
    """Train/valid/test splits with the encoder fitted on train and the label names."""

    train: ClassificationDataset
    valid: ClassificationDataset
    test: ClassificationDataset
    encoder: TextEncoder
    label_names: list[str]

    @property
    def num_classes(self) -> int:
        """Number of labels."""
        return len(self.label_names)

    @property
    def vocab_size(self) -> int:
        """Size of the vocabulary, specials included."""
        return len(self.encoder.vocab)

    @property
    def multi_label(self) -> bool:
        """Whether texts carry several labels (multi-hot rows)."""
        return self.train.multi_label


def strata(labels: np.ndarray) -> np.ndarray:
    """The label ids to stratify and balance by: the ids themselves, or for multi-hot rows
    (N, K) each text's first label (its lowest id; 0 for a row without labels)."""
    return labels if labels.ndim == 1 else labels.argmax(axis=1)


def stratified_split(labels: np.ndarray, fractions: Sequence[float], seed: int) -> list[np.ndarray]:
    """Indices of a seeded split into parts of the given `fractions`, keeping label proportions.

    Keras' `validation_split` takes the last 20% unshuffled; on IMDB, stored neg then pos, that
    would give an all-positive validation set, so the split here shuffles within each label.
    """
    if abs(sum(fractions) - 1) > 1e-6 or min(fractions) < 0:
        raise SeqlabError(f"split fractions must be >= 0 and sum to 1, got {list(fractions)}")
    labels = strata(labels)
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        bounds = np.round(np.cumsum(fractions)[:-1] * len(idx)).astype(int)
        for part, chunk in zip(parts, np.split(idx, bounds), strict=True):
            part.append(chunk)
    return [rng.permutation(np.concatenate(p)) for p in parts]


def balanced_subset(labels: np.ndarray, limit: int | float, seed: int) -> np.ndarray:
    """Indices of a seeded class-balanced subset: `limit` items (int) or a fraction (float)."""
    labels = strata(labels)
    n = len(labels)
    if isinstance(limit, float):
        if not 0 < limit <= 1:
            raise SeqlabError(f"a fractional limit must be in (0, 1], got {limit}")
        k = round(limit * n)
    else:
        k = int(limit)
    if k >= n:
        return np.random.default_rng(seed).permutation(n)
    if k < 1:
        raise SeqlabError(f"limit must keep at least one item, got {limit}")
    classes = np.unique(labels)
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in classes]
    # Round-robin over the labels so each gets k/K items (or all it has, if fewer).
    chosen, depth = [], 0
    while len(chosen) < k:
        for idx in per_class:
            if depth < len(idx) and len(chosen) < k:
                chosen.append(idx[depth])
        depth += 1
    return rng.permutation(np.asarray(chosen, dtype=np.int64))


Pool = tuple[list[str], np.ndarray]  # (texts, label ids (N,) or multi-hot rows (N, K))
RawSplits = dict[str, Pool]  # split -> (texts, label ids)
Pools = tuple[Pool, Pool | None, Pool | None]  # the given train, valid and test files' records


# The longest text a classifier trains on with --max-length none (IMDB's longest review has
# under 3,000 tokens): longer ones are cut, with a note, so memory stays bounded.
MAX_TEXT_TOKENS = 20_000


def build_classification(
    name: str,
    identity: dict,
    read: Callable[[], tuple[Pools, list[str]]],
    *,
    split: str = "official",
    valid_fraction: float = 0.2,
    seed: int = 0,
    limit: int | float | None = None,
    tokenizer: str = "basic_english",
    tokenizer_options: dict | None = None,
    min_freq: int = 1,
    max_size: int | None = None,
    stop_words: Sequence[str] | None = None,
    lowercase: bool = True,
    strip_html: bool = True,
    max_length: int | None = None,
    truncate: str = "pre",
    cache: bool = True,
) -> ClassificationData:
    """Read the pools with `read()`, split them (`make_splits`), fit the encoder on train and
    encode all splits; cached on disk.

    `identity` must name the source files and what `read` depends on; the split and encoder
    settings are added here. `max_length`/`truncate` are applied when items are read, so they
    share a cache.
    """
    if max_length is not None and max_length < 1:
        raise SeqlabError(f"max_length must be >= 1 or None, got {max_length}")
    if truncate not in TRUNCATE_SIDES:
        raise SeqlabError(f"truncate must be 'pre' or 'post', got {truncate!r}")
    settings = {
        "split": split,
        "valid_fraction": valid_fraction,
        "seed": seed,
        "limit": limit,
        "tokenizer": tokenizer,
        "tokenizer_options": tokenizer_options or {},
        "min_freq": min_freq,
        "max_size": max_size,
        "stop_words": sorted(stop_words or ()),
        "lowercase": lowercase,
        "strip_html": strip_html,
    }

    def build() -> dict[str, np.ndarray]:
        pools, label_names = read()
        splits = make_splits(
            *pools, split=split, valid_fraction=valid_fraction, seed=seed, limit=limit
        )
        texts, labels = splits["train"]
        encoder, train_ids = TextEncoder.fit_encode(
            texts,
            tokenizer,
            tokenizer_options=tokenizer_options,
            min_freq=min_freq,
            max_size=max_size,
            stop_words=stop_words,
            lowercase=lowercase,
            strip_html=strip_html,
        )
        arrays = ClassificationDataset.from_lists(train_ids, labels).arrays("train")
        for part in ("valid", "test"):
            texts, labels = splits[part]
            ids = encoder.encode_many(texts, truncate=False)
            arrays |= ClassificationDataset.from_lists(ids, labels).arrays(part)
        arrays["encoder"] = json_array(encoder.to_dict())
        arrays["label_names"] = json_array(label_names)
        return arrays

    arrays = cached(name, {**identity, **settings}, build, enabled=cache)
    encoder = TextEncoder.from_dict(from_json_array(arrays["encoder"]))
    encoder.max_length, encoder.truncate = max_length, truncate
    cut = max_length
    if max_length is None:  # whole texts, but bounded: one runaway text must not fill memory
        longest = max(int(np.diff(arrays[f"{s}_offsets"]).max(initial=0)) for s in SPLITS)
        if longest > MAX_TEXT_TOKENS:
            cut = MAX_TEXT_TOKENS
            print(
                f"seqlab: note: the longest text has {longest:,} tokens; texts are cut to "
                f"{MAX_TEXT_TOKENS:,} ({truncate} side) to bound memory (--max-length sets it)",
                file=sys.stderr,
            )
    sets = [
        ClassificationDataset(
            arrays[f"{s}_flat"], arrays[f"{s}_offsets"], arrays[f"{s}_labels"], cut, truncate
        )
        for s in SPLITS
    ]
    return ClassificationData(*sets, encoder, from_json_array(arrays["label_names"]))


def parse_ratio(split: str) -> list[float] | None:
    """ "7:1:2" -> [0.7, 0.1, 0.2]; "official" -> None."""
    if split == "official":
        return None
    try:
        parts = [float(p) for p in split.split(":")]
    except ValueError:
        parts = []
    if len(parts) != 3 or min(parts) < 0 or sum(parts) <= 0:
        raise SeqlabError(
            f"split must be 'official' or 'train:valid:test' like '7:1:2', got {split!r}"
        )
    return [p / sum(parts) for p in parts]


def make_splits(
    train: Pool,
    valid: Pool | None,
    test: Pool | None,
    *,
    split: str = "official",
    valid_fraction: float = 0.2,
    seed: int = 0,
    limit: int | float | None = None,
) -> RawSplits:
    """Train/valid/test texts and labels from the given files' records.

    "official": keep the given train/test, carve `valid_fraction` of train for validation unless
    a valid file is given. "a:b:c": pool everything and split it a:b:c, stratified and seeded.
    `limit` then keeps a class-balanced subset of each split (per split: a count or a fraction).
    """
    pools = [p for p in (train, valid, test) if p is not None]
    ratio = parse_ratio(split)
    if ratio is not None:
        texts = [t for p in pools for t in p[0]]
        labels = np.concatenate([p[1] for p in pools])
        parts = stratified_split(labels, ratio, seed)
        out = {
            s: ([texts[i] for i in idx], labels[idx]) for s, idx in zip(SPLITS, parts, strict=True)
        }
    else:
        if test is None:
            raise SeqlabError("split='official' needs a test file; give one or use split='7:1:2'")
        if valid is None:
            if not 0 <= valid_fraction < 1:
                raise SeqlabError(f"valid_fraction must be in [0, 1), got {valid_fraction}")
            # valid_fraction=0 gives an empty validation split (the whole official train).
            tr, va = stratified_split(train[1], [1 - valid_fraction, valid_fraction], seed)
            valid = ([train[0][i] for i in va], train[1][va])
            train = ([train[0][i] for i in tr], train[1][tr])
        out = dict(zip(SPLITS, (train, valid, test), strict=True))
    if limit is not None:
        for k, s in enumerate(SPLITS):
            texts, labels = out[s]
            idx = balanced_subset(labels, limit, seed + k)
            out[s] = ([texts[i] for i in idx], labels[idx])
    return out
