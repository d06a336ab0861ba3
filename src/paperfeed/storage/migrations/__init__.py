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
"""The one migration whose SQL both backends read alike."""
