"""Page parts (what a page is made of: a ranked day, a topic's aggregate, an item's part) reused across requests.

``cached`` keeps a value per key in this process; the key's first element is its kind ("daily", "topic",
"item", …), which ``forget_cached`` and the shared change counters (``web.changes``) drop by.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from . import changes
from .context import Context

CACHE_SECONDS = 60.0
"""Longest a cached page part is reused; any item change (the search change log moves) drops it at once."""
_CACHE_SIZE = 2048
"""Entries per process: the daily and topic pages' parts, and the last item pages viewed (a few KB each)."""
_cache: dict[tuple, tuple[int, float, Any]] = {}
_cache_lock = threading.Lock()
_computing: dict[tuple, threading.Lock] = {}
_dropped: dict[str | None, int] = {}
"""How often each kind of part (None: all) was dropped: a value computed across a drop is not kept."""
_seen: dict[str, changes.Seen] = {}
"""What this cache last acted on of each store's change counters (``changes``)."""


def forget_cached(kinds: tuple[str, ...] | None = None) -> None:
    """Drop the cached page parts of this process (only those of ``kinds``, the first part of their keys, when
    given): a change the store version does not see (a vote, a comment) is shown by the next request, not up
    to CACHE_SECONDS later."""
    with _cache_lock:
        for kind in kinds or (None,):
            _dropped[kind] = _dropped.get(kind, 0) + 1
        if kinds is None:
            _cache.clear()
        else:
            for key in [key for key in _cache if key[0] in kinds]:
                del _cache[key]


def _forget_what_other_processes_changed(context: Context) -> None:
    """Drop the parts of the kinds whose change counters moved since this process last looked (a vote or a
    comment made through another worker); the counters are read at most every ``changes.POLL_SECONDS``."""
    store_key = context.settings.db
    seen = _seen.get(store_key) or _seen.setdefault(store_key, changes.Seen())
    seen.act(changes.latest_counts(store_key, context.store.shared_change_counts),
             lambda kinds: forget_cached(tuple(sorted(kinds))))


def cached(context: Context, key: tuple, compute: Callable[[], Any]) -> Any:
    """``compute()``, reused while the store has not changed and for at most CACHE_SECONDS.

    Topic pages aggregate every item of a topic (tens of thousands) and the daily page ranks a whole day:
    recomputing them per request would cap a server at a few pages per second. The key is versioned by
    the search change log, which every item insert, update, delete or retag advances. What it does not see
    (a vote moves the daily ranking, a comment the item's thread and count) moves a change counter in the
    store, read by every process at most every ``changes.POLL_SECONDS``: the parts of that kind are dropped,
    in the process that made the change at once (``forget_cached``), in the others within about a second.
    CACHE_SECONDS bounds anything else. The value is shared between requests: callers read it and never
    change it.
    """
    _forget_what_other_processes_changed(context)
    version = context.store.store_version()

    def fresh():
        hit = _cache.get(key)
        return hit if hit and hit[0] == version and time.monotonic() - hit[1] < CACHE_SECONDS else None

    def drops():
        return _dropped.get(None, 0), _dropped.get(key[0], 0)

    with _cache_lock:
        hit = fresh()
        if hit:
            return hit[2]
        computing = _computing.setdefault(key, threading.Lock())
    # One thread computes a key while the others wait for its result (a cold topic page costs seconds).
    with computing:
        with _cache_lock:
            hit = fresh()
            if hit:
                return hit[2]
            before = drops()
        value = compute()
        with _cache_lock:
            if drops() != before:  # dropped while computing: this value may predate the change, so not kept
                return value
            if len(_cache) >= _CACHE_SIZE:
                for stale in sorted(_cache, key=lambda k: _cache[k][1])[:_CACHE_SIZE // 4]:
                    del _cache[stale]
                    _computing.pop(stale, None)
            _cache[key] = (version, time.monotonic(), value)
    return value
