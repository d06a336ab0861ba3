"""Rate-limit counters in the store, shared by every web worker (and host) that uses it.

A per-process limiter lets a client through ``workers × limit`` times; counting in the database makes the limit
the limit. Counters are fixed windows (one row per key and window, bumped by one upsert, so concurrent workers
never lose a hit); ``web.users`` turns the current and previous window into a sliding estimate. Written once
for both backends on ``self.db`` (``INSERT … ON CONFLICT … RETURNING``); each statement commits on its own.
"""

from __future__ import annotations

from .sql import Database


class RateLimitStorage:
    """Count hits per key and window; ``count_hit`` is one atomic upsert."""

    db: Database

    def count_hit(self, bucket: str, window_start: int, previous_start: int) -> tuple[int, int]:
        """Add a hit to ``bucket``'s window; return (hits in this window, hits in the previous one)."""
        hits = self.db.value(
            "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1) "
            "ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1 RETURNING hits",
            (bucket, window_start))
        previous = self.db.value("SELECT hits FROM rate_limits WHERE bucket = $1 AND window_start = $2",
                                 (bucket, previous_start), 0)
        return int(hits), int(previous)

    def forget_hits_before(self, window_start: int) -> None:
        """Delete the counters of windows that started before ``window_start``."""
        self.db.run("DELETE FROM rate_limits WHERE window_start < $1", (window_start,))
