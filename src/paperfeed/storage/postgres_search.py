"""PostgreSQL side of ``SearchStorage``: a mixin of ``PostgresStore`` sharing its connection ``self._conn``.

The search change log (triggers), documents, vectors and full text (tsvector + GIN). Mirrors ``sqlite_search.py``; behaviour must match it (the same tests run on both backends).
"""

from __future__ import annotations

from .search_base import SearchStorage

MIGRATIONS: list[tuple[str, str]] = []
"""This area's migrations, under the same names as SQLite's ('0004_search_change_log_and_vectors'); postgres_schema lists them in order."""


class PostgresSearchStorage(SearchStorage):
    """The search change log (triggers), documents, vectors and full text (tsvector + GIN) in PostgreSQL."""
