"""PostgreSQL side of ``DailyStorage``: a mixin of ``PostgresStore`` sharing its connection ``self._conn``.

Daily calendar, votes, submissions, users, libraries and digest state. Mirrors ``sqlite_daily.py``; behaviour must match it (the same tests run on both backends).
"""

from __future__ import annotations

from .daily_base import DailyStorage

MIGRATIONS: list[tuple[str, str]] = []
"""This area's migrations, under the same names as SQLite's ('0005_users_library_votes_digests'); postgres_schema lists them in order."""


class PostgresDailyStorage(DailyStorage):
    """Daily calendar, votes, submissions, users, libraries and digest state in PostgreSQL."""
