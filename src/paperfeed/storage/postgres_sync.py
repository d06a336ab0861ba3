"""PostgreSQL side of ``SyncStorage``: a mixin of ``PostgresStore`` sharing its connection ``self._conn``.

Sources, per-source cursors and sync state, and the sync lock. Mirrors ``sqlite_sync.py``; behaviour must match it (the same tests run on both backends).
"""

from __future__ import annotations

from .sync_base import SyncStorage

MIGRATIONS: list[tuple[str, str]] = []
"""This area's migrations, under the same names as SQLite's ('0002_sources_and_sync_state'); postgres_schema lists them in order."""


class PostgresSyncStorage(SyncStorage):
    """Sources, per-source cursors and sync state, and the sync lock in PostgreSQL."""
