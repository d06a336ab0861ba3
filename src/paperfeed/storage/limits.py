"""Rate-limit counters and failed sign-ins in the store, shared by every web worker (and host) that uses it.

A per-process limiter lets a client through ``workers × limit`` times; counting in the database makes the limit
the limit. Counters are fixed windows (one row per key and window, bumped by one upsert, so concurrent workers
never lose a hit); ``web.users`` turns the current and previous window into a sliding estimate. Failed
sign-ins are rows (account, client address, time), so ``library.accounts`` can count them per account, per
address and per pair over an exact sliding window and see when each pair last failed. Written once for both
backends on ``self.db``; each statement commits on its own.
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

    # -- failed sign-ins ------------------------------------------------------------------------------

    def record_login_failure(self, account: str, address: str, at: float) -> None:
        """Remember one failed sign-in for ``account`` (a hash of the address typed) from client ``address``."""
        self.db.run("INSERT INTO login_failures (account, address, failed_at) VALUES ($1, $2, $3)",
                    (account, address, at))

    def login_failures(self, account: str, address: str, since: float) -> tuple[int, int, int, float | None]:
        """Failures after ``since``: (for the account, for the pair, for the address, the pair's latest time)."""
        found = self.db.row(
            "SELECT COALESCE(SUM(CASE WHEN account = $1 THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN account = $1 AND address = $2 THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN address = $2 THEN 1 ELSE 0 END), 0), "
            "MAX(CASE WHEN account = $1 AND address = $2 THEN failed_at END) "
            "FROM login_failures WHERE failed_at > $3 AND (account = $1 OR address = $2)",
            (account, address, since))
        return int(found[0]), int(found[1]), int(found[2]), None if found[3] is None else float(found[3])

    def nth_latest_login_failure(self, since: float, n: int, address: str, account: str | None = None) -> float:
        """The time of the ``n``-th most recent failure after ``since`` from ``address`` (for ``account`` only,
        when given): once it is older than the window, fewer than ``n`` remain in it."""
        if account is None:
            found = self.db.value("SELECT failed_at FROM login_failures WHERE address = $1 AND failed_at > $2 "
                                  "ORDER BY failed_at DESC LIMIT 1 OFFSET $3", (address, since, n - 1))
        else:
            found = self.db.value("SELECT failed_at FROM login_failures WHERE account = $1 AND address = $2 "
                                  "AND failed_at > $3 ORDER BY failed_at DESC LIMIT 1 OFFSET $4",
                                  (account, address, since, n - 1))
        return since if found is None else float(found)

    def forget_login_failures(self, account: str, address: str) -> None:
        """Drop the failures of one account from one address (it has just signed in from there)."""
        self.db.run("DELETE FROM login_failures WHERE account = $1 AND address = $2", (account, address))

    def forget_login_failures_before(self, before: float) -> None:
        """Delete failures older than ``before`` (outside every window)."""
        self.db.run("DELETE FROM login_failures WHERE failed_at <= $1", (before,))
