"""On-disk cache of token ids (NumPy .npz), keyed by the source files and the settings.

Tokenize once, then batch (design principle 10): the first `load_imdb` tokenizes 25k reviews;
later calls with the same files and settings read one .npz. The key hashes each source file's
path, size and modification time together with every setting that changes the ids, so editing a
file or a setting gives a new entry rather than stale ids.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from seqlab.data.paths import cache_dir

FORMAT = 1  # bump when the layout of the cached arrays changes


def file_identity(path: str | os.PathLike) -> dict:
    """Path, size and mtime of a file; for a directory, of the directory and its sub-folders."""
    path = Path(path).resolve()
    st = path.stat()
    ident = {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if path.is_dir():
        # A review added to aclImdb/train/pos changes that folder's mtime and entry count.
        ident["children"] = [
            (str(p.relative_to(path)), p.stat().st_mtime_ns, len(os.listdir(p)))
            for p in sorted(path.glob("*/*"))
            if p.is_dir()
        ]
    return ident


def cache_key(parts: dict) -> str:
    """A short stable hash of JSON-safe `parts`."""
    blob = json.dumps({"format": FORMAT, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def save_arrays(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` to an .npz atomically (temporary file in the same folder + os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the cache may be shared
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_arrays(path: str | os.PathLike) -> dict[str, np.ndarray] | None:
    """Read an .npz written by `save_arrays`; None if it is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None


def cached(
    name: str, parts: dict, build: Callable[[], dict[str, np.ndarray]], enabled: bool = True
) -> dict[str, np.ndarray]:
    """`build()`'s arrays, read from `cache_dir()/ids/NAME-KEY.npz` when present, else built and
    saved there. With `enabled=False` the cache is neither read nor written."""
    if not enabled:
        return build()
    path = cache_dir() / "ids" / f"{name}-{cache_key(parts)}.npz"
    arrays = load_arrays(path) if path.exists() else None
    if arrays is None:
        arrays = build()
        try:
            save_arrays(path, arrays)
        except OSError:
            pass  # a read-only cache only costs speed, never correctness
    return arrays


def json_array(obj) -> np.ndarray:
    """Store a JSON-safe object inside an .npz (a 0-d unicode array, no pickle needed)."""
    return np.array(json.dumps(obj, ensure_ascii=False))


def from_json_array(a: np.ndarray):
    """Inverse of `json_array`."""
    return json.loads(str(a))
