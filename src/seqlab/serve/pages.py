"""The explorer: browser pages over the JSON API, and the endpoints they need that run no model.

Pages: `/` (every page, every served model), `/explore/attention`, `/explore/recurrent`,
`/explore/generate`, `/explore/translate`, `/explore/run`; their scripts and stylesheet under
`/static/` (plain files shipped in the package: no CDN, works offline). JSON:
`GET /v1/examples/attention` and `/v1/examples/rnn` (the course's worked examples, the numbers
`seqlab examples` prints) and `GET /v1/models/{name}/run` (the run folder beside a served
checkpoint: learning curves, test metrics, per-class report, confusion matrix).
"""

from __future__ import annotations

import html
import os
from functools import cache
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from seqlab.errors import DataNotFoundError, SeqlabError
from seqlab.serve.html import PAGES, navigation, served_page, shell
from seqlab.serve.jsonsafe import json_safe
from seqlab.serve.limits import ApiError
from seqlab.serve.messages import unknown_model
from seqlab.serve.runs import NotARun, read_run

RECURRENT = {"rnn", "lstm", "gru"}


def pages_of(info: dict[str, Any]) -> list[str]:
    """The pages that can show a served model (what `/v1/models` says of it), as the pages'
    own model lists choose (static/common.js: isTransformer, isRecurrent)."""
    capabilities = set(info["capabilities"])
    section = (info.get("config") or {}).get("model") or {}
    kinds = {section.get("encoder"), section.get("arch")}
    pages = [p for p, c in (("generate", "/v1/generate"), ("translate", "/v1/translate"))
             if c in capabilities]  # fmt: skip
    if capabilities & {"/v1/classify", "/v1/generate"}:
        if info["task"] == "finetune" or "transformer" in kinds:
            pages.append("attention")
        if kinds & RECURRENT:
            pages.append("recurrent")
    return [*pages, "run"]


def index(served: dict[str, Any]) -> str:
    """The start page: a link to every page and a table of the served models."""
    pages = "".join(f'<li><a href="/explore/{p}">{t}</a></li>' for p, t in PAGES.items())
    rows = []
    for name, entry in served.items():
        info = entry.info
        links = pages_of(info)
        model = html.escape(name)
        cells = " ".join(f'<a href="/explore/{p}?model={model}">{PAGES[p]}</a>' for p in links)
        rows.append(
            f'<tr data-model="{model}"><td>{model}</td><td>{html.escape(info["task"])}</td>'
            f"<td>{html.escape(str(info['model_kind']))}</td>"
            f'<td class="num">{info["parameters"]:,}</td><td>{cells}</td></tr>'
        )
    table = (
        "<table><thead><tr><th>model</th><th>task</th><th>kind</th><th>parameters</th>"
        f"<th>pages</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else "<p>This server holds no models.</p>"
    )
    main = (
        f'{navigation()}<main id="app"><h1>seqlab explorer</h1>'
        "<p>Attention and recurrent states of the course's worked examples and of the served "
        "models, generation step by step, translation beams, and training runs. The JSON API "
        'these pages call is described at <a href="/docs">/docs</a>.</p>'
        f"<h2>Pages</h2><ul>{pages}</ul><h2>Models</h2>{table}</main>"
    )
    head = '<link rel="stylesheet" href="/static/explorer.css">'
    return shell("index", "seqlab explorer", main, head)


def add_pages(app: FastAPI, served: dict[str, Any], data_dir: str | os.PathLike | None) -> None:
    """Add the explorer's pages, static files and model-free JSON endpoints to `app`;
    `served` maps names to the app's `Served` models, `data_dir` holds uuml/ (None: as
    `seqlab examples`, $SEQLAB_DATA then ../shared/data)."""
    from seqlab.examples import attention_steps, rnn_steps

    static = resources.files("seqlab.serve").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @cache
    def example(name: str) -> dict[str, Any]:
        """A course example as JSON (read once: the .rda reader is slow to import)."""
        steps = {"attention": attention_steps, "rnn": rnn_steps}[name]
        try:
            return json_safe(steps(data_dir))
        except DataNotFoundError as e:
            raise ApiError(404, str(e)) from None

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def start() -> str:
        return index(served)

    @app.get("/explore/{page}", response_class=HTMLResponse, include_in_schema=False)
    def explore(page: str) -> str:
        if page not in PAGES:
            raise ApiError(404, f"no page {page!r}; the pages are {', '.join(PAGES)}")
        return served_page(page)

    @app.get("/v1/examples/attention")
    def attention_example() -> dict[str, Any]:
        """The course's attention example: head 1 on three tokens, then all heads."""
        return example("attention")

    @app.get("/v1/examples/rnn")
    def rnn_example() -> dict[str, Any]:
        """The course's RNN example: the first step, then h and ŷ for every token."""
        return example("rnn")

    @app.get("/v1/models/{name}/run")
    def model_run(name: str) -> dict[str, Any]:
        """The training run beside a model's checkpoint: history, test metrics, per-class
        report and confusion matrix (null where the run has none). Its errors name the model,
        never the checkpoint's folder."""
        if name not in served:
            raise unknown_model(name, served)
        loaded = served[name].loaded
        try:
            names = loaded.label_names
            run = read_run(loaded.path.parent, task=loaded.task.name, label_names=names)
        except NotARun as e:
            raise ApiError(404, f"model {name!r} has no finished run to show: {e.reason}") from None
        except SeqlabError:
            raise ApiError(404, f"model {name!r}: its training run could not be read") from None
        return {**run, "name": name}
