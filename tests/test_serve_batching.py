"""Dynamic batching: concurrent requests share forward passes, each gets its own rows, and
one request's failure, a full queue or a slow model are answered without harming the others."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from seqlab.errors import SeqlabError
from seqlab.serve.batching import Batcher, BatchSettings
from seqlab.serve.limits import ApiError


def squares(calls: list):
    """fn that records each batch it is given and answers item ** 2 (times the options)."""

    def fn(items, options):
        calls.append(list(items))
        time.sleep(0.01)  # a forward pass takes a while: requests pile up meanwhile
        if "bad" in items:
            raise SeqlabError("item 'bad' cannot be read")
        return [x * x * (options or 1) for x in items]

    return fn


def test_concurrent_requests_share_batches_and_get_their_own_rows():
    calls = []
    batcher = Batcher(squares(calls), BatchSettings(max_batch=64, wait_ms=20))
    with ThreadPoolExecutor(32) as pool:
        futures = [pool.submit(batcher.submit, [i, i + 100]) for i in range(32)]
        results = [f.result() for f in futures]
    batcher.close()
    assert results == [[i * i, (i + 100) ** 2] for i in range(32)]
    assert len(calls) < 16  # 32 requests, far fewer forward passes
    assert max(len(c) for c in calls) <= 64
    assert sorted(x for c in calls for x in c) == sorted(x for i in range(32) for x in (i, i + 100))


def test_batch_size_one_runs_every_request_alone():
    calls = []
    batcher = Batcher(squares(calls), BatchSettings(max_batch=1, wait_ms=20))
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: batcher.submit([i]), range(8)))
    assert results == [[i * i] for i in range(8)] and len(calls) == 8 == batcher.batches


def test_only_requests_with_the_same_options_share_a_batch():
    calls = []
    batcher = Batcher(squares(calls), BatchSettings(max_batch=64, wait_ms=30))
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(batcher.submit, [i], 1 + i % 2) for i in range(8)]
        results = [f.result() for f in futures]
    assert results == [[i * i * (1 + i % 2)] for i in range(8)]
    for c in calls:  # each batch holds the even items (options 1) or the odd ones (options 2)
        assert len({x % 2 for x in c}) == 1


def test_a_bad_request_fails_alone_and_the_others_are_answered():
    calls = []
    batcher = Batcher(squares(calls), BatchSettings(max_batch=64, wait_ms=30))
    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(batcher.submit, ["bad"] if i == 3 else [i]) for i in range(6)]
        time.sleep(0.2)
    for i, f in enumerate(futures):
        if i == 3:
            with pytest.raises(ApiError) as e:
                f.result()
            assert e.value.status == 422 and "'bad'" in e.value.message
        else:
            assert f.result() == [i * i]
    assert batcher.submit([7]) == [49]  # and the next request is served normally


def test_full_queue_is_503_and_slow_model_is_504():
    release = threading.Event()

    def stuck(items, options):
        release.wait(5)
        return items

    batcher = Batcher(stuck, BatchSettings(max_batch=1, max_queue=2, timeout_s=0.3))
    with ThreadPoolExecutor(4) as pool:
        running = pool.submit(batcher.submit, ["first"])  # the worker is stuck on this one
        time.sleep(0.05)
        waiting = [pool.submit(batcher.submit, [i]) for i in range(2)]  # fills the queue
        time.sleep(0.05)
        with pytest.raises(ApiError) as full:
            batcher.submit(["one too many"])
        assert full.value.status == 503 and full.value.limit == "max_queue"
        with pytest.raises(ApiError) as slow:
            running.result()
        assert slow.value.status == 504 and slow.value.limit == "timeout_s"
        for f in waiting:
            with pytest.raises(ApiError):
                f.result()
        release.set()
    assert batcher.submit(["after"]) == ["after"]  # timed-out requests left the queue
