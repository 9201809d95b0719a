"""The explorer's routes without a browser: pages and static files are served, the course
examples are `seqlab examples`' numbers, and a model's run is read from beside its checkpoint."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from seqlab.examples import attention_steps, rnn_steps  # noqa: E402
from seqlab.serve.app import create_app  # noqa: E402
from seqlab.serve.html import PAGES  # noqa: E402
from seqlab.serve.pages import pages_of  # noqa: E402
from seqlab.tasks import load  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The classify and lm fixtures; classify has a finished run's results.json beside it."""
    root = tmp_path_factory.mktemp("pages")
    loaded = {}
    for task in ("classify", "lm"):
        (root / task).mkdir()
        shutil.copy(FIXTURES / task / "best.pt", root / task / "best.pt")
        loaded[task] = load(root / task / "best.pt")
    history = [{"epoch": e, "train_loss": 1.0 / e, "valid_loss": 1.2 / e} for e in (1, 2)]
    confusion = [[2, 1, 0], [0, 1, 0], [0, 0, 3]]
    results = {"history": history, "test": {"loss": 0.5, "accuracy": 0.75, "confusion": confusion}}
    (root / "classify" / "results.json").write_text(json.dumps(results))
    return loaded


def test_a_run_error_names_the_model_not_the_folder(models, tmp_path):
    folder = models["lm"].path.parent
    no_run = TestClient(create_app(models)).get("/v1/models/lm/run")
    message = no_run.json()["error"]["message"]
    assert no_run.status_code == 404 and "'lm'" in message and "results.json" in message
    assert str(folder) not in message and str(folder.resolve()) not in message
    hidden = tmp_path / "private-runs" / "classify"
    hidden.mkdir(parents=True)
    shutil.copy(FIXTURES / "classify" / "best.pt", hidden / "best.pt")
    for results in ("{not json", '{"test": {}}'):
        (hidden / "results.json").write_text(results)
        client = TestClient(create_app({"zeta": load(hidden / "best.pt"), **models}))
        broken = client.get("/v1/models/zeta/run")
        message = broken.json()["error"]["message"]
        assert broken.status_code == 404 and "'zeta'" in message and "results.json" in message
        assert "private-runs" not in message and str(tmp_path) not in message
    nobody = client.get("/v1/models/nobody/run").json()["error"]["message"]
    assert nobody == "no model named 'nobody'; this server has: classify, lm, zeta"


def test_pages_and_static_files(models):
    client = TestClient(create_app(models))
    index = client.get("/")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    for page in PAGES:
        assert f'href="/explore/{page}"' in index.text
        html = client.get(f"/explore/{page}").text
        assert f'src="/static/{page}.js"' in html and 'src="/static/common.js"' in html
        script = client.get(f"/static/{page}.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert 'data-model="classify"' in index.text and 'data-model="lm"' in index.text
    assert client.get("/static/explorer.css").headers["content-type"].startswith("text/css")
    missing = client.get("/explore/nothing")
    assert missing.status_code == 404 and "attention" in missing.json()["error"]["message"]


def test_course_examples_are_the_commands_numbers(models, shared_data):
    client = TestClient(create_app(models, data_dir=str(shared_data)))
    got = client.get("/v1/examples/attention").json()
    expected = attention_steps(shared_data)
    assert got["tokens"] == expected["tokens"] and len(got["tokens"]) == 9
    assert got["head"]["weights"][0] == pytest.approx([0.3601932, 0.3080896, 0.3317172], abs=5e-8)
    assert got["multi_head"]["output"] == expected["multi_head"]["output"].tolist()
    assert len(got["multi_head"]["weights"]) == expected["multi_head"]["weights"].shape[0]
    rnn = client.get("/v1/examples/rnn").json()
    assert rnn["h"] == rnn_steps(shared_data)["h"].tolist()
    assert rnn["first"]["a"] == pytest.approx([0.5819145, -2.2686535, -0.6410312, 1.4891931])


def test_course_examples_without_the_data_are_a_404_saying_where(models, tmp_path):
    client = TestClient(create_app(models, data_dir=str(tmp_path)))
    for name in ("attention", "rnn"):
        response = client.get(f"/v1/examples/{name}")
        assert response.status_code == 404
        assert str(tmp_path) in response.json()["error"]["message"]


def test_a_models_run(models):
    client = TestClient(create_app(models))
    run = client.get("/v1/models/classify/run").json()
    assert run["name"] == "classify" and run["task"] == "classify"
    assert [r["epoch"] for r in run["history"]] == [1, 2]
    assert run["test"] == {"loss": 0.5, "accuracy": 0.75}  # the confusion matrix moves out
    assert run["confusion"] == [[2, 1, 0], [0, 1, 0], [0, 0, 3]]
    assert run["label_names"] == ["HUM", "LOC", "NUM"]  # the checkpoint's
    classes = {row["class"]: row for row in run["classes"]}  # computed from the matrix
    assert list(classes) == ["HUM", "LOC", "NUM", "macro avg"]
    assert classes["HUM"]["recall"] == pytest.approx(2 / 3) and classes["LOC"]["precision"] == 0.5
    no_run = client.get("/v1/models/lm/run")
    assert no_run.status_code == 404 and "results.json" in no_run.json()["error"]["message"]
    assert client.get("/v1/models/nobody/run").status_code == 404


def test_pages_of_a_model():
    def info(task, capability, **model):
        return {"task": task, "capabilities": [capability], "config": {"model": model}}

    assert pages_of(info("classify", "/v1/classify", encoder="transformer")) == ["attention", "run"]
    assert pages_of(info("classify", "/v1/classify", encoder="gru")) == ["recurrent", "run"]
    assert pages_of(info("lm", "/v1/generate", arch="lstm")) == ["generate", "recurrent", "run"]
    assert pages_of(info("translate", "/v1/translate", arch="transformer")) == ["translate", "run"]
    assert pages_of(info("finetune", "/v1/classify")) == ["attention", "run"]
