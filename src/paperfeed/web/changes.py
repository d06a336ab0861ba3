"""What every server process must hear about: changes the search change log does not see (votes, comments).

``serve --workers N`` runs N processes, each with its own caches (``partcache.cached``'s page parts, the
``pagecache`` of rendered pages). An item change moves the store version, which every process reads. A vote or a
comment does not: the process that made it drops its caches at once (``pagecache.shared_pages_changed``), and
the store keeps a counter per kind (``storage.daily.count_shared_change``, moved in the write's transaction).
Here each process reads those counters, one query for all kinds at most every ``POLL_SECONDS`` per store, and
each cache compares them with what it last saw and drops only the kinds that moved. So another worker shows a
vote or a comment within about ``POLL_SECONDS``, not up to a minute later.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

POLL_SECONDS = 1.0
"""How often a process reads the change counters of a store (once for all kinds and every cache)."""
PARTS_CHANGED_BY = {"daily": ("daily",), "comments": ("item", "daily")}
"""The kinds of ``partcache.cached`` page parts each counter's changes show in (votes rank the daily page;
comments are counted on the item and on daily cards)."""

_latest: dict[str, tuple[float, dict[str, int]]] = {}
_lock = threading.Lock()


def latest_counts(store_key: str, read: Callable[[], dict[str, int]]) -> dict[str, int]:
    """The change counters of the store named ``store_key``, read with ``read()`` at most every POLL_SECONDS.

    The same dict is returned until the next read, so a caller can tell "nothing new" by identity.
    """
    now = time.monotonic()
    polled = _latest.get(store_key)
    if polled is not None and now - polled[0] < POLL_SECONDS:
        return polled[1]
    with _lock:  # one thread reads; the others meanwhile go on with what was read last
        polled = _latest.get(store_key)
        if polled is not None and now - polled[0] < POLL_SECONDS:
            return polled[1]
        _latest[store_key] = (now, polled[1] if polled else {})
    counts = read()
    _latest[store_key] = (time.monotonic(), counts)
    return counts


def moved(seen: dict[str, int] | None, counts: dict[str, int]) -> list[str]:
    """The kinds whose counter differs between ``seen`` and ``counts`` (none when nothing was seen yet)."""
    if seen is None or seen is counts:
        return []
    return [kind for kind in counts.keys() | seen.keys() if seen.get(kind, 0) != counts.get(kind, 0)]


class Seen:
    """What one cache last acted on of a store's change counters."""

    def __init__(self) -> None:
        self._counts: dict[str, int] | None = None
        self._lock = threading.Lock()

    def act(self, counts: dict[str, int], drop: Callable[[set[str]], None]) -> None:
        """Call ``drop`` with the kinds of page parts (``PARTS_CHANGED_BY``; an unknown kind stands for itself)
        whose counters moved since the last ``counts`` acted on; cheap when ``counts`` is the same dict."""
        if counts is self._counts:
            return
        with self._lock:  # marked seen only once dropped: no other thread serves a part of a moved kind meanwhile
            parts = {part for kind in moved(self._counts, counts) for part in PARTS_CHANGED_BY.get(kind, (kind,))}
            if parts:
                drop(parts)
            self._counts = counts
