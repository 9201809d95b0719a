"""Where data and caches live: an explicit argument, then $SEQLAB_DATA, then sensible defaults."""

from __future__ import annotations

import os
from pathlib import Path

ENV_DATA = "SEQLAB_DATA"
ENV_CACHE = "SEQLAB_CACHE"


def _checkout_shared_data() -> Path | None:
    """`../shared/data` beside a source checkout (src/seqlab/data/paths.py -> repo root)."""
    repo_root = Path(__file__).resolve().parents[3]
    candidate = repo_root.parent / "shared" / "data"
    return candidate if candidate.is_dir() else None


def cache_dir() -> Path:
    """Directory for downloads and cached token ids: $SEQLAB_CACHE or ~/.cache/seqlab."""
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "seqlab"


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """Resolve the data directory.

    Order: `override` (the CLI's --data-dir), $SEQLAB_DATA, `../shared/data` next to a source
    checkout, and finally the download cache (`cache_dir() / "data"`).
    """
    if override is not None:
        return Path(override).expanduser()
    if os.environ.get(ENV_DATA):
        return Path(os.environ[ENV_DATA]).expanduser()
    return _checkout_shared_data() or cache_dir() / "data"
