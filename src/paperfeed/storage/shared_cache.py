"""A cache of bytes shared by the processes of one host (the workers of ``paperfeed serve``), in a small SQLite file.

Each worker keeps its own caches in memory, so a search one worker answered was computed again by the other the
first time it was asked there. Entries found here are copied into the asking process's own cache.

It is not the store and holds nothing that cannot be made again, so every call is best effort. A file that cannot
be opened or written, a full disk, another process writing a moment too long: a read answers None, a write is
dropped, and the process goes on without it (logged once). A file that is not a database (torn by a crash, or
written by something else) is replaced by an empty one; the file is never synced to disk (a cache is not worth an
fsync), and a torn value is caught by its reader (``SharedResults`` checks its zlib checksum).

A read takes a connection of its own and never waits (write-ahead log): it runs on a web worker's event loop.
Writes are handed to a thread with its own connection (``put`` returns at once), so no request waits on them, nor
on the other process's write (at most ``BUSY_MS``, then the value is dropped). The oldest entries go first once
there are more than ``entries`` (in written order: a popular entry is written again when it falls out and is
asked for again).
"""

from __future__ import annotations

import logging
import os
import queue
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger("paperfeed.storage")

SCHEMA_VERSION = 1
BUSY_MS = 20
"""How long a write waits for the other process's write before its value is dropped."""
TRIM_EVERY = 128
"""Writes between two trims of the oldest entries."""
MAX_VALUE_BYTES = 1 << 20
WRITES_QUEUED = 256
"""Values waiting for the writing thread; more are dropped (it cannot keep up: the disk is slow or full)."""


class SharedCache:
    """Keys to values (both bytes) in the SQLite file at ``path``, at most about ``entries`` of them."""

    def __init__(self, path: Path, entries: int) -> None:
        self.path = Path(path)
        self.entries = entries
        self._lock = threading.Lock()
        self._reader: sqlite3.Connection | None = None
        self._pid: int | None = None
        self._broken = False
        self._writes: queue.Queue[tuple[bytes, bytes] | None] | None = None
        self._writer: threading.Thread | None = None

    def get(self, key: bytes) -> bytes | None:
        """The value of ``key``, or None (none kept, or the file cannot be read)."""
        with self._lock:
            db = self._connection()
            if db is None:
                return None
            try:
                row = db.execute("SELECT value FROM entries WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error as error:
                if not _busy(error):
                    self._failed("read", error)
                return None
        return None if row is None else bytes(row[0])

    def put(self, key: bytes, value: bytes) -> None:
        """Keep ``value`` under ``key`` (replacing one kept), written by the cache's thread soon after."""
        if len(value) > MAX_VALUE_BYTES:
            return
        with self._lock:
            if self._connection() is None:
                return
            if self._writer is None or not self._writer.is_alive():
                self._writes = queue.Queue(WRITES_QUEUED)
                self._writer = threading.Thread(target=self._write_all, args=(self._writes,),
                                                name="shared-cache-writer", daemon=True)
                self._writer.start()
            writes = self._writes
        try:
            writes.put_nowait((key, value))
        except queue.Full:
            pass

    def flush(self) -> None:
        """Wait until every value handed to ``put`` so far is written (or dropped)."""
        writes = self._writes
        if writes is not None and self._writer is not None and self._writer.is_alive():
            writes.join()

    def close(self) -> None:
        with self._lock:
            writer, writes = self._writer, self._writes
            self._writer = self._writes = None
            if self._reader is not None:
                self._reader.close()
                self._reader = None
        if writer is not None and writer.is_alive():
            writes.put(None)
            writer.join(timeout=5)

    # -- writing, in the cache's thread ---------------------------------------------------------------------------

    def _write_all(self, writes: "queue.Queue[tuple[bytes, bytes] | None]") -> None:
        db = None
        written = 0
        while True:
            job = writes.get()
            try:
                if job is None:
                    return
                if db is None:
                    db = self._open()
                    db.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
                db.execute("INSERT OR REPLACE INTO entries (key, value) VALUES (?, ?)", job)
                written += 1
                if written % TRIM_EVERY == 0:
                    db.execute("DELETE FROM entries WHERE id <= (SELECT max(id) FROM entries) - ?", (self.entries,))
            except (sqlite3.Error, OSError) as error:
                if isinstance(error, sqlite3.Error) and _busy(error):
                    continue  # the other process is writing: this value is dropped
                with self._lock:
                    self._failed("write", error)
                _drop_all(writes)  # nothing more is written here: flush() must not wait on them
                return
            finally:
                writes.task_done()
                if db is not None and (job is None or self._broken):
                    db.close()

    # -- opening --------------------------------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection | None:
        """The reading connection of this process (called holding ``_lock``); None once the cache failed."""
        if self._broken:
            return None
        if self._reader is not None and self._pid == os.getpid():
            return self._reader
        # New here, or inherited across a fork: a SQLite connection (or a thread) is not shared by two processes.
        self._reader, self._writer, self._writes, self._pid = None, None, None, os.getpid()
        try:
            self._reader = self._open()
        except sqlite3.DatabaseError as error:
            if not _corrupt(error):
                self._failed("open", error)
                return None
            log.warning("shared cache %s unreadable (%s): starting it again", self.path, error)
            try:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)
                self._reader = self._open()
            except (OSError, sqlite3.Error) as again:
                self._failed("open", again)
        except OSError as error:
            self._failed("open", error)
        return self._reader

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Opening waits for the other workers (they may be making the table at the same moment).
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5)
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = OFF")
            db.execute("PRAGMA journal_size_limit = 8388608")
            if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                db.execute("BEGIN IMMEDIATE")
                if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:  # not made meanwhile
                    db.execute("DROP TABLE IF EXISTS entries")
                    db.execute("CREATE TABLE entries (id INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE, "
                               "value BLOB NOT NULL)")
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                db.execute("COMMIT")
        except BaseException:
            db.close()
            raise
        return db

    def _failed(self, what: str, error: Exception) -> None:
        """Give the cache up in this process (called holding ``_lock``)."""
        log.warning("shared cache %s: %s failed (%s); going on without it", self.path, what, error)
        self._broken = True
        if self._reader is not None:
            try:
                self._reader.close()
            except sqlite3.Error:
                pass
            self._reader = None


def _drop_all(writes: queue.Queue) -> None:
    while True:
        try:
            writes.get_nowait()
        except queue.Empty:
            return
        writes.task_done()


def _busy(error: sqlite3.Error) -> bool:
    return isinstance(error, sqlite3.OperationalError) and ("locked" in str(error) or "busy" in str(error))


def _corrupt(error: sqlite3.Error) -> bool:
    return "not a database" in str(error) or "malformed" in str(error)
