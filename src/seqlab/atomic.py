"""Atomic file writes: a temporary file in the same folder, then os.replace.

A reader (or a run killed half-way) sees the old file or the new one, never half of one. A
process killed between the two leaves its temporary file `.NAME.XXXXXXXX.tmp` behind;
`remove_temp_files` clears them when the folder's next run starts.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

# The names `tempfile.mkstemp(prefix=".NAME.", suffix=".tmp")` makes: 8 random characters.
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


@contextmanager
def replacing(path: str | os.PathLike, mode: str = "w", *, fsync: bool = False) -> Iterator[IO]:
    """A file opened on a temporary file beside `path`, which replaces `path` when the block
    ends without an error (with `fsync`, after its bytes reach the disk); else it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        encoding: dict[str, Any] = {} if "b" in mode else {"encoding": "utf-8"}
        with os.fdopen(fd, mode, **encoding) as f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically, creating the folder if needed."""
    with replacing(path) as f:
        f.write(text)


def remove_temp_files(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that killed atomic writes left in `folder`; return them.
    Only for a folder no live process writes to (a run folder whose lock is held)."""
    removed = []
    for p in Path(folder).glob(".*.tmp"):
        if _TEMP_NAME.match(p.name) and p.is_file():
            p.unlink(missing_ok=True)
            removed.append(p)
    return sorted(removed)
