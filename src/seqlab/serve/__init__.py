"""`seqlab serve`: trained checkpoints behind a JSON API (`seqlab.serve.app.create_app`, a
FastAPI app run by uvicorn) with the request limits of `seqlab.serve.limits`.

Needs the `serve` extra: `pip install -e ".[serve]"`. Importing this package imports neither
FastAPI nor torch, so `seqlab --help` stays fast and works without the extra.
"""
