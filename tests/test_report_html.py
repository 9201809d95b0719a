"""`seqlab report RUN_DIR`: one self-contained HTML file holding a finished run's numbers."""

from __future__ import annotations

import json
import re

import pytest
from helpers import write_reviews

from seqlab.cli import main
from seqlab.config import run_from_options
from seqlab.serve.html import embed_json
from seqlab.tasks.classify import TASK
from seqlab.tasks.configs import ClassifyRun

SVG_NAMESPACE = "http://www.w3.org/2000/svg"  # a name in createElementNS, never fetched


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A 3-epoch GRU classifier run, evaluated on its test split (test-report.json)."""
    tmp = tmp_path_factory.mktemp("report")
    mp = pytest.MonkeyPatch()
    mp.setenv("SEQLAB_CACHE", str(tmp / "cache"))
    data = write_reviews(tmp / "reviews.csv", 160)
    options = dict(data=str(data), model="gru", embed=8, hidden=8, max_length=10, epochs=3)
    run = run_from_options(ClassifyRun, {**options, "lr": 0.02, "quiet": True}, "the test")
    TASK.train(run, tmp / "run")
    assert main(["evaluate", str(tmp / "run" / "best.pt")]) == 0
    yield tmp / "run"
    mp.undo()


def embedded(html: str) -> dict:
    """The run data the page embeds as window.SEQLAB_DATA."""
    found = re.search(r"window\.SEQLAB_DATA = (.*?);</script>", html, re.S)
    assert found, "no embedded data"
    return json.loads(found[1])


def test_report_is_self_contained_and_holds_the_run(run_dir, capsys):
    assert main(["report", str(run_dir)]) == 0
    assert "report.html" in capsys.readouterr().err
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    # Nothing is loaded from anywhere: no URL but the SVG namespace's name, no linked files.
    assert set(re.findall(r"[a-z][a-z0-9+.-]*://[^\s\"'<>)]*", html)) == {SVG_NAMESPACE}
    assert not re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)=\"(?!data:)", html)
    assert "@import" not in html and "url(" not in html
    assert "function heatmap(" in html and "function curves(" in html  # the scripts inlined
    assert "<style>" in html and "svg text {" in html  # and the stylesheet

    results = json.loads((run_dir / "results.json").read_text())
    report = json.loads((run_dir / "test-report.json").read_text())
    data = embedded(html)
    assert data["task"] == "classify" and data["label_names"] == ["neg", "pos"]
    assert data["history"] == results["history"] and data["test"] == results["test"]
    assert data["confusion"] == report["confusion"] and data["classes"] == report["classes"]
    assert data["params"] == results["params"]
    assert len(data["history"]) == 3


def test_out_file_and_not_a_run(run_dir, tmp_path, capsys):
    out = tmp_path / "sub" / "mine.html"
    assert main(["report", str(run_dir), "--out", str(out)]) == 0
    assert embedded(out.read_text())["history"][0]["epoch"] == 1
    for folder in (tmp_path, tmp_path / "absent"):
        capsys.readouterr()
        assert main(["report", str(folder)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("seqlab: error:") and err.count("\n") == 1
    (tmp_path / "results.json").write_text('{"test": {}}')
    assert main(["report", str(tmp_path)]) == 2
    assert "not the results of a seqlab run" in capsys.readouterr().err


def test_embedded_json_cannot_close_its_script():
    data = {"label": "</script><script>alert(1)</script>", "x": [0.5, None]}
    text = embed_json(data)
    assert "</" not in text and "<script" not in text
    assert json.loads(text) == data
