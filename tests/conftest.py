from __future__ import annotations

from pathlib import Path

import pytest

from paperfeed.storage import open_store

DATA = Path(__file__).parent / "data"


def pytest_configure(config) -> None:
    """Refuse a CI run with the golden-update switch on before any test runs (tests/golden.py refuses it too)."""
    from golden import UPDATE, in_ci, update_requested

    if update_requested() and in_ci():
        raise pytest.UsageError(f"{UPDATE} is set in a CI run: golden files are rewritten only by hand, never by CI")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_url(request, tmp_path) -> str:
    """The URL of a fresh, empty store on each backend in turn: a SQLite file, then a PostgreSQL database.

    Storage-facing tests take this (or ``store``) so that ``make test`` runs them against both backends.
    """
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(backend_url):
    """A fresh, open store on each backend in turn (see ``backend_url``)."""
    with open_store(backend_url) as opened:
        yield opened


@pytest.fixture
def sqlite_store(tmp_path):
    """A fresh SQLite store in a temporary file, for tests about SQLite itself (files, locks, corruption)."""
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
