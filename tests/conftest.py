"""Shared fixtures. Tests that need the real data skip only when the data directory is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seqlab.data.paths import data_dir

# Tiny test models run fastest on one thread, and oneDNN's threaded LSTM stalls when other
# processes share the cores. Set before torch is imported, so subprocesses (CLI, torchrun) agree.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data directory ($SEQLAB_DATA or ../shared/data); skip if it is absent."""
    root = data_dir()
    if not root.is_dir():
        pytest.skip(f"data directory {root} is absent")
    return root
