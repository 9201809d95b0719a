"""pad_collate and BucketBatchSampler: padding to the batch's longest item, buckets, DDP shards."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.data.batching import BucketBatchSampler, pad_collate
from seqlab.data.classification import ClassificationDataset


def test_pad_collate_pads_to_longest_in_batch():
    items = [
        {"ids": np.array([5, 6, 7]), "length": 3, "label": 1},
        {"ids": np.array([8]), "length": 1, "label": 0},
    ]
    b = pad_collate(items)
    assert b["ids"].dtype == torch.long and b["ids"].shape == (2, 3)
    assert b["ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert b["lengths"].tolist() == [3, 1] and b["labels"].tolist() == [1, 0]


def test_dataset_items_truncation_and_subset():
    ds = ClassificationDataset.from_lists([[1, 2, 3, 4], [5], []], [0, 1, 0], max_length=2)
    assert ds[0]["ids"].tolist() == [3, 4] and ds[0]["ids"].dtype == np.int64
    assert ds[1] == {"ids": ds[1]["ids"], "length": 1, "label": 1}
    assert ds.lengths.tolist() == [2, 1, 0] and ds.num_tokens == 5
    sub = ds.subset([2, 0])
    assert [sub[i]["ids"].tolist() for i in range(2)] == [[], [3, 4]]
    assert sub.labels.tolist() == [0, 0]
    post = ClassificationDataset(ds.flat, ds.offsets, ds.labels, max_length=2, truncate="post")
    assert post[0]["ids"].tolist() == [1, 2]
    assert pad_collate([sub[0]])["ids"].shape == (1, 1)  # all-empty batch still (B, 1)


def test_bucket_sampler_groups_lengths_and_is_deterministic():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 500, size=1000)
    s = BucketBatchSampler(lengths, batch_size=10, seed=3, bucket_batches=20)
    batches = list(s)
    assert len(batches) == len(s) == 100
    assert sorted(i for b in batches for i in b) == list(range(1000))
    # Padding waste of bucketed batches is far below that of random batches.
    waste = sum(lengths[b].max() * len(b) - lengths[b].sum() for b in batches)
    rand = rng.permutation(1000).reshape(100, 10)
    waste_random = sum(lengths[b].max() * 10 - lengths[b].sum() for b in rand)
    assert waste < waste_random / 5
    assert list(s) == batches
    s.set_epoch(1)
    assert list(s) != batches


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(0, 60),
    batch=st.integers(1, 7),
    replicas=st.integers(1, 4),
    drop_last=st.booleans(),
)
def test_bucket_sampler_shards_are_disjoint_and_equal(n, batch, replicas, drop_last):
    lengths = np.arange(n) % 13
    shards = [
        list(
            BucketBatchSampler(
                lengths, batch, seed=1, num_replicas=replicas, rank=r, drop_last=drop_last
            )
        )
        for r in range(replicas)
    ]
    sizes = {len(s) for s in shards}
    assert len(sizes) == 1  # every rank runs the same number of steps
    assert len(shards[0]) == len(
        BucketBatchSampler(lengths, batch, num_replicas=replicas, drop_last=drop_last)
    )
    seen = [i for s in shards for b in s for i in b]
    if drop_last:
        assert len(seen) == len(set(seen))  # disjoint
        assert all(len(b) == batch for s in shards for b in s)
    else:
        assert set(seen) == set(range(n))  # every item is used (a few repeated to even out)


def test_bucket_sampler_rejects_bad_rank():
    with pytest.raises(ValueError, match="rank"):
        BucketBatchSampler([1, 2], 1, num_replicas=2, rank=2)
