"""Named, append-only migrations, one list per backend in its own dialect (``sqlite``, ``postgres``).

Both lists carry the same names in the same order, so both stores report the same history for the same schema.
"""

RATE_LIMITS = (
    "0006_rate_limits",
    """
    -- Hits per rate-limit key (a form and a client address or e-mail) per fixed window of time;
    -- rows older than the previous window are deleted as windows roll over.
    CREATE TABLE rate_limits (
        bucket TEXT NOT NULL,
        window_start BIGINT NOT NULL,
        hits INTEGER NOT NULL,
        PRIMARY KEY (bucket, window_start)
    );
    CREATE INDEX rate_limits_window ON rate_limits (window_start);
    """,
)
"""A migration whose SQL both backends read alike."""

LOGIN_FAILURES = (
    "0007_login_failures",
    """
    -- One row per failed sign-in: the account asked for (the SHA-256 of the address as typed, lowercased, so
    -- unknown addresses count like known ones and no typed text is kept), the client address, when.
    -- Read over a sliding window by web sign-in limits; rows older than the window are deleted.
    CREATE TABLE login_failures (
        account TEXT NOT NULL,
        address TEXT NOT NULL,
        failed_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX login_failures_account ON login_failures (account, failed_at);
    CREATE INDEX login_failures_address ON login_failures (address, failed_at);
    CREATE INDEX login_failures_time ON login_failures (failed_at);
    """,
)
"""Failed sign-ins (``storage.limits``): the same SQL on both backends."""
