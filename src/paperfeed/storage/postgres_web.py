"""PostgreSQL side of ``WebStorage``: a mixin of ``PostgresStore`` sharing its connection ``self._conn``.

Reads for the web pages. Mirrors ``sqlite_web.py``; behaviour must match it (the same tests run on both backends).
"""

from __future__ import annotations

from .web_base import WebStorage

MIGRATIONS: list[tuple[str, str]] = []
"""This area's migrations, under the same names as SQLite's; postgres_schema lists them in order."""


class PostgresWebStorage(WebStorage):
    """Reads for the web pages in PostgreSQL."""
