"""PostgreSQL side of ``SyncStorage``: a mixin of ``PostgresStore`` sharing its connection ``self._conn``.

Sources, per-source cursors and sync state, and the sync lock. Mirrors ``sqlite_sync.py``; behaviour must match
it (the same tests run on both backends).

The sync lock: SQLite's is an OS lock on a file beside the store; a PostgreSQL store has no file, and its syncs
may run on several machines. So the lock is a session-level advisory lock held by a connection of its own for
as long as the sync runs: the server drops it with the session, so a sync killed with -9 (or a machine that
vanishes, once TCP notices) never leaves the store locked. Who holds it is written to ``sync_lock``, keyed by
the holder's backend pid; a reader trusts a row only while that pid still holds the advisory lock (``pg_locks``),
so a row left behind by a crashed holder is never reported. ``application_name`` would die with the session
too, but it is cut at 63 bytes and other roles may not see it in ``pg_stat_activity``.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import orjson
import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from ..normalize import utc_now
from .store import StoreError
from .sync_base import SOURCE_COLUMNS, SourceExistsError, SourceRow, SyncBusyError, SyncStorage, source_row


_SYNC_LOCK = 0x70667363  # "pfsc": pg_try_advisory_lock key of the sync lock, per database
# A bigint advisory key shows in pg_locks as classid (high 32 bits), objid (low 32 bits) and objsubid 1.
_HOLDER = ("SELECT holder FROM sync_lock WHERE backend_pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' "
           "AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
           "AND classid = 0 AND objid = %s AND objsubid = 1)")


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class PostgresSyncStorage(SyncStorage):
    """Sources, per-source cursors and sync state, and the sync lock in PostgreSQL."""

    _conn: psycopg.Connection
    _pool: ConnectionPool
    url: str

    def _sync_write(self, work: Callable[[psycopg.Connection], Any]) -> Any:
        # Inside a write group this is a savepoint of the group's transaction, so a cursor commits (or not)
        # with the page it follows; outside one it is a transaction of its own.
        with self._conn.transaction():
            return work(self._conn)

    def add_source(self, source: SourceRow) -> None:
        def work(db: psycopg.Connection) -> None:
            db.execute("INSERT INTO sources (name, kind, url, label, options, created_at) VALUES (%s,%s,%s,%s,%s,%s)",
                       (source.name, source.kind, source.url, source.label, _json(source.options),
                        source.created_at or utc_now()))
            db.execute("INSERT INTO sync_state (source, cursor) VALUES (%s, %s)", (source.name, _json(source.cursor)))

        try:
            self._sync_write(work)
        except psycopg.errors.UniqueViolation:
            raise SourceExistsError(f"a source named {source.name!r} exists already") from None

    def sources(self) -> list[SourceRow]:
        # COLLATE "C": SQLite's byte order, whatever the database's locale.
        return [source_row(values) for values in self._conn.execute(
            f"SELECT {SOURCE_COLUMNS} FROM sources s LEFT JOIN sync_state st ON st.source = s.name "
            "ORDER BY s.name COLLATE \"C\"")]

    def source(self, name: str) -> SourceRow | None:
        values = self._conn.execute(
            f"SELECT {SOURCE_COLUMNS} FROM sources s LEFT JOIN sync_state st ON st.source = s.name WHERE s.name = %s",
            (name,)).fetchone()
        return source_row(values) if values else None

    def remove_source(self, name: str) -> bool:
        def work(db: psycopg.Connection) -> bool:
            db.execute("DELETE FROM sync_state WHERE source = %s", (name,))
            return db.execute("DELETE FROM sources WHERE name = %s", (name,)).rowcount > 0

        return self._sync_write(work)

    def save_cursor(self, name: str, cursor: dict[str, Any]) -> None:
        self._sync_write(lambda db: db.execute("UPDATE sync_state SET cursor = %s WHERE source = %s",
                                               (_json(cursor), name)))

    def record_sync_result(self, name: str, at: str, error: str | None, summary: dict[str, Any]) -> None:
        if error is None:
            self._sync_write(lambda db: db.execute(
                "UPDATE sync_state SET last_run_at = %s, last_ok_at = %s, failures = 0, last_summary = %s "
                "WHERE source = %s", (at, at, _json(summary), name)))
        else:
            self._sync_write(lambda db: db.execute(
                "UPDATE sync_state SET last_run_at = %s, last_error = %s, last_error_at = %s, "
                "failures = failures + 1, last_summary = %s WHERE source = %s",
                (at, error, at, _json(summary), name)))

    @contextmanager
    def sync_lock(self, owner: str) -> Iterator[None]:
        # A connection of its own: the store's connection commits and rolls back pages under the lock, and a
        # session lock must outlive all of that. Held (idle, in autocommit) until the block ends.
        try:
            lock_conn = self._pool.getconn(timeout=30)
        except PoolTimeout:
            raise StoreError(f"cannot take the sync lock of {self.url}: no free connection in the pool") from None
        try:
            if not lock_conn.execute("SELECT pg_try_advisory_lock(%s)", (_SYNC_LOCK,)).fetchone()[0]:
                row = lock_conn.execute(_HOLDER, (_SYNC_LOCK,)).fetchone()
                self._pool.putconn(lock_conn)  # holds nothing: fit for reuse
                lock_conn = None
                # No row: the holder has taken the lock but not yet said who it is.
                raise SyncBusyError(row[0] if row else "holder unknown")
            lock_conn.execute(
                "INSERT INTO sync_lock (id, backend_pid, holder) VALUES (1, pg_backend_pid(), %s) "
                "ON CONFLICT (id) DO UPDATE SET backend_pid = excluded.backend_pid, holder = excluded.holder",
                (f"{owner}, pid {os.getpid()}, since {utc_now()}",))
            yield
            lock_conn.execute("DELETE FROM sync_lock WHERE backend_pid = pg_backend_pid()")
            lock_conn.execute("SELECT pg_advisory_unlock_all()")
        except BaseException:
            # The lock must not go back to the pool still held (a block that raised, an unlock that failed, a
            # broken connection): closing the session releases it, and the pool discards a closed connection.
            if lock_conn is not None:
                lock_conn.close()
            raise
        finally:
            if lock_conn is not None:
                self._pool.putconn(lock_conn)
