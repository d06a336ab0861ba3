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


# -- PostgreSQL: one throwaway server per test session (tests/pg_server.py) -------------------------------------

_pg_databases = iter(range(1, 1_000_000))


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server in a temp dir on a free port, stopped at the end of the session.

    Skips when the server binaries are missing, unless PAPERFEED_REQUIRE_POSTGRES=1 (``make test``).
    """
    import os

    from pg_server import PostgresServer, PostgresUnavailable

    try:
        server = PostgresServer()
    except PostgresUnavailable as error:
        if os.environ.get("PAPERFEED_REQUIRE_POSTGRES") == "1":
            pytest.fail(str(error))
        pytest.skip(str(error))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server) -> str:
    """The URL of a fresh, empty database on the session's server."""
    return pg_server.create_database(f"paperfeed_test_{next(_pg_databases)}")
