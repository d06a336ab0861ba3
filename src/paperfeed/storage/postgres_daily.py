"""PostgreSQL side of ``DailyStorage``: a mixin of ``PostgresStore`` sharing its connection ``self._conn``.

Daily calendar, votes, submissions, users, libraries and digest state. Mirrors ``sqlite_daily.py``; behaviour
must match it (the same tests run on both backends).

Concurrency: several web workers and the digest job write here at once, and SQLite's ``BEGIN IMMEDIATE``
(one writer at a time) has no equivalent worth its cost. So every "at most one" rule is a constraint (one vote
per user and item, one submission per item and day, one sent-log row per subscriber and day, one account or
subscriber per address) and writes are ``INSERT … ON CONFLICT``: a concurrent writer waits for the row's
inserter and then does nothing, never a check-then-insert that two writers can both pass. The calendar refresh
serializes on its cursor row (``SELECT … FOR UPDATE``), so two workers refreshing at once scan each record once.

E-mail addresses are unique case-insensitively as with SQLite's ``COLLATE NOCASE``, which folds ASCII only:
``lower(email COLLATE "C")`` folds exactly that. Text that is sorted or compared by range (days, tags,
timestamps) is ``COLLATE "C"``: byte order, as SQLite's, whatever the database's locale.
"""

from __future__ import annotations

from typing import Callable

import psycopg

from ..normalize import utc_now
from .daily_base import DailySignals, DailyStorage, Subscriber, UserRow


_CURSOR = "daily_dates_cursor"
_EMAIL_IS = 'lower(email COLLATE "C") = lower(%s::text COLLATE "C")'

# One calendar day per source record: the Hugging Face pick day wins over a listing day, which wins
# over the record's own date. BibTeX records are a user's library, not a public signal: left out.
# jsonb cannot hold \u0000 and refuses a whole document holding one, though only three date fields are read
# here; the replacement keeps the JSON valid (it rewrites a 6-character escape into another) and the dates intact.
_REFRESH = r"""
INSERT INTO daily_dates (record_id, item_id, kind, day)
SELECT id, item_id,
       CASE WHEN picked IS NOT NULL THEN 'picked' WHEN listed IS NOT NULL THEN 'announced' ELSE 'published' END,
       coalesce(picked, listed, published)
FROM (SELECT id, item_id, doc #>> '{extra,picked_date}' AS picked, doc #>> '{extra,listing_date}' AS listed,
             doc #>> '{published}' AS published
      FROM source_records CROSS JOIN LATERAL (SELECT replace(data, '\u0000', '\ufffd')::jsonb AS doc) AS parsed
      WHERE id > %s AND id <= %s AND NOT deleted AND format <> 'bibtex') AS dated
WHERE coalesce(picked, listed, published) IS NOT NULL
ON CONFLICT (record_id) DO NOTHING
"""


class PostgresDailyStorage(DailyStorage):
    """Daily calendar, votes, submissions, users, libraries and digest state in PostgreSQL."""

    _conn: psycopg.Connection

    def _one(self, query: str, params: tuple = ()) -> tuple | None:
        return self._conn.execute(query, params).fetchone()

    # -- the calendar -------------------------------------------------------------------------

    def refresh_daily_dates(self) -> int:
        # The scan is by id: ingest inserts source records only under its advisory write lock, one
        # transaction after another, so no record with an id below a committed one can commit later.
        db = self._conn
        top = self._one("SELECT coalesce(max(id), 0) FROM source_records")[0]
        row = self._one("SELECT value FROM app_state WHERE name = %s", (_CURSOR,))
        if top <= (int(row[0]) if row else 0):
            return 0  # the usual case on a page view: no lock taken
        with db.transaction():
            db.execute("INSERT INTO app_state (name, value) VALUES (%s, '0') ON CONFLICT (name) DO NOTHING",
                       (_CURSOR,))
            # A second worker waits here for the first to commit, then reads its cursor and finds less or nothing.
            cursor = int(self._one("SELECT value FROM app_state WHERE name = %s FOR UPDATE", (_CURSOR,))[0])
            top = self._one("SELECT coalesce(max(id), 0) FROM source_records")[0]
            if top <= cursor:
                return 0
            added = db.execute(_REFRESH, (cursor, top)).rowcount
            db.execute("UPDATE app_state SET value = %s WHERE name = %s", (str(top), _CURSOR))
        return added

    def daily_signals(self, start: str, end: str) -> list[DailySignals]:
        self.refresh_daily_dates()
        db = self._conn
        signals: dict[int, DailySignals] = {}
        # Ordered as SQLite reads them (its day index), so date_kinds come out in the same order.
        for item_id, day, kind in db.execute(
            "SELECT d.item_id, d.day, d.kind FROM daily_dates d JOIN items i ON i.id = d.item_id "
            "WHERE d.day BETWEEN %s AND %s AND i.kind = 'paper' AND NOT i.withdrawn "
            "ORDER BY d.day, d.item_id, d.record_id", (start, end)
        ):
            entry = signals.setdefault(item_id, DailySignals(item_id, first_day=day))
            if day not in entry.days:
                entry.days.append(day)
            if kind not in entry.date_kinds:
                entry.date_kinds.append(kind)
        for item_id, day in db.execute(
            "SELECT item_id, day FROM submissions WHERE day BETWEEN %s AND %s ORDER BY day, item_id", (start, end)
        ):
            entry = signals.setdefault(item_id, DailySignals(item_id, first_day=day))
            entry.submitted = True
            if day not in entry.days:
                entry.days.append(day)
            if "submitted" not in entry.date_kinds:
                entry.date_kinds.append("submitted")
        if not signals:
            return []
        ids = list(signals)
        for item_id, upvotes in db.execute("SELECT id, upvotes FROM items WHERE id = ANY(%s)", (ids,)):
            signals[item_id].hf_upvotes = upvotes
        for item_id, first in db.execute(
            "SELECT item_id, min(day) FROM (SELECT item_id, day FROM daily_dates WHERE item_id = ANY(%s) "
            "UNION ALL SELECT item_id, day FROM submissions WHERE item_id = ANY(%s)) AS days GROUP BY item_id",
            (ids, ids)
        ):
            signals[item_id].first_day = first
        for item_id, count in db.execute(
            "SELECT item_id, count(DISTINCT coalesce(label, format)) FROM source_records "
            "WHERE item_id = ANY(%s) AND format <> 'bibtex' AND NOT deleted GROUP BY item_id", (ids,)
        ):
            signals[item_id].sources = count
        for item_id, count in self.local_upvotes(ids).items():
            signals[item_id].local_upvotes = count
        for entry in signals.values():
            entry.days.sort()
        return list(signals.values())

    def daily_neighbours(self, day: str) -> tuple[str | None, str | None]:
        self.refresh_daily_dates()
        before = self._one(
            "SELECT max(day) FROM (SELECT max(day) AS day FROM daily_dates WHERE day < %s "
            "UNION ALL SELECT max(day) FROM submissions WHERE day < %s) AS days", (day, day))[0]
        after = self._one(
            "SELECT min(day) FROM (SELECT min(day) AS day FROM daily_dates WHERE day > %s "
            "UNION ALL SELECT min(day) FROM submissions WHERE day > %s) AS days", (day, day))[0]
        return before, after

    def latest_daily_day(self, until: str | None = None) -> str | None:
        self.refresh_daily_dates()
        until = until or "9999-12-31"
        return self._one(
            "SELECT max(day) FROM (SELECT max(day) AS day FROM daily_dates WHERE day <= %s "
            "UNION ALL SELECT max(day) FROM submissions WHERE day <= %s) AS days", (until, until))[0]

    def recent_item_ids(self, start: str, end: str, limit: int | None = None) -> list[int]:
        self.refresh_daily_dates()
        return [row[0] for row in self._conn.execute(
            "SELECT d.item_id FROM daily_dates d JOIN items i ON i.id = d.item_id "
            "WHERE d.day BETWEEN %s AND %s AND i.kind = 'paper' AND NOT i.withdrawn "
            "GROUP BY d.item_id ORDER BY max(d.day) DESC, d.item_id DESC LIMIT %s", (start, end, limit or None))]

    def sample_item_ids(self, count: int, seed: int) -> list[int]:
        # A multiplicative hash of the id orders items pseudo-randomly but the same way every time (and the
        # same way as SQLite: both compute in 64-bit integers).
        return [row[0] for row in self._conn.execute(
            "SELECT id FROM items WHERE kind = 'paper' ORDER BY (id * 2654435761 + %s::bigint) %% 4294967296 "
            "LIMIT %s", (seed, count))]

    # -- votes and submissions ----------------------------------------------------------------

    def set_vote(self, user_id: int, item_id: int, up: bool) -> bool:
        if up:
            query = ("INSERT INTO votes (user_id, item_id, voted_at) VALUES (%s, %s, %s) "
                     "ON CONFLICT (item_id, user_id) DO NOTHING")
            return self._conn.execute(query, (user_id, item_id, utc_now())).rowcount > 0
        return self._conn.execute("DELETE FROM votes WHERE user_id = %s AND item_id = %s",
                                  (user_id, item_id)).rowcount > 0

    def local_upvotes(self, item_ids: list[int]) -> dict[int, int]:
        return dict(self._conn.execute(
            "SELECT item_id, count(*) FROM votes WHERE item_id = ANY(%s::bigint[]) GROUP BY item_id",
            (list(item_ids),)))

    def user_votes(self, user_id: int) -> list[int]:
        return [row[0] for row in self._conn.execute(
            "SELECT item_id FROM votes WHERE user_id = %s ORDER BY voted_at DESC, item_id", (user_id,))]

    def add_submission(self, item_id: int, day: str, user_id: int | None) -> bool:
        return self._conn.execute(
            "INSERT INTO submissions (item_id, day, user_id, submitted_at) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (item_id, day) DO NOTHING", (item_id, day, user_id, utc_now())).rowcount > 0

    # -- users and sessions -------------------------------------------------------------------

    def create_user(self, email: str, password_hash: str) -> int | None:
        # NOT EXISTS first: an identity value is drawn for every row offered to ON CONFLICT, so without it
        # each refused sign-up would leave a gap in the ids (SQLite's have none). ON CONFLICT still settles
        # two sign-ups racing for one address.
        row = self._one(
            "INSERT INTO users (email, password_hash, created_at) SELECT %s, %s, %s "
            f"WHERE NOT EXISTS (SELECT 1 FROM users WHERE {_EMAIL_IS}) "
            "ON CONFLICT (lower(email COLLATE \"C\")) DO NOTHING RETURNING id",
            (email, password_hash, utc_now(), email))
        return row[0] if row else None

    def user_by_email(self, email: str) -> UserRow | None:
        row = self._one(f"SELECT id, email, password_hash, created_at FROM users WHERE {_EMAIL_IS}", (email,))
        return UserRow(*row) if row else None

    def user_by_id(self, user_id: int) -> UserRow | None:
        row = self._one("SELECT id, email, password_hash, created_at FROM users WHERE id = %s", (user_id,))
        return UserRow(*row) if row else None

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        self._conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id))

    def create_session(self, user_id: int, token_hash: str, created_at: str, expires_at: str) -> None:
        self._conn.execute(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (%s, %s, %s, %s)",
            (token_hash, user_id, created_at, expires_at))

    def session_user(self, token_hash: str, now: str) -> int | None:
        row = self._one("SELECT user_id FROM sessions WHERE token_hash = %s AND expires_at > %s", (token_hash, now))
        return row[0] if row else None

    def delete_session(self, token_hash: str) -> bool:
        return self._conn.execute("DELETE FROM sessions WHERE token_hash = %s", (token_hash,)).rowcount > 0

    # -- the library --------------------------------------------------------------------------

    def set_library_state(self, user_id: int, item_id: int, state: str | None, tags: list[str] = ()) -> None:
        db = self._conn
        if state is None:
            db.execute("DELETE FROM library WHERE user_id = %s AND item_id = %s", (user_id, item_id))  # tags cascade
            return
        with db.transaction():
            # One upsert, not SQLite's read-then-write: a new entry is inserted, a changed state is updated
            # and re-dated, the same state is left alone; the row lock orders two requests for one entry.
            db.execute(
                "INSERT INTO library (user_id, item_id, state, added_at) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (user_id, item_id) DO UPDATE SET state = excluded.state, added_at = excluded.added_at "
                "WHERE library.state <> excluded.state", (user_id, item_id, state, utc_now()))
            if state == "not_relevant":
                # A paper cannot teach a tag and be a negative at once: its tags go.
                db.execute("DELETE FROM library_tags WHERE user_id = %s AND item_id = %s", (user_id, item_id))
            elif tags:
                db.execute(
                    "INSERT INTO library_tags (user_id, tag, item_id) SELECT %s, tag, %s FROM unnest(%s::text[]) "
                    "AS tag ON CONFLICT DO NOTHING", (user_id, item_id, list(tags)))

    def items_by_fingerprint(self, fingerprints: list[str]) -> dict[str, int]:
        return dict(self._conn.execute(
            "SELECT fingerprint, item_id FROM source_records WHERE fingerprint = ANY(%s::text[])",
            (list(fingerprints),)))

    # -- digest subscribers and the sent log --------------------------------------------------

    def add_subscriber(self, email: str, user_id: int | None) -> Subscriber:
        now = utc_now()
        db = self._conn
        with db.transaction():
            # As create_user: NOT EXISTS keeps the ids gapless, ON CONFLICT makes a racing second insert wait
            # for the first and do nothing, so the updates below see the one row either way.
            db.execute(
                "INSERT INTO subscribers (email, user_id, status, created_at, changed_at) "
                f"SELECT %s, %s, 'pending', %s, %s WHERE NOT EXISTS (SELECT 1 FROM subscribers WHERE {_EMAIL_IS}) "
                "ON CONFLICT (lower(email COLLATE \"C\")) DO NOTHING", (email, user_id, now, now, email))
            db.execute(f"UPDATE subscribers SET status = 'pending', changed_at = %s "
                       f"WHERE {_EMAIL_IS} AND status = 'unsubscribed'", (now, email))
            if user_id is not None:
                db.execute(f"UPDATE subscribers SET user_id = %s WHERE {_EMAIL_IS}", (user_id, email))
            row = self._one(f"SELECT id, email, user_id, status FROM subscribers WHERE {_EMAIL_IS}", (email,))
        return Subscriber(*row)

    def subscriber(self, subscriber_id: int) -> Subscriber | None:
        row = self._one("SELECT id, email, user_id, status FROM subscribers WHERE id = %s", (subscriber_id,))
        return Subscriber(*row) if row else None

    def set_subscriber_status(self, subscriber_id: int, status: str) -> None:
        self._conn.execute("UPDATE subscribers SET status = %s, changed_at = %s WHERE id = %s",
                           (status, utc_now(), subscriber_id))

    def subscribers(self, status: str | None = None) -> list[Subscriber]:
        query = "SELECT id, email, user_id, status FROM subscribers"
        rows = (self._conn.execute(query + " WHERE status = %s ORDER BY id", (status,)) if status
                else self._conn.execute(query + " ORDER BY id"))
        return [Subscriber(*row) for row in rows]

    def digest_status(self, subscriber_id: int, day: str) -> str | None:
        row = self._one("SELECT status FROM digest_log WHERE subscriber_id = %s AND day = %s", (subscriber_id, day))
        return row[0] if row else None

    def begin_digest(self, subscriber_id: int, day: str, message_id: str) -> bool:
        # Autocommit: the row is committed before the caller opens the SMTP transaction. Two digest jobs
        # racing for one subscriber and day: the second waits for the first's row and gets False.
        return self._conn.execute(
            "INSERT INTO digest_log (subscriber_id, day, status, message_id, updated_at) "
            "VALUES (%s, %s, 'sending', %s, %s) ON CONFLICT (subscriber_id, day) DO NOTHING",
            (subscriber_id, day, message_id, utc_now())).rowcount > 0

    def finish_digest(self, subscriber_id: int, day: str, delivered: bool) -> None:
        if delivered:
            self._conn.execute(
                "UPDATE digest_log SET status = 'sent', updated_at = %s WHERE subscriber_id = %s AND day = %s",
                (utc_now(), subscriber_id, day))
        else:
            self._conn.execute("DELETE FROM digest_log WHERE subscriber_id = %s AND day = %s AND status = 'sending'",
                               (subscriber_id, day))

    def app_secret(self, name: str, make: Callable[[], str]) -> str:
        key = f"secret:{name}"
        with self._conn.transaction():
            # Two workers making the secret at once: the second's insert waits and yields; both read the first's.
            self._conn.execute("INSERT INTO app_state (name, value) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
                               (key, make()))
            return self._one("SELECT value FROM app_state WHERE name = %s", (key,))[0]
