"""SQLite side of ``DailyStorage``: a mixin of ``SQLiteStore`` sharing its connection ``self._db``."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from typing import Callable, Iterator

import orjson

from ..normalize import utc_now
from .daily_base import DailySignals, DailyStorage, Subscriber, UserRow

_IDS = "(SELECT value FROM json_each(?))"
_CURSOR = "daily_dates_cursor"

# One calendar day per source record: the Hugging Face pick day wins over a listing day, which wins
# over the record's own date. BibTeX records are a user's library, not a public signal: left out.
_REFRESH = """
INSERT OR IGNORE INTO daily_dates (record_id, item_id, kind, day)
SELECT id, item_id,
       CASE WHEN picked IS NOT NULL THEN 'picked' WHEN listed IS NOT NULL THEN 'announced' ELSE 'published' END,
       coalesce(picked, listed, published)
FROM (SELECT id, item_id, json_extract(data, '$.extra.picked_date') AS picked,
             json_extract(data, '$.extra.listing_date') AS listed, json_extract(data, '$.published') AS published
      FROM source_records WHERE id > ? AND id <= ? AND deleted = 0 AND format != 'bibtex')
WHERE coalesce(picked, listed, published) IS NOT NULL
"""


class SQLiteDailyStorage(DailyStorage):
    """Daily calendar, votes, submissions, users, libraries and digest state in SQLite (migration 0005)."""

    _db: sqlite3.Connection

    @contextmanager
    def _daily_write(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- the calendar -------------------------------------------------------------------------

    def refresh_daily_dates(self) -> int:
        db = self._db
        top = db.execute("SELECT coalesce(max(id), 0) FROM source_records").fetchone()[0]
        row = db.execute("SELECT value FROM app_state WHERE name = ?", (_CURSOR,)).fetchone()
        cursor = int(row[0]) if row else 0
        if top <= cursor:
            return 0
        with self._daily_write():
            added = db.execute(_REFRESH, (cursor, top)).rowcount
            db.execute("INSERT OR REPLACE INTO app_state (name, value) VALUES (?, ?)", (_CURSOR, str(top)))
        return added

    def daily_signals(self, start: str, end: str) -> list[DailySignals]:
        self.refresh_daily_dates()
        db = self._db
        signals: dict[int, DailySignals] = {}
        for item_id, day, kind in db.execute(
            "SELECT d.item_id, d.day, d.kind FROM daily_dates d JOIN items i ON i.id = d.item_id "
            "WHERE d.day BETWEEN ? AND ? AND i.kind = 'paper' AND i.withdrawn = 0", (start, end)
        ):
            entry = signals.setdefault(item_id, DailySignals(item_id, first_day=day))
            if day not in entry.days:
                entry.days.append(day)
            if kind not in entry.date_kinds:
                entry.date_kinds.append(kind)
        for item_id, day in db.execute("SELECT item_id, day FROM submissions WHERE day BETWEEN ? AND ?", (start, end)):
            entry = signals.setdefault(item_id, DailySignals(item_id, first_day=day))
            entry.submitted = True
            if day not in entry.days:
                entry.days.append(day)
            if "submitted" not in entry.date_kinds:
                entry.date_kinds.append("submitted")
        if not signals:
            return []
        ids = orjson.dumps(list(signals)).decode()
        for item_id, upvotes in db.execute(f"SELECT id, upvotes FROM items WHERE id IN {_IDS}", (ids,)):
            signals[item_id].hf_upvotes = upvotes
        for item_id, first in db.execute(
            f"SELECT item_id, min(day) FROM (SELECT item_id, day FROM daily_dates WHERE item_id IN {_IDS} "
            f"UNION ALL SELECT item_id, day FROM submissions WHERE item_id IN {_IDS}) GROUP BY item_id", (ids, ids)
        ):
            signals[item_id].first_day = first
        for item_id, count in db.execute(
            f"SELECT item_id, count(DISTINCT coalesce(label, format)) FROM source_records "
            f"WHERE item_id IN {_IDS} AND format != 'bibtex' AND deleted = 0 GROUP BY item_id", (ids,)
        ):
            signals[item_id].sources = count
        for item_id, count in self.local_upvotes(list(signals)).items():
            signals[item_id].local_upvotes = count
        for entry in signals.values():
            entry.days.sort()
        return list(signals.values())

    def daily_neighbours(self, day: str) -> tuple[str | None, str | None]:
        self.refresh_daily_dates()
        before = self._db.execute(
            "SELECT max(day) FROM (SELECT max(day) AS day FROM daily_dates WHERE day < ? "
            "UNION ALL SELECT max(day) FROM submissions WHERE day < ?)", (day, day)).fetchone()[0]
        after = self._db.execute(
            "SELECT min(day) FROM (SELECT min(day) AS day FROM daily_dates WHERE day > ? "
            "UNION ALL SELECT min(day) FROM submissions WHERE day > ?)", (day, day)).fetchone()[0]
        return before, after

    def latest_daily_day(self, until: str | None = None) -> str | None:
        self.refresh_daily_dates()
        until = until or "9999-12-31"
        return self._db.execute(
            "SELECT max(day) FROM (SELECT max(day) AS day FROM daily_dates WHERE day <= ? "
            "UNION ALL SELECT max(day) FROM submissions WHERE day <= ?)", (until, until)).fetchone()[0]

    def recent_item_ids(self, start: str, end: str, limit: int | None = None) -> list[int]:
        self.refresh_daily_dates()
        return [row[0] for row in self._db.execute(
            "SELECT d.item_id FROM daily_dates d JOIN items i ON i.id = d.item_id "
            "WHERE d.day BETWEEN ? AND ? AND i.kind = 'paper' AND i.withdrawn = 0 "
            "GROUP BY d.item_id ORDER BY max(d.day) DESC, d.item_id DESC LIMIT ?", (start, end, limit or -1))]

    def sample_item_ids(self, count: int, seed: int) -> list[int]:
        # A multiplicative hash of the id orders items pseudo-randomly but the same way every time.
        return [row[0] for row in self._db.execute(
            "SELECT id FROM items WHERE kind = 'paper' ORDER BY (id * 2654435761 + ?) % 4294967296 LIMIT ?",
            (seed, count))]

    # -- votes and submissions ----------------------------------------------------------------

    def set_vote(self, user_id: int, item_id: int, up: bool) -> bool:
        with self._daily_write() as db:
            if up:
                changed = db.execute("INSERT OR IGNORE INTO votes (user_id, item_id, voted_at) VALUES (?, ?, ?)",
                                     (user_id, item_id, utc_now())).rowcount
            else:
                changed = db.execute("DELETE FROM votes WHERE user_id = ? AND item_id = ?",
                                     (user_id, item_id)).rowcount
        return changed > 0

    def local_upvotes(self, item_ids: list[int]) -> dict[int, int]:
        return dict(self._db.execute(
            f"SELECT item_id, count(*) FROM votes WHERE item_id IN {_IDS} GROUP BY item_id",
            (orjson.dumps(item_ids).decode(),)))

    def user_votes(self, user_id: int) -> list[int]:
        return [row[0] for row in self._db.execute(
            "SELECT item_id FROM votes WHERE user_id = ? ORDER BY voted_at DESC", (user_id,))]

    def add_submission(self, item_id: int, day: str, user_id: int | None) -> bool:
        with self._daily_write() as db:
            return db.execute("INSERT OR IGNORE INTO submissions (item_id, day, user_id, submitted_at) "
                              "VALUES (?, ?, ?, ?)", (item_id, day, user_id, utc_now())).rowcount > 0

    # -- users and sessions -------------------------------------------------------------------

    def create_user(self, email: str, password_hash: str) -> int | None:
        with self._daily_write() as db:
            row = db.execute("INSERT OR IGNORE INTO users (email, password_hash, created_at) VALUES (?, ?, ?) "
                             "RETURNING id", (email, password_hash, utc_now())).fetchone()
        return row[0] if row else None

    def user_by_email(self, email: str) -> UserRow | None:
        row = self._db.execute("SELECT id, email, password_hash, created_at FROM users WHERE email = ?",
                               (email,)).fetchone()
        return UserRow(*row) if row else None

    def user_by_id(self, user_id: int) -> UserRow | None:
        row = self._db.execute("SELECT id, email, password_hash, created_at FROM users WHERE id = ?",
                               (user_id,)).fetchone()
        return UserRow(*row) if row else None

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        with self._daily_write() as db:
            db.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id))

    def create_session(self, user_id: int, token_hash: str, created_at: str, expires_at: str) -> None:
        with self._daily_write() as db:
            db.execute("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                       (token_hash, user_id, created_at, expires_at))

    def session_user(self, token_hash: str, now: str) -> int | None:
        row = self._db.execute("SELECT user_id FROM sessions WHERE token_hash = ? AND expires_at > ?",
                               (token_hash, now)).fetchone()
        return row[0] if row else None

    def delete_session(self, token_hash: str) -> bool:
        with self._daily_write() as db:
            return db.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,)).rowcount > 0

    # -- the library --------------------------------------------------------------------------

    def set_library_state(self, user_id: int, item_id: int, state: str | None, tags: list[str] = ()) -> None:
        with self._daily_write() as db:
            if state is None:
                db.execute("DELETE FROM library WHERE user_id = ? AND item_id = ?", (user_id, item_id))
                return
            previous = db.execute("SELECT state FROM library WHERE user_id = ? AND item_id = ?",
                                  (user_id, item_id)).fetchone()
            if previous is None:
                db.execute("INSERT INTO library (user_id, item_id, state, added_at) VALUES (?, ?, ?, ?)",
                           (user_id, item_id, state, utc_now()))
            elif previous[0] != state:
                db.execute("UPDATE library SET state = ?, added_at = ? WHERE user_id = ? AND item_id = ?",
                           (state, utc_now(), user_id, item_id))
            if state == "not_relevant":
                # A paper cannot teach a tag and be a negative at once: its tags go.
                db.execute("DELETE FROM library_tags WHERE user_id = ? AND item_id = ?", (user_id, item_id))
            else:
                db.executemany("INSERT OR IGNORE INTO library_tags (user_id, tag, item_id) VALUES (?, ?, ?)",
                               [(user_id, tag, item_id) for tag in tags])

    def items_by_fingerprint(self, fingerprints: list[str]) -> dict[str, int]:
        return dict(self._db.execute(
            f"SELECT fingerprint, item_id FROM source_records WHERE fingerprint IN {_IDS}",
            (orjson.dumps(fingerprints).decode(),)))

    # -- digest subscribers and the sent log --------------------------------------------------

    def add_subscriber(self, email: str, user_id: int | None) -> Subscriber:
        now = utc_now()
        with self._daily_write() as db:
            db.execute("INSERT OR IGNORE INTO subscribers (email, user_id, status, created_at, changed_at) "
                       "VALUES (?, ?, 'pending', ?, ?)", (email, user_id, now, now))
            db.execute("UPDATE subscribers SET status = 'pending', changed_at = ? "
                       "WHERE email = ? AND status = 'unsubscribed'", (now, email))
            if user_id is not None:
                db.execute("UPDATE subscribers SET user_id = ? WHERE email = ?", (user_id, email))
            row = db.execute("SELECT id, email, user_id, status FROM subscribers WHERE email = ?", (email,)).fetchone()
        return Subscriber(*row)

    def subscriber(self, subscriber_id: int) -> Subscriber | None:
        row = self._db.execute("SELECT id, email, user_id, status FROM subscribers WHERE id = ?",
                               (subscriber_id,)).fetchone()
        return Subscriber(*row) if row else None

    def set_subscriber_status(self, subscriber_id: int, status: str) -> None:
        with self._daily_write() as db:
            db.execute("UPDATE subscribers SET status = ?, changed_at = ? WHERE id = ?",
                       (status, utc_now(), subscriber_id))

    def subscribers(self, status: str | None = None) -> list[Subscriber]:
        query = "SELECT id, email, user_id, status FROM subscribers"
        rows = (self._db.execute(query + " WHERE status = ? ORDER BY id", (status,)) if status
                else self._db.execute(query + " ORDER BY id"))
        return [Subscriber(*row) for row in rows]

    def digest_status(self, subscriber_id: int, day: str) -> str | None:
        row = self._db.execute("SELECT status FROM digest_log WHERE subscriber_id = ? AND day = ?",
                               (subscriber_id, day)).fetchone()
        return row[0] if row else None

    def begin_digest(self, subscriber_id: int, day: str, message_id: str) -> bool:
        with self._daily_write() as db:
            return db.execute(
                "INSERT OR IGNORE INTO digest_log (subscriber_id, day, status, message_id, updated_at) "
                "VALUES (?, ?, 'sending', ?, ?)", (subscriber_id, day, message_id, utc_now())).rowcount > 0

    def finish_digest(self, subscriber_id: int, day: str, delivered: bool) -> None:
        with self._daily_write() as db:
            if delivered:
                db.execute("UPDATE digest_log SET status = 'sent', updated_at = ? WHERE subscriber_id = ? AND day = ?",
                           (utc_now(), subscriber_id, day))
            else:
                db.execute("DELETE FROM digest_log WHERE subscriber_id = ? AND day = ? AND status = 'sending'",
                           (subscriber_id, day))

    def app_secret(self, name: str, make: Callable[[], str]) -> str:
        with self._daily_write() as db:
            db.execute("INSERT OR IGNORE INTO app_state (name, value) VALUES (?, ?)", (f"secret:{name}", make()))
            return db.execute("SELECT value FROM app_state WHERE name = ?", (f"secret:{name}",)).fetchone()[0]
