"""Rate-limit counters in the store, shared by every web worker (and host) that uses it.

A per-process limiter lets a client through ``workers × limit`` times; counting in the database makes the limit
the limit. Counters are fixed windows (one row per key and window, bumped by one upsert, so concurrent workers
never lose a hit); ``web.users`` turns the current and previous window into a sliding estimate. The SQL is the
same on SQLite and PostgreSQL (``INSERT … ON CONFLICT … RETURNING``); backends only run it.
"""

from __future__ import annotations

import abc



class RateLimitStorage(abc.ABC):
    """Count hits per key and window; ``count_hit`` is one atomic upsert."""

    @abc.abstractmethod
    def _execute(self, sql: str, params: tuple) -> list[tuple]:
        """Run one statement (``?`` placeholders) as its own transaction; return the rows it returns.

        The one hook for SQL that reads the same on both backends (also the library and tagger readers in
        ``daily_base`` and ``topics_base``): SQLite runs it as is, PostgreSQL with ``%s`` placeholders."""

    def count_hit(self, bucket: str, window_start: int, previous_start: int) -> tuple[int, int]:
        """Add a hit to ``bucket``'s window; return (hits in this window, hits in the previous one)."""
        (hits,), = self._execute(
            "INSERT INTO rate_limits (bucket, window_start, hits) VALUES (?, ?, 1) "
            "ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1 RETURNING hits",
            (bucket, window_start))
        previous = self._execute("SELECT hits FROM rate_limits WHERE bucket = ? AND window_start = ?",
                                 (bucket, previous_start))
        return int(hits), int(previous[0][0]) if previous else 0

    def forget_hits_before(self, window_start: int) -> None:
        """Delete the counters of windows that started before ``window_start``."""
        self._execute("DELETE FROM rate_limits WHERE window_start < ?", (window_start,))
