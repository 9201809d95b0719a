"""A run folder belongs to one run: a lock while it trains, and no mixing with another run.

`claim_run_dir(out, resume=..., overwrite=...)` holds OUT/.lock (an OS file lock, `filelock`:
the kernel drops it when the process dies, even by SIGKILL, so a lock is never stale) and
writes who holds it beside it (OUT/.lock.json: pid, host, start time), so a second run into
the folder is refused by name. A new run into a folder that holds another run (last.pt or
results.json) is refused unless it resumes that run or `overwrite` removes the old run's files
first; temporary files of killed atomic writes are removed. A run that ends before writing
anything leaves no trace (no lock file, and no folder if it made it). Under torchrun only rank
0 claims the folder: the other ranks write nothing there, and if rank 0 refuses, torchrun ends
them.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from seqlab.atomic import remove_temp_files, write_text_atomic
from seqlab.errors import SeqlabError
from seqlab.train.distributed import dist_info

LOCK = ".lock"
HOLDER = ".lock.json"  # beside the lock: who holds it
MARKERS = ("last.pt", "results.json")  # a folder with one of these holds a run
# What a run and the commands that read its checkpoints write there: `overwrite` removes these.
RUN_FILES = ("best.pt", "last.pt", "log.jsonl", "results.json", "curves.png")
RUN_PATTERNS = ("*-report.json", "*-confusion.png", "*-translations.txt", "*-cache.json")


@contextmanager
def claim_run_dir(
    out_dir: str | Path | None, *, resume: bool = False, overwrite: bool = False
) -> Iterator[None]:
    """Hold `out_dir` for the block: lock it, refuse another run's folder (unless `resume` it or
    `overwrite` it), remove leftover temporary files; release the lock when the block ends."""
    if resume and overwrite:
        raise SeqlabError("--resume continues the run in --out, --overwrite replaces it: give one")
    if out_dir is None or not dist_info().is_main:
        yield
        return
    from filelock import FileLock, Timeout

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SeqlabError(f"--out {out} is a file; give a folder")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    lock = FileLock(out / LOCK, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise SeqlabError(
            f"{out} is in use by another run ({_holder(out)}); wait for it or choose another --out"
        ) from None
    try:
        write_text_atomic(out / HOLDER, json.dumps(_me()) + "\n")
        remove_temp_files(out)
        _check_folder(out, resume, overwrite)
        yield
    finally:
        (out / HOLDER).unlink(missing_ok=True)  # before the release: a next holder's stays
        if not run_files(out):  # refused or failed before its first epoch: leave no trace
            (out / LOCK).unlink(missing_ok=True)
        lock.release()
        if created and not any(out.iterdir()):
            out.rmdir()


def _check_folder(out: Path, resume: bool, overwrite: bool) -> None:
    """Refuse a folder that holds another run, or clear it for `overwrite`."""
    for name in RUN_FILES:
        if (out / name).exists() and not (out / name).is_file():
            raise SeqlabError(f"{out / name} is not a file; remove it or choose another --out")
    found = [name for name in MARKERS if (out / name).exists()]
    if not found or resume:
        return
    if not overwrite:
        raise SeqlabError(
            f"{out} holds another run ({', '.join(found)}); continue it with --resume, "
            "replace it with --overwrite, or choose another --out"
        )
    for path in run_files(out):
        path.unlink()


def run_files(out: Path) -> list[Path]:
    """The files of a run in `out` (checkpoints, log, results, reports, plots, translations)."""
    paths = {out / name for name in RUN_FILES}
    paths.update(p for pattern in RUN_PATTERNS for p in out.glob(pattern))
    return sorted(p for p in paths if p.is_file() or p.is_symlink())


def _me() -> dict[str, object]:
    """Who holds the lock: this process."""
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": started}


def _holder(out: Path) -> str:
    """'pid P on HOST, started T' from the holder file, as far as it can be read."""
    try:
        h = json.loads((out / HOLDER).read_text(encoding="utf-8"))
        return f"pid {h['pid']} on {h['host']}, started {h['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its holder has not written its name yet"
