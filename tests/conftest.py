from __future__ import annotations

from pathlib import Path

import pytest

from paperfeed.storage import open_store

DATA = Path(__file__).parent / "data"


@pytest.fixture
def store(tmp_path):
    """A fresh SQLite store in a temporary file."""
    with open_store(tmp_path / "store.db") as opened:
        yield opened


@pytest.fixture
def data_dir() -> Path:
    return DATA
