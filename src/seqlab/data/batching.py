"""Batches: pad to the longest item in the batch, and bucket items of similar length together."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

# Batches' (B, T) mask, True at real tokens: the one length mask, kept importable from here.
from seqlab.nn.attention import padding_mask as padding_mask


def pad_ids(seqs: Sequence, pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack variable-length id sequences into (B, T) padded with `pad_id`, T = the longest."""
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)  # (B,)
    # max(..., 1): a batch of empty texts still gives a (B, 1) tensor models can embed.
    out = torch.full((len(seqs), max(max((len(s) for s in seqs), default=0), 1)), pad_id)
    for b, s in enumerate(seqs):
        if len(s):
            out[b, : len(s)] = torch.as_tensor(np.asarray(s, dtype=np.int64))
    return out, lengths


def pad_collate(items: Sequence[dict]) -> dict[str, torch.Tensor]:
    """Items -> {"ids": (B, T) long padded with 0, "lengths": (B,), "labels": (B,)}."""
    ids, lengths = pad_ids([it["ids"] for it in items])
    labels = torch.tensor([it["label"] for it in items], dtype=torch.long)
    return {"ids": ids, "lengths": lengths, "labels": labels}


class BucketBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of indices whose items have similar lengths, sharded across DDP ranks.

    Each epoch: shuffle all indices (seed + epoch), cut them into chunks of `bucket_batches`
    batches, sort each chunk by length and cut it into batches, then shuffle the batch order.
    Sorting only within chunks keeps the randomness of the data order while padding little (the
    BucketIterator idea of torchtext). Rank r of R takes batches r, r+R, r+2R, ...; the batch list
    is first padded by repeating batches (or, with drop_last, cut) to a multiple of R so that all
    ranks run the same number of steps, as `DistributedSampler` does.
    """

    def __init__(
        self,
        lengths: Sequence[int] | np.ndarray,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        drop_last: bool = False,
        bucket_batches: int = 64,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be in [0, num_replicas={num_replicas}), got {rank}")
        self.lengths = np.asarray(lengths, dtype=np.int64)  # (N,)
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.num_replicas, self.rank, self.drop_last = num_replicas, rank, drop_last
        self.bucket_batches = bucket_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use a different (deterministic) order in each epoch; call it before iterating."""
        self.epoch = epoch

    def _all_batches(self) -> list[np.ndarray]:
        n = len(self.lengths)
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        chunk = self.batch_size * self.bucket_batches
        batches = []
        for start in range(0, n, chunk):
            idx = order[start : start + chunk]
            idx = idx[np.argsort(self.lengths[idx], kind="stable")]
            batches += [idx[i : i + self.batch_size] for i in range(0, len(idx), self.batch_size)]
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def _num_batches(self) -> int:
        full, rest = divmod(len(self.lengths), self.batch_size)
        total = full if self.drop_last else full + (rest > 0)
        if self.drop_last:
            return total // self.num_replicas
        return math.ceil(total / self.num_replicas)

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._all_batches()
        per_rank = self._num_batches()
        total = per_rank * self.num_replicas
        if total > len(batches):  # repeat from the start so every rank has `per_rank` batches
            batches = (batches * math.ceil(total / max(len(batches), 1)))[:total]
        for b in batches[self.rank : total : self.num_replicas]:
            yield b.tolist()

    def __len__(self) -> int:
        return self._num_batches()


def bucket_loader(
    dataset: torch.utils.data.Dataset,
    batch_size: int,
    collate_fn: Callable[[list[dict]], dict[str, torch.Tensor]],
    *,
    num_workers: int = 0,
    **sampling: Any,
) -> torch.utils.data.DataLoader:
    """A DataLoader over `dataset` (with a `.lengths` array) in length-bucketed batches; the
    other keywords (`shuffle`, `seed`, `num_replicas`, `rank`, `drop_last`) go to
    `BucketBatchSampler`."""
    sampler = BucketBatchSampler(dataset.lengths, batch_size, **sampling)
    return torch.utils.data.DataLoader(
        dataset, batch_sampler=sampler, collate_fn=collate_fn, num_workers=num_workers
    )
