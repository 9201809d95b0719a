"""`seqlab serve`: every endpoint on the fixture checkpoints answers what the task answers, and
every bad request is a 4xx JSON error after which the server answers normally."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")  # FastAPI's TestClient

from fastapi.testclient import TestClient  # noqa: E402

from seqlab.cli import main  # noqa: E402
from seqlab.commands.serve import model_names  # noqa: E402
from seqlab.errors import SeqlabError  # noqa: E402
from seqlab.serve.app import create_app  # noqa: E402
from seqlab.serve.limits import Limits  # noqa: E402
from seqlab.tasks import load  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints"
TASKS = ("classify", "lm", "translate", "finetune")
KEY = "s3cret-key"
TEXTS = ["who wrote the book ?", "where is the lake ?", "how many people live here ?"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The four fixture checkpoints, copied and loaded; classify has a results.json beside it."""
    root = tmp_path_factory.mktemp("serve")
    loaded = {}
    for task in TASKS:
        (root / task).mkdir()
        shutil.copy(FIXTURES / task / "best.pt", root / task / "best.pt")
        loaded[task] = load(root / task / "best.pt")
    results = {"test": {"accuracy": 0.75, "loss": float("nan")}, "history": []}
    (root / "classify" / "results.json").write_text(json.dumps(results))
    return loaded


@pytest.fixture(scope="module")
def client(models):
    """A client of the app with the default limits, no API key."""
    return TestClient(create_app(models))


def error(response, status: int) -> dict:
    """The JSON error of `response`, checked to have `status`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()["error"]
    assert body["status"] == status and body["message"]
    return body


def test_health_models_and_docs(client, models):
    assert client.get("/health").json() == {"status": "ok", "models": 4}
    info = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert sorted(info) == sorted(TASKS)
    c = info["classify"]
    assert c["task"] == "classify" and c["model_kind"] == "SequenceClassifier"
    assert c["parameters"] == sum(p.numel() for p in models["classify"].model.parameters())
    assert c["config"]["model"]["encoder"] == "gru" and "train" in c["config"]
    assert c["test"] == {"accuracy": 0.75, "loss": None}  # NaN is not JSON
    assert c["label_names"] == ["HUM", "LOC", "NUM"] and c["capabilities"] == ["/v1/classify"]
    assert info["lm"]["test"] is None and info["lm"]["capabilities"] == ["/v1/generate"]
    assert info["translate"]["model_kind"] == "TransformerTranslator"
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/classify", "/v1/generate", "/v1/translate", "/v1/models"} <= set(paths)
    assert "access-control-allow-origin" not in client.get("/health").headers  # CORS off


@pytest.mark.parametrize("name", ["classify", "finetune"])
def test_classify_equals_predict(client, models, name):
    loaded = models[name]
    results = client.post("/v1/classify", json={"model": name, "texts": TEXTS}).json()["results"]
    expected = loaded.task.predict(loaded, TEXTS)
    assert [(r["label"], r["probability"]) for r in results] == expected
    for r in results:
        assert list(r["probabilities"]) == loaded.label_names
        assert sum(r["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert r["probabilities"][r["label"]] == r["probability"]


def test_generate_with_a_seed_equals_the_task(client, models):
    loaded = models["lm"]
    settings = {"temperature": 0.8, "top_k": 5, "top_p": 0.9, "seed": 7}
    body = {"model": "lm", "prompt": "where is", "max_words": 6, **settings}
    got = client.post("/v1/generate", json=body).json()
    texts, unknown = loaded.task.generate(loaded, "where is", words=6, num=1, **settings)
    assert got == {"model": "lm", "text": texts[0], "unknown_words": sorted(set(unknown))}
    again = client.post("/v1/generate", json=body).json()
    assert again == got  # same seed, same words
    assert client.post("/v1/generate", json={"model": "lm"}).status_code == 200  # all defaults


def test_translate_equals_the_task(client, models):
    loaded = models["translate"]
    texts = ["ein mann .", "", "eine frau liest ein buch ."]
    for options in ({}, {"beam": 3, "length_penalty": 0.6, "max_length": 8}):
        got = client.post("/v1/translate", json={"model": "translate", "texts": texts, **options})
        decode = {"beam": None, "length_penalty": None, "max_decode": None}
        decode.update({"max_decode": options.pop("max_length", None), **options})
        out, notes = loaded.task.translate(loaded, texts, **decode)
        _, scores, _ = loaded.task.translate_with_scores(loaded, texts, **decode)
        assert got.json() == {
            "model": "translate",
            "translations": out,
            "scores": scores,
            "notes": notes,
        }
        assert got.json()["translations"][1] == "" and got.json()["scores"][1] == 0.0
        assert all(score < 0 for i, score in enumerate(scores) if i != 1)


BAD = [
    # (what, path, body, status, the limit named)
    ("malformed JSON", "/v1/classify", b'{"model": "classify", "texts": [', 422, None),
    ("not an object", "/v1/classify", [1, 2], 422, None),
    ("texts not strings", "/v1/classify", {"model": "classify", "texts": [1, 2]}, 422, None),
    ("texts a string", "/v1/classify", {"model": "classify", "texts": "hi"}, 422, None),
    ("model missing", "/v1/classify", {"texts": ["hi"]}, 422, None),
    ("unknown field", "/v1/generate", {"model": "lm", "beam": 3}, 422, None),
    ("stream a string", "/v1/generate", {"model": "lm", "stream": "yes"}, 422, None),
    (
        "stream 10**9 words",
        "/v1/generate",
        {"model": "lm", "stream": True, "max_words": 10**9},
        422,
        "max_words",
    ),
    ("prompt a number", "/v1/completions", {"model": "lm", "prompt": 5}, 422, None),
    ("prompt ids", "/v1/completions", {"model": "lm", "prompt": [[1, 2]]}, 422, None),
    ("prompt empty list", "/v1/completions", {"model": "lm", "prompt": []}, 422, None),
    ("max_tokens a string", "/v1/completions", {"model": "lm", "max_tokens": "5"}, 422, None),
    ("max_tokens 10**9", "/v1/completions", {"model": "lm", "max_tokens": 10**9}, 422, "max_words"),
    ("n 10**6", "/v1/completions", {"model": "lm", "n": 10**6}, 422, "max_texts"),
    ("n 0", "/v1/completions", {"model": "lm", "n": 0}, 422, None),
    ("temperature -1", "/v1/completions", {"model": "lm", "temperature": -1}, 422, None),
    ("top_p 0", "/v1/completions", {"model": "lm", "top_p": 0}, 422, None),
    ("stop unsupported", "/v1/completions", {"model": "lm", "stop": ["\\n"]}, 422, None),
    ("unknown model", "/v1/completions", {"model": "gpt-4", "prompt": "a"}, 404, None),
    ("classifier", "/v1/completions", {"model": "classify", "prompt": "a"}, 400, None),
    ("classifier", "/v1/generate", {"model": "classify", "stream": True}, 400, None),
    ("max_words a string", "/v1/generate", {"model": "lm", "max_words": "5"}, 422, None),
    ("empty list", "/v1/classify", {"model": "classify", "texts": []}, 422, None),
    ("empty translate list", "/v1/translate", {"model": "translate", "texts": []}, 422, None),
    ("unknown model", "/v1/classify", {"model": "../../etc/passwd", "texts": ["hi"]}, 404, None),
    ("no capability", "/v1/classify", {"model": "lm", "texts": ["hi"]}, 400, None),
    ("no capability", "/v1/generate", {"model": "translate"}, 400, None),
    ("no capability", "/v1/translate", {"model": "classify", "texts": ["hi"]}, 400, None),
    (
        "10 MB text",
        "/v1/classify",
        {"model": "classify", "texts": ["a " * 5_000_000]},
        413,
        "max_body_bytes",
    ),
    ("long text", "/v1/classify", {"model": "classify", "texts": ["ab " * 5000]}, 422, "max_chars"),
    (
        "10,000 texts",
        "/v1/classify",
        {"model": "classify", "texts": ["a"] * 10_000},
        422,
        "max_texts",
    ),
    (
        "10,000 texts",
        "/v1/translate",
        {"model": "translate", "texts": ["a"] * 10_000},
        422,
        "max_texts",
    ),
    ("long prompt", "/v1/generate", {"model": "lm", "prompt": "a" * 20_000}, 422, "max_chars"),
    ("max_words 10**9", "/v1/generate", {"model": "lm", "max_words": 10**9}, 422, "max_words"),
    ("max_words 0", "/v1/generate", {"model": "lm", "max_words": 0}, 422, None),
    ("negative temperature", "/v1/generate", {"model": "lm", "temperature": -1}, 422, None),
    ("top_p over 1", "/v1/generate", {"model": "lm", "top_p": 1.5}, 422, None),
    ("top_k 0", "/v1/generate", {"model": "lm", "top_k": 0}, 422, None),
    ("seed too big", "/v1/generate", {"model": "lm", "seed": 2**70}, 422, None),
    (
        "beam 10**6",
        "/v1/translate",
        {"model": "translate", "texts": ["a"], "beam": 10**6},
        422,
        "max_beam",
    ),
    ("beam 0", "/v1/translate", {"model": "translate", "texts": ["a"], "beam": 0}, 422, None),
    (
        "max_length 10**9",
        "/v1/translate",
        {"model": "translate", "texts": ["a"], "max_length": 10**9},
        422,
        "max_length",
    ),
]


@pytest.mark.parametrize(("what", "path", "body", "status", "limit"), BAD, ids=[b[0] for b in BAD])
def test_bad_request_is_a_json_error_and_the_next_one_is_answered(
    client, what, path, body, status, limit
):
    if isinstance(body, bytes):
        response = client.post(path, content=body, headers={"content-type": "application/json"})
    else:
        response = client.post(path, json=body)
    assert error(response, status).get("limit") == limit
    good = client.post("/v1/classify", json={"model": "classify", "texts": ["who is it ?"]})
    assert good.status_code == 200 and len(good.json()["results"]) == 1


def test_unknown_routes_and_methods_are_json_errors(client):
    error(client.get("/v1/nothing"), 404)
    error(client.get("/v1/classify"), 405)
    unknown = client.post("/v1/classify", json={"model": "x", "texts": ["a"]})
    assert "classify" in error(unknown, 404)["message"]  # names the models there are


def test_a_chunked_body_is_bounded_too(models):
    client = TestClient(create_app(models, Limits(max_body_bytes=1000)))
    chunks = (b'{"model": "classify", "texts": ["' if i == 0 else b"a" * 100 for i in range(30))
    body = error(client.post("/v1/classify", content=chunks), 413)
    assert body["limit"] == "max_body_bytes"
    good = client.post("/v1/classify", json={"model": "classify", "texts": ["a"]})
    assert good.status_code == 200


def test_api_key_on_every_v1_request(models):
    client = TestClient(create_app(models, api_key=KEY))
    body = {"model": "classify", "texts": ["who is it ?"]}
    assert client.get("/health").status_code == 200  # not under /v1
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"X-API-Key": "s3cret"}):
        error(client.post("/v1/classify", json=body, headers=headers), 401)
        error(client.get("/v1/models", headers=headers), 401)
    # checked before the body is read: malformed JSON without a key is still a 401
    error(client.post("/v1/classify", content=b"{", headers={"content-type": "x"}), 401)
    good = {"Authorization": f"Bearer {KEY}"}
    assert client.post("/v1/classify", json=body, headers=good).status_code == 200
    assert client.get("/v1/models", headers={"X-API-Key": KEY}).status_code == 200


def test_model_names():
    assert model_names(["runs/imdb/best.pt", "runs/lm/best.pt"], None) == ["imdb", "lm"]
    assert model_names(["a/best.pt", "b/best.pt"], ["x", "y"]) == ["x", "y"]
    for checkpoints, names in (
        (["a/best.pt", "b/a/best.pt"], None),  # the same folder name twice
        (["a/best.pt"], ["x", "y"]),  # names and checkpoints differ in number
        (["a/best.pt"], ["../x"]),
    ):
        with pytest.raises(SeqlabError):
            model_names(checkpoints, names)


def test_cli_serves_on_localhost_and_warns_for_another_host(monkeypatch, capsys, tmp_path):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    ckpt = tmp_path / "mylm" / "best.pt"
    ckpt.parent.mkdir()
    shutil.copy(FIXTURES / "lm" / "best.pt", ckpt)
    assert main(["serve", str(ckpt)]) == 0
    assert calls[-1][1] == {"host": "127.0.0.1", "port": 8000, "log_level": "info"}
    assert "warning" not in capsys.readouterr().err
    client = TestClient(calls[-1][0])
    assert [m["name"] for m in client.get("/v1/models").json()["models"]] == ["mylm"]
    assert main(["serve", str(ckpt), "--host", "0.0.0.0", "--port", "9000", "--api-key", KEY]) == 0
    assert calls[-1][1]["host"] == "0.0.0.0" and calls[-1][1]["port"] == 9000
    assert "warning: listening on 0.0.0.0" in capsys.readouterr().err
    assert main(["serve", str(ckpt), "--max-texts", "0"]) == 2


def events(response) -> list:
    """The `data:` payloads of a server-sent event stream; it must end with `[DONE]`."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    data = [line[6:] for line in response.text.split("\n\n") if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    return [json.loads(d) for d in data[:-1]]


@pytest.mark.parametrize("prompt", ["where is", "", "zzqx the"])
def test_streamed_words_equal_the_answer_for_the_same_seed(client, prompt):
    body = {"model": "lm", "prompt": prompt, "max_words": 7, "temperature": 0.9, "seed": 3}
    text = client.post("/v1/generate", json=body).json()["text"]
    got = events(client.post("/v1/generate", json={**body, "stream": True}))
    assert " ".join(e["word"] for e in got) == text and len(got) == len(text.split(" "))


def test_completions_shape_and_stream(client, models):
    body = {"model": "lm", "prompt": ["where is", ""], "max_tokens": 5, "n": 2, "seed": 11}
    got = client.post("/v1/completions", json=body).json()
    assert got["object"] == "text_completion" and got["id"].startswith("cmpl-")
    assert got["model"] == "lm" and isinstance(got["created"], int)
    assert [c["index"] for c in got["choices"]] == [0, 1, 2, 3]
    assert {(c["finish_reason"], c["logprobs"]) for c in got["choices"]} == {("length", None)}
    assert got["usage"] == {"prompt_tokens": 2, "completion_tokens": 20, "total_tokens": 22}
    loaded = models["lm"]
    texts, _ = loaded.task.generate(loaded, "where is", words=5, num=2, seed=11)
    assert ["where is" + c["text"] for c in got["choices"][:2]] == texts
    chunks = events(client.post("/v1/completions", json={**body, "stream": True}))
    streamed = [""] * 4
    for chunk in chunks:
        assert chunk["object"] == "text_completion" and len(chunk["choices"]) == 1
        streamed[chunk["choices"][0]["index"]] += chunk["choices"][0]["text"]
    assert streamed == [c["text"] for c in got["choices"]]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_the_openai_client(models):
    openai = pytest.importorskip("openai")
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(models, api_key=KEY), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        client = openai.OpenAI(base_url=url, api_key=KEY, max_retries=0, timeout=30)
        settings = {"model": "lm", "prompt": "where is", "max_tokens": 6, "seed": 5}
        answer = client.completions.create(**settings, temperature=0.8, top_p=0.9, n=2)
        assert len(answer.choices) == 2 and answer.usage.completion_tokens == 12
        stream = client.completions.create(**settings, temperature=0.8, top_p=0.9, n=2, stream=True)
        streamed = ["", ""]
        for chunk in stream:
            streamed[chunk.choices[0].index] += chunk.choices[0].text
        assert streamed == [c.text for c in answer.choices]
        for bad, kind in (
            ({"max_tokens": 10**9}, openai.UnprocessableEntityError),
            ({"temperature": -1.0}, openai.UnprocessableEntityError),
            ({"model": "nope"}, openai.NotFoundError),
            ({"model": "classify"}, openai.BadRequestError),
        ):
            with pytest.raises(kind):
                client.completions.create(**{**settings, **bad})
        stranger = openai.OpenAI(base_url=url, api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            stranger.completions.create(**settings)
        assert client.completions.create(**settings).choices[0].text
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
    assert not thread.is_alive()


def test_classify_explain_equals_the_task(client, models):
    for name in ("classify", "finetune"):
        loaded = models[name]
        body = {"model": name, "texts": TEXTS[:2], "explain": True}
        results = client.post("/v1/classify", json=body).json()["results"]
        plain = client.post("/v1/classify", json={**body, "explain": False}).json()["results"]
        assert [{k: v for k, v in r.items() if k != "explain"} for r in results] == plain
        for text, r in zip(TEXTS[:2], results, strict=True):
            assert r["explain"] == loaded.task.explain(loaded, text)
            assert sorted(r["explain"]) == ["attention", "recurrent", "tokens"]
    (trace,) = results_of(client, "classify")[0]["explain"]["recurrent"]
    assert trace["tokens"] == TEXTS[0].split() and len(trace["hidden"]) == 5
    assert len(trace["hidden"][0]) == 16 and len(trace["gates"]["update"]) == 5


def results_of(client, name: str) -> list:
    """The explained classify results of TEXTS[:1]."""
    body = {"model": name, "texts": TEXTS[:1], "explain": True}
    return client.post("/v1/classify", json=body).json()["results"]


def test_generate_explain_has_the_same_text_and_one_step_per_drawn_token(client, models):
    loaded = models["lm"]
    settings = {"temperature": 0.8, "top_k": 8, "seed": 7}
    body = {"model": "lm", "prompt": "where is", "max_words": 6, **settings}
    plain = client.post("/v1/generate", json=body).json()
    got = client.post("/v1/generate", json={**body, "explain": True}).json()
    assert {k: v for k, v in got.items() if k != "explain"} == plain
    explain = got["explain"]
    assert explain == loaded.task.explain(loaded, "where is", words=6, **settings)
    assert explain["tokens"] == plain["text"].split()
    assert [s["word"] for s in explain["steps"]] == plain["text"].split()[2:]
    for step in explain["steps"]:
        assert 1 <= len(step["top"]) <= 8 and step["word"] in [t["word"] for t in step["top"]]
    (trace,) = explain["recurrent"]
    assert (trace["cell"], len(trace["hidden"])) == ("lstm", 8) and explain["attention"] == []


def test_streamed_explain_events_carry_the_top_of_each_word(client, models):
    body = {"model": "lm", "prompt": "where is", "max_words": 5, "seed": 3, "explain": True}
    answer = client.post("/v1/generate", json=body).json()
    got = events(client.post("/v1/generate", json={**body, "stream": True}))
    assert [e["word"] for e in got] == answer["text"].split()
    assert [e["top"] for e in got] == [[], []] + [s["top"] for s in answer["explain"]["steps"]]
    assert all(sorted(e) == ["top", "word"] for e in got)


def test_translate_explain_equals_the_task(client, models):
    loaded = models["translate"]
    texts = ["ein mann sieht den hund .", ""]
    for options in ({}, {"beam": 3, "length_penalty": 0.6}):
        body = {"model": "translate", "texts": texts, **options}
        plain = client.post("/v1/translate", json=body).json()
        got = client.post("/v1/translate", json={**body, "explain": True}).json()
        assert {k: v for k, v in got.items() if k != "explain"} == plain
        decode = {"beam": None, "length_penalty": None, "max_decode": None, **options}
        assert got["explain"] == [loaded.task.explain(loaded, t, **decode) for t in texts]
        first = got["explain"][0]
        assert first["candidates"][0]["text"] == plain["translations"][0]
        assert first["candidates"][0]["log_prob"] == pytest.approx(plain["scores"][0], abs=1e-5)
        assert len(first["candidates"]) == options.get("beam", 1)
        cross = [m for m in first["attention"] if m["kind"] == "cross"]
        assert cross[0]["keys"] == first["source_tokens"]
        assert len(cross[0]["weights"][0]) == len(first["target_tokens"])
        assert got["explain"][1]["attention"] == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/classify", {"model": "classify", "texts": ["who is it ?", "a " * 21]}),
        ("/v1/generate", {"model": "lm", "prompt": "where is", "max_words": 19}),
        ("/v1/generate", {"model": "lm", "prompt": "where is", "max_words": 19, "stream": True}),
        ("/v1/translate", {"model": "translate", "texts": ["ein mann . " * 7]}),
    ],
)
def test_explaining_too_many_tokens_is_refused_and_the_next_request_answered(models, path, body):
    client = TestClient(create_app(models, Limits(max_explain_tokens=20)))
    assert client.post(path, json=body).status_code == 200  # the limit is on explain only
    refused = error(client.post(path, json={**body, "explain": True}), 422)
    assert refused["limit"] == "max_explain_tokens" and "max_explain_tokens" in refused["message"]
    good = client.post(
        "/v1/classify", json={"model": "classify", "texts": ["who"], "explain": True}
    )
    assert good.status_code == 200 and good.json()["results"][0]["explain"]["tokens"] == ["who"]
    shorter = {**body, "explain": True, "max_words": 18} if "max_words" in body else None
    if shorter is not None:  # 2 prompt tokens + 18 words: at the limit, answered
        assert client.post(path, json=shorter).status_code == 200


def test_explain_is_bounded_in_texts_and_generate_explain_is_one_draw(client):
    many = {"model": "classify", "texts": ["where is it ?"] * 9, "explain": True}
    assert error(client.post("/v1/classify", json=many), 422)["limit"] == "max_explain_texts"
    translate = {"model": "translate", "texts": ["ein mann"] * 9, "explain": True}
    assert error(client.post("/v1/translate", json=translate), 422)["limit"] == "max_explain_texts"
    body = {"model": "lm", "prompt": "where is", "max_words": 6, "explain": True}  # no seed
    got = client.post("/v1/generate", json=body).json()
    drawn = [step["word"] for step in got["explain"]["steps"]]
    assert got["text"].split()[-len(drawn) :] == drawn  # the text is the explained draw
    huge = {"model": "translate", "texts": ["ein mann"], "beam": 2, "length_penalty": 1e308}
    assert "length_penalty" in error(client.post("/v1/translate", json=huge), 422)["message"]
