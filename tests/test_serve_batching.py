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


def test_served_classifier_batches_concurrent_requests_with_the_same_answers(tmp_path):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    import shutil
    from pathlib import Path

    from fastapi.testclient import TestClient

    from seqlab.serve.app import create_app
    from seqlab.tasks import load

    fixture = Path(__file__).parent / "fixtures" / "checkpoints" / "classify" / "best.pt"
    shutil.copy(fixture, tmp_path / "best.pt")
    loaded = load(tmp_path / "best.pt")
    texts = [f"where is the lake number {i} ?" + " and more" * (i % 5) for i in range(24)]
    alone = [loaded.task.probabilities(loaded, [t])[0].tolist() for t in texts]
    app = create_app({"c": loaded}, batching=BatchSettings(max_batch=64, wait_ms=50))
    with TestClient(app) as client, ThreadPoolExecutor(24) as pool:
        post = lambda t: client.post("/v1/classify", json={"model": "c", "texts": [t]})  # noqa: E731
        answers = list(pool.map(post, texts))
    batcher = app.state.served["c"].batcher
    for text, answer, want in zip(texts, answers, alone, strict=True):
        assert answer.status_code == 200, answer.text
        got = list(answer.json()["results"][0]["probabilities"].values())
        assert got == pytest.approx(want, abs=1e-5), text  # padding beside others changes nothing
    assert batcher.batches < len(texts)  # 24 requests shared forward passes


def test_cli_batching_options_reach_the_app_and_bad_ones_are_refused(monkeypatch, tmp_path):
    uvicorn = pytest.importorskip("uvicorn")
    import shutil
    from pathlib import Path

    from seqlab.cli import main

    apps = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: apps.append(app))
    ckpt = tmp_path / "c" / "best.pt"
    ckpt.parent.mkdir()
    fixture = Path(__file__).parent / "fixtures" / "checkpoints" / "classify" / "best.pt"
    shutil.copy(fixture, ckpt)
    assert main(["serve", str(ckpt), "--max-batch", "1", "--timeout", "2.5"]) == 0
    settings = apps[-1].state.served["c"].batcher.settings
    assert (settings.max_batch, settings.timeout_s) == (1, 2.5)
    bad = [("--max-batch", "0"), ("--max-queue", "0"), ("--timeout", "0"), ("--timeout", "inf")]
    bad += [("--batch-wait-ms", "-1"), ("--batch-wait-ms", "nan")]
    for flag, value in bad:
        assert main(["serve", str(ckpt), flag, value]) == 2, flag


def test_a_lone_client_is_not_delayed_by_the_window():
    batcher = Batcher(lambda items, options: items, BatchSettings(max_batch=64, wait_ms=500))
    start = time.perf_counter()
    assert [batcher.submit([i]) for i in range(5)] == [[i] for i in range(5)]
    assert time.perf_counter() - start < 0.5  # five requests, none waited 500 ms for company


def test_served_translator_batches_requests_with_the_same_decoding(tmp_path):
    pytest.importorskip("fastapi")
    import shutil
    from pathlib import Path

    from fastapi.testclient import TestClient

    from seqlab.serve.app import create_app
    from seqlab.tasks import load

    fixture = Path(__file__).parent / "fixtures" / "checkpoints" / "translate" / "best.pt"
    shutil.copy(fixture, tmp_path / "best.pt")
    loaded = load(tmp_path / "best.pt")
    texts = ["ein mann sieht einen hund", "eine frau", "zzqx hund", "", "ein hund sieht"] * 3
    app = create_app({"t": loaded}, batching=BatchSettings(max_batch=64, wait_ms=50))
    bodies = [{"model": "t", "texts": [t], "beam": 1 + i % 2} for i, t in enumerate(texts)]
    with TestClient(app) as client, ThreadPoolExecutor(len(texts)) as pool:
        answers = list(pool.map(lambda b: client.post("/v1/translate", json=b), bodies))
    for body, answer in zip(bodies, answers, strict=True):
        assert answer.status_code == 200, answer.text
        got = answer.json()
        want, scores, notes = loaded.task.translate_with_scores(
            loaded, body["texts"], beam=body["beam"]
        )
        assert got["translations"] == want and got["notes"] == notes  # its own notes only
        assert got["scores"] == pytest.approx(scores, abs=1e-4)
    assert app.state.served["t"].batcher.batches < len(texts)


def test_by_length_runs_chunks_of_similar_length_in_the_texts_order():
    from seqlab.serve.batching import by_length

    texts = ["a" * n for n in (5, 1, 9, 3, 7, 2, 8)]
    seen = []

    def fn(part):
        seen.append([len(t) for t in part])
        return [len(t) * 10 for t in part]

    assert by_length(fn, texts, chunk=3) == [50, 10, 90, 30, 70, 20, 80]
    assert seen == [[1, 2, 3], [5, 7, 8], [9]]


def fixture_app(tmp_path, task: str, **settings):
    """The app over one fixture checkpoint (copied), with these batch settings."""
    import shutil
    from pathlib import Path

    from seqlab.serve.app import create_app
    from seqlab.tasks import load

    fixture = Path(__file__).parent / "fixtures" / "checkpoints" / task / "best.pt"
    shutil.copy(fixture, tmp_path / "best.pt")
    return create_app({task: load(tmp_path / "best.pt")}, batching=BatchSettings(**settings))


def test_the_app_serves_again_after_a_shutdown(tmp_path):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    app = fixture_app(tmp_path, "classify")
    body = {"model": "classify", "texts": ["where is the lake ?"]}
    for _ in range(2):  # the second start finds its batchers closed by the first shutdown
        with TestClient(app) as client:
            assert client.post("/v1/classify", json=body).status_code == 200


def test_a_busy_model_is_504_for_unbatched_requests_and_the_next_one_is_served(tmp_path):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    app = fixture_app(tmp_path, "lm", timeout_s=0.3)
    client = TestClient(app)
    body = {"model": "lm", "prompt": "where is", "max_words": 3, "seed": 1}
    lock = app.state.served["lm"].lock
    with lock:  # another request holds the model
        start = time.perf_counter()
        r = client.post("/v1/generate", json=body)
        assert time.perf_counter() - start < 2
    assert r.status_code == 504 and r.json()["error"]["limit"] == "timeout_s"
    assert client.post("/v1/generate", json=body).status_code == 200


def test_async_submit_times_out_and_leaves_the_queue():
    import asyncio

    release = threading.Event()
    batcher = Batcher(lambda items, o: release.wait(5) and items, BatchSettings(timeout_s=0.2))

    async def two():
        first = asyncio.ensure_future(batcher.asubmit(["stuck"]))
        await asyncio.sleep(0.05)
        with pytest.raises(ApiError) as waited:
            await batcher.asubmit(["queued"])
        with pytest.raises(ApiError):
            await first
        return waited.value

    error = asyncio.run(two())
    assert error.status == 504 and error.limit == "timeout_s"
    release.set()
    assert asyncio.run(batcher.asubmit(["after"])) == ["after"]


def test_an_unexpected_error_is_a_json_500_without_the_traceback(tmp_path, monkeypatch):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    app = fixture_app(tmp_path, "classify")
    task = app.state.served["classify"].loaded.task

    def broken(self, loaded, texts):
        raise RuntimeError("secret detail at /some/path")

    monkeypatch.setattr(type(task), "probabilities", broken)
    client = TestClient(app, raise_server_exceptions=False)
    r = client.post("/v1/classify", json={"model": "classify", "texts": ["a"]})
    assert r.status_code == 500 and r.headers["content-type"].startswith("application/json")
    message = r.json()["error"]["message"]
    assert "RuntimeError" in message and "secret" not in message and "/some/path" not in message
    assert client.get("/health").json()["status"] == "ok"
