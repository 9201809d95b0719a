"""Shared fixtures. Tests that need the real data skip only when the data directory is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqlab.data.paths import data_dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data directory ($SEQLAB_DATA or ../shared/data); skip if it is absent."""
    root = data_dir()
    if not root.is_dir():
        pytest.skip(f"data directory {root} is absent")
    return root
