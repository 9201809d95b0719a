"""The explorer's HTML: one page shell for every page, served or written as one standalone file.

A page is the shell (navigation, an empty `<main>`) plus its script: `static/common.js` (the
shared heatmap, table, plot and request helpers) and `static/<page>.js`, which builds the page
from the JSON API. `standalone` inlines the stylesheet and the scripts and embeds the page's
data as JSON, so `seqlab report` writes a file that opens offline with no server. Importing
this module imports neither FastAPI nor torch.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from typing import Any

# Page name -> title, in the navigation's order.
PAGES = {
    "attention": "Attention",
    "recurrent": "Recurrent",
    "generate": "Generate",
    "translate": "Translate",
    "run": "Run",
}


def asset(name: str) -> str:
    """The text of `static/<name>`, shipped in the package."""
    return resources.files("seqlab.serve").joinpath("static", name).read_text(encoding="utf-8")


def navigation() -> str:
    """The link bar every served page starts with."""
    links = "".join(f'<a href="/explore/{p}">{t}</a>' for p, t in PAGES.items())
    return f'<header><nav><a class="home" href="/">seqlab explorer</a>{links}</nav></header>'


def shell(page: str, title: str, main: str = "", head: str = "", scripts: str = "") -> str:
    """A complete page: `head` (styles), the navigation unless standalone, `main`, `scripts`."""
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'  # no icon: the browser asks for none
        f"<title>{html.escape(title)}</title>\n{head}\n</head>\n"
        f'<body data-page="{page}">\n{main}\n{scripts}\n</body>\n</html>\n'
    )


def served_page(page: str) -> str:
    """The served page `page` (a key of PAGES): assets linked from /static."""
    head = '<link rel="stylesheet" href="/static/explorer.css">'
    scripts = f'<script src="/static/common.js"></script><script src="/static/{page}.js"></script>'
    main = f'{navigation()}<main id="app"><h1>{PAGES[page]}</h1></main>'
    return shell(page, f"seqlab · {PAGES[page]}", main, head, scripts)


def embed_json(data: Any) -> str:
    """`data` as JSON that is safe inside a <script> element (no `</script>` can close it)."""
    text = json.dumps(data, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def standalone(page: str, title: str, data: Any) -> str:
    """Page `page` as one self-contained file: CSS and JS inlined, `data` embedded as
    `window.SEQLAB_DATA`, which the page's script reads instead of calling the API."""
    head = f"<style>\n{asset('explorer.css')}\n</style>"
    scripts = (
        f"<script>window.SEQLAB_DATA = {embed_json(data)};</script>\n"
        f"<script>\n{asset('common.js')}\n</script>\n<script>\n{asset(page + '.js')}\n</script>"
    )
    main = f'<main id="app"><h1>{html.escape(title)}</h1></main>'
    return shell(page, title, main, head, scripts)
