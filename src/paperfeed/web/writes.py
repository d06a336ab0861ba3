"""A server's writes to a SQLite store take turns in a queue, not in SQLite's busy-wait.

SQLite has one write lock per database. A writer that finds it taken polls: its busy handler sleeps 1, 2, 5, 10,
15, 20, 25… ms between tries, so under a steady mix of saves and votes from many requests (each a transaction of
well under a millisecond) a write could wait tens of milliseconds for a lock that was free again after one. Here a
worker's writing threads queue on a lock of the process, and the workers on an OS lock of a file beside the store
(``<store>.writes.lock``): each is woken the moment the previous write ends, and only other programs' writes
(ingest, sync) are met in SQLite's own wait. PostgreSQL locks rows, not the database: its writes go straight on.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from typing import Iterator

try:
    import fcntl
except ImportError:  # Windows: the process's lock only
    fcntl = None  # type: ignore[assignment]

TURN_SECONDS = 10.0
"""Longest a write waits for its turn; past it, it goes on to SQLite's own wait (busy_timeout), so a long
transaction of another program (an ingest) adds at most this to the wait SQLite had before the turns."""
_POLL_SECONDS = 0.0005
"""How often a worker retries the lock file while another worker writes (a write lasts about a millisecond)."""

_locks: dict[str, "WriteTurns"] = {}
_locks_lock = threading.Lock()


class WriteTurns:
    """The turns of one SQLite file's writers in this process (and, through the lock file, in the others)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._opened = False

    def _file(self) -> int | None:
        if not self._opened:
            self._opened = True
            if fcntl is not None:
                try:
                    self._fd = os.open(f"{self.path}.writes.lock", os.O_RDWR | os.O_CREAT, 0o600)
                except OSError:  # a read-only folder: the turns are this process's only
                    self._fd = None
        return self._fd

    @contextmanager
    def turn(self) -> Iterator[None]:
        deadline = time.monotonic() + TURN_SECONDS
        held = self._lock.acquire(timeout=TURN_SECONDS)
        try:
            fd = self._file() if held else None
            locked = fd is not None and _lock_file(fd, deadline)
            try:
                yield
            finally:
                if locked:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            if held:
                self._lock.release()


def _lock_file(fd: int, deadline: float) -> bool:
    """Take the lock file (retrying every _POLL_SECONDS until ``deadline``); whether it was taken."""
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_SECONDS)
        except OSError:
            return False


@contextmanager
def write_turn(store) -> Iterator[None]:
    """Hold this process's (and the other workers') turn to write to ``store`` while the block runs; a no-op
    for a store that is not a local SQLite file."""
    path = store.path
    if path is None or str(path) in ("", ":memory:"):
        yield
        return
    key = str(path)
    with _locks_lock:
        turns = _locks.get(key)
        if turns is None:
            turns = _locks[key] = WriteTurns(key)
    with turns.turn():
        yield
