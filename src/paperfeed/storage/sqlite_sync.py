"""SQLite side of ``SyncStorage``: a mixin of ``SQLiteStore`` sharing its connection ``self._db``."""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import orjson

from ..normalize import utc_now
from .sync_base import SOURCE_COLUMNS, SourceExistsError, SourceRow, SyncBusyError, SyncStorage, source_row

try:
    import fcntl
except ImportError:  # Windows: no advisory locks in this version
    fcntl = None  # type: ignore[assignment]



class SQLiteSyncStorage(SyncStorage):
    """Sources and sync state in the store's SQLite file; the sync lock is an OS lock on a file beside it."""

    _db: sqlite3.Connection
    _in_group: bool
    path: Path

    @contextmanager
    def _write(self) -> Iterator[None]:
        # Inside a write group the statement joins the group's transaction (committed with the page it follows).
        if self._in_group:
            yield
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def add_source(self, source: SourceRow) -> None:
        with self._write():
            try:
                self._db.execute(
                    "INSERT INTO sources (name, kind, url, label, options, created_at) VALUES (?,?,?,?,?,?)",
                    (source.name, source.kind, source.url, source.label, orjson.dumps(source.options).decode(),
                     source.created_at or utc_now()))
            except sqlite3.IntegrityError:
                raise SourceExistsError(f"a source named {source.name!r} exists already") from None
            self._db.execute("INSERT INTO sync_state (source, cursor) VALUES (?, ?)",
                             (source.name, orjson.dumps(source.cursor).decode()))

    def sources(self) -> list[SourceRow]:
        return [source_row(values) for values in self._db.execute(
            f"SELECT {SOURCE_COLUMNS} FROM sources s LEFT JOIN sync_state st ON st.source = s.name ORDER BY s.name")]

    def source(self, name: str) -> SourceRow | None:
        values = self._db.execute(
            f"SELECT {SOURCE_COLUMNS} FROM sources s LEFT JOIN sync_state st ON st.source = s.name WHERE s.name = ?",
            (name,)).fetchone()
        return source_row(values) if values else None

    def remove_source(self, name: str) -> bool:
        with self._write():
            self._db.execute("DELETE FROM sync_state WHERE source = ?", (name,))
            return self._db.execute("DELETE FROM sources WHERE name = ?", (name,)).rowcount > 0

    def save_cursor(self, name: str, cursor: dict[str, Any]) -> None:
        with self._write():
            self._db.execute("UPDATE sync_state SET cursor = ? WHERE source = ?",
                             (orjson.dumps(cursor).decode(), name))

    def record_sync_result(self, name: str, at: str, error: str | None, summary: dict[str, Any]) -> None:
        with self._write():
            if error is None:
                self._db.execute(
                    "UPDATE sync_state SET last_run_at = ?, last_ok_at = ?, failures = 0, last_summary = ? "
                    "WHERE source = ?", (at, at, orjson.dumps(summary).decode(), name))
            else:
                self._db.execute(
                    "UPDATE sync_state SET last_run_at = ?, last_error = ?, last_error_at = ?, "
                    "failures = failures + 1, last_summary = ? WHERE source = ?",
                    (at, error, at, orjson.dumps(summary).decode(), name))

    @contextmanager
    def sync_lock(self, owner: str) -> Iterator[None]:
        # An OS lock dies with its process, so a sync killed with -9 cannot leave the store locked.
        lock_path = Path(f"{self.path}.sync-lock")
        handle = open(lock_path, "a+", encoding="utf-8")
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.seek(0)
                    raise SyncBusyError(handle.read().strip() or "holder unknown") from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"{owner}, pid {os.getpid()}, since {utc_now()}\n")
            handle.flush()
            yield
        finally:
            handle.close()  # closing the descriptor releases the lock
