"""Garbage collection while bulk work runs: fewer, larger young collections, and full ones far apart.

A bulk ingest or index build holds hundreds of thousands of long-lived objects (caches of names, keys and ids)
and allocates millions of short-lived ones; at Python's thresholds (700, 10, 10) the full collections that
traverse the long-lived ones take a large share of the CPU.
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from typing import Iterator

BULK_GC_THRESHOLDS = (50_000, 20, 100)
"""The collector's thresholds during bulk work. Ingesting 60,000 Kaggle records spent 16% of its CPU in full
collections at Python's thresholds (2.0 of 12.4 s), 3% at these (0.3 s); reading 200,000 items' search documents
from a 2.7-million-item store, 23.7 against 19.8 µs an item (docs/benchmarks.md, "Bootstrap"). Young cycles are
still collected."""

_lock = threading.Lock()
_users = 0
_saved: tuple[int, ...] = ()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect garbage less often inside the block; thresholds are process-wide, so the last of overlapping
    blocks (threads) restores them, also when it ends in an exception."""
    global _users, _saved
    with _lock:
        if _users == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(*BULK_GC_THRESHOLDS)
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                gc.set_threshold(*_saved)
