"""The explorer pages in a real browser: a uvicorn server in a thread, Chromium driven by
Playwright. Every page opens without a JavaScript error, and what a page draws is what the API
answers (the heatmaps' cells carry their exact values in data-weight).

Needs the `serve` extra (playwright) and the system's Chromium (`apt-get install chromium`);
without them the tests skip, saying why, except under CI (the variable CI set), where they fail.
Screenshots go to $SEQLAB_SCREENSHOTS, else tests/artifacts/screenshots/.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import write_reviews

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints"
ARTIFACTS = Path(__file__).parent / "artifacts" / "screenshots"  # git-ignored
SHOTS = Path(os.environ.get("SEQLAB_SCREENSHOTS") or ARTIFACTS)
PAGES = ["/", "/explore/attention", "/explore/recurrent", "/explore/generate",
         "/explore/translate", "/explore/run"]  # fmt: skip
TIMEOUT_MS = 15_000


def unavailable(why: str) -> None:
    """Skip the tests for a missing browser or package; under CI that is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"CI needs the browser tests: {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Base URL of a live server with a tiny Transformer classifier (trained here, with its run
    folder and test report), the fixture LSTM language model and Transformer translator."""
    try:
        import uvicorn

        from seqlab.serve.app import create_app
    except ModuleNotFoundError as e:
        unavailable(f"{e.name} is not installed (pip install -e '.[serve]')")
    from seqlab.cli import main
    from seqlab.config import run_from_options
    from seqlab.tasks import load
    from seqlab.tasks.classify import TASK
    from seqlab.tasks.configs import ClassifyRun

    root = tmp_path_factory.mktemp("browser")
    mp = pytest.MonkeyPatch()
    mp.setenv("SEQLAB_CACHE", str(root / "cache"))
    data = write_reviews(root / "reviews.csv", 160)
    options = {"data": str(data), "model": "transformer", "embed": 8, "hidden": 16, "heads": 2}
    options |= {"layers": 2, "max_length": 10, "epochs": 6, "lr": 0.03, "quiet": True}
    TASK.train(run_from_options(ClassifyRun, options, "the test"), root / "clf")
    assert main(["evaluate", str(root / "clf" / "best.pt")]) == 0  # test-report.json
    models = {"clf": load(root / "clf" / "best.pt")}
    for name in ("lm", "translate"):
        (root / name).mkdir()
        shutil.copy(FIXTURES / name / "best.pt", root / name / "best.pt")
        models[name] = load(root / name / "best.pt")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(models), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", root
    server.should_exit = True
    thread.join(10)
    sock.close()
    mp.undo()


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium (the system's) under Playwright."""
    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError:
        unavailable("playwright is not installed (pip install -e '.[serve]')")
    chromium = shutil.which("chromium")
    if chromium is None:
        unavailable("no chromium on PATH (apt-get install chromium)")
    with sync_playwright() as p:
        # --no-sandbox: Chromium's sandbox refuses to start as root, which CI runs as.
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    """A fresh page; `page.errors` collects console errors and uncaught exceptions."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.errors = []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.base = server[0]
    yield page
    context.close()


def post(base: str, path: str, body: dict) -> dict:
    """The JSON answer of POST path."""
    request = urllib.request.Request(
        base + path, json.dumps(body).encode(), {"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def get(base: str, path: str) -> dict:
    """The JSON answer of GET path."""
    with urllib.request.urlopen(base + path, timeout=30) as response:
        return json.loads(response.read())


def shot(page, name: str) -> Path:
    """Save a full-page screenshot under SHOTS."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def cells(page, selector: str) -> list[dict]:
    """Every heatmap cell under `selector`: its svg's data attributes, row, col and weight."""
    return page.eval_on_selector_all(
        f"{selector} rect.cell",
        """rects => rects.map(r => ({...r.ownerSVGElement.dataset, row: +r.dataset.row,
                                     col: +r.dataset.col, weight: +r.dataset.weight}))""",
    )


def test_every_page_opens_without_errors(page, shared_data):
    for path in PAGES:
        page.goto(page.base + path)
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").first.is_visible(), path
        assert page.locator(".error").count() == 0, (path, page.locator(".error").all_inner_texts())
        shot(page, "index" if path == "/" else path.rsplit("/", 1)[1] + "-page")
    assert page.errors == []


def test_index_lists_the_models_and_links_their_pages(page):
    page.goto(page.base + "/")
    rows = page.locator("tr[data-model]")
    assert rows.count() == 3
    links = {m: page.locator(f'tr[data-model="{m}"] a').all_inner_texts() for m in ("clf", "lm")}
    assert links == {"clf": ["Attention", "Run"], "lm": ["Generate", "Recurrent", "Run"]}
    assert page.errors == []


def test_attention_page_shows_the_course_example(page, shared_data):
    page.goto(page.base + "/explore/attention")
    first = page.locator('#course-weights rect.cell[data-row="0"]')
    first.first.wait_for()
    weights = [float(w) for w in first.evaluate_all("rs => rs.map(r => r.dataset.weight)")]
    assert weights == pytest.approx([0.3601932, 0.3080896, 0.3317172], abs=5e-8)
    shown = page.locator("#course-weights").text_content()
    for value in ("0.3601932", "0.3080896", "0.3317172"):
        assert value in shown
    first.first.hover()
    assert "0.3601932" in page.locator("#course-weights + .readout").inner_text()
    assert page.locator("svg[data-course-head]").count() == 4  # the example has 4 heads
    assert page.errors == []
    shot(page, "attention-course")


def test_attention_heatmap_equals_the_api(page):
    text = "the movie was great fun"
    page.goto(page.base + "/explore/attention?model=clf")
    page.fill("#text", text)
    page.get_by_role("button", name="Show attention").click()
    page.locator("#model-maps svg[data-map]").first.wait_for()
    explain = post(page.base, "/v1/classify", {"model": "clf", "texts": [text], "explain": True})
    maps = explain["results"][0]["explain"]["attention"]
    assert len(maps) == 2 and all(m["heads"] == 2 for m in maps)  # 2 layers of 2 heads
    drawn = cells(page, "#model-maps")
    expected = [
        (i, h, r, c, w)
        for i, m in enumerate(maps)
        for h, head in enumerate(m["weights"])
        for r, row in enumerate(head)
        for c, w in enumerate(row)
    ]
    got = [(int(d["map"]), int(d["head"]), d["row"], d["col"], d["weight"]) for d in drawn]
    assert got == expected
    assert page.errors == []
    shot(page, "attention-model")


def test_generate_streams_words_with_their_top_10(page):
    page.goto(page.base + "/explore/generate?model=lm")
    page.fill("#prompt", "where is the")
    page.fill("#max-words", "8")
    page.fill("#seed", "3")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_function("document.querySelector('#status').textContent.endsWith('drawn')")
    words = page.locator("#output .word").all_inner_texts()
    drawn = page.locator("#output .word:not(.prompt)")
    assert drawn.count() >= 3
    body = {"model": "lm", "prompt": "where is the", "max_words": 8, "seed": 3}
    assert " ".join(words) == post(page.base, "/v1/generate", body)["text"]
    drawn.nth(1).click()
    rows = page.locator("#top tbody tr")
    assert 1 <= rows.count() <= 10
    probabilities = [float(p) for p in page.locator("#top tbody td.num").all_inner_texts()]
    assert probabilities == sorted(probabilities, reverse=True)
    assert page.errors == []
    shot(page, "generate")


def test_recurrent_page_shows_the_lstm_states(page, shared_data):
    text = "the cat sees"
    page.goto(page.base + "/explore/recurrent?model=lm")
    page.locator("#course-hidden rect.cell").first.wait_for()
    course = get(page.base, "/v1/examples/rnn")
    first = [d["weight"] for d in cells(page, "#course-hidden") if d["row"] == 0]
    assert first == course["h"][0]
    page.fill("#text", text)
    page.get_by_role("button", name="Show states").click()
    page.locator('#model-traces svg[data-part="hidden"]').first.wait_for()
    body = {"model": "lm", "prompt": text, "max_words": 1, "seed": 0, "explain": True}
    trace = post(page.base, "/v1/generate", body)["explain"]["recurrent"][0]
    drawn = cells(page, "#model-traces")
    hidden = [d for d in drawn if d["part"] == "hidden" and d["trace"] == "0"]
    assert len(hidden) == len(trace["hidden"]) * len(trace["hidden"][0])
    assert [d["weight"] for d in hidden] == [v for row in trace["hidden"] for v in row]
    parts = page.eval_on_selector_all("#model-traces svg", "s => s.map(x => x.dataset.part)")
    assert {"input", "forget", "candidate", "output"} <= set(parts)  # an LSTM's gates
    assert page.errors == []
    shot(page, "recurrent")


def test_translate_page_shows_the_beam_and_cross_attention(page):
    text = "ein mann sieht den hund ."
    page.goto(page.base + "/explore/translate?model=translate")
    page.fill("#text", text)
    page.fill("#beam", "3")
    page.get_by_role("button", name="Translate").click()
    page.locator('#translation svg[data-kind="cross"]').first.wait_for()
    body = {"model": "translate", "texts": [text], "beam": 3, "explain": True}
    answer = post(page.base, "/v1/translate", body)
    assert page.locator("#chosen").inner_text() == answer["translations"][0]
    explain = answer["explain"][0]
    rows = page.locator("#candidates tbody tr")
    assert rows.count() == len(explain["candidates"]) >= 1
    cross = [m for m in explain["attention"] if m["kind"] == "cross"]
    drawn = cells(page, '#translation svg[data-kind="cross"]')
    assert [d["weight"] for d in drawn] == [
        w for m in cross for head in m["weights"] for row in head for w in row
    ]
    assert page.errors == []
    shot(page, "translate")


def test_run_page_shows_curves_metrics_and_confusion(page, server):
    results = json.loads((server[1] / "clf" / "results.json").read_text())
    report = json.loads((server[1] / "clf" / "test-report.json").read_text())
    page.goto(page.base + "/explore/run?model=clf")
    page.locator("#curves svg").first.wait_for()
    metrics = page.eval_on_selector_all("#curves svg", "s => s.map(x => x.dataset.metric)")
    assert metrics == ["loss", "accuracy"]
    valid = 'svg[data-metric="loss"] circle.point[data-series="valid"]'
    points = page.eval_on_selector_all(valid, "cs => cs.map(c => +c.dataset.y)")
    assert points == [r["valid_loss"] for r in results["history"]]
    shown = page.locator("#metrics").inner_text()
    assert f"{results['test']['accuracy']:.7g}" in shown  # a prefix of JS's toPrecision(7)
    confusion = [d["weight"] for d in cells(page, "#confusion")]
    assert confusion == [v for row in report["confusion"] for v in row]
    assert page.locator("#classes tbody tr").count() == 3  # neg, pos, macro avg
    assert page.errors == []
    shot(page, "run")
