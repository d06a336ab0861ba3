"""Accounts, sessions, libraries, digest subscribers, the digest sent log and app secrets.

Written once for both backends on ``self.db`` (``storage.sql``). Several web workers and the digest job write
here at once, so every "at most one" rule is a constraint (one account or subscriber per address, one library
entry per user and item, one sent-log row per subscriber and day, one secret per name) and writes are
``INSERT … ON CONFLICT``: a concurrent writer waits for the row's inserter and then does nothing, never a
check-then-insert that two writers can both pass.

E-mail addresses are unique case-insensitively, ASCII letters folded (SQLite's ``COLLATE NOCASE``; on
PostgreSQL a unique index on ``lower(email COLLATE "C")``): ``dialect.nocase_equals`` compares by that index.
Text that is sorted (tags, timestamps) is byte order on both backends (``COLLATE "C"`` columns on PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..normalize import utc_now
from .sql import Database


@dataclass(slots=True)
class UserRow:
    id: int
    email: str
    password_hash: str
    created_at: str
    role: str = "user"
    """``user`` or ``admin`` (may split and merge items)."""


@dataclass(slots=True)
class LibraryEntry:
    item_id: int
    state: str
    """``saved`` or ``not_relevant``."""
    tags: list[str]
    added_at: str


@dataclass(slots=True)
class Subscriber:
    id: int
    email: str
    user_id: int | None
    status: str
    """``pending`` (not confirmed yet), ``active`` or ``unsubscribed``."""
    frequency: str = "daily"
    """``daily`` or ``weekly``: which digest they get."""


_SUBSCRIBER = "id, email, user_id, status, frequency"
"""What is selected to build a ``Subscriber``."""


class AccountStorage:
    """Accounts, sessions, libraries, digest subscribers, the digest sent log and app secrets."""

    db: Database

    # -- users and sessions -------------------------------------------------------------------

    def create_user(self, email: str, password_hash: str) -> int | None:
        """Create an account; None when the e-mail address already has one."""
        # NOT EXISTS first: PostgreSQL draws an identity value for every row offered to ON CONFLICT, so without
        # it each refused sign-up would leave a gap in the ids (SQLite's have none). ON CONFLICT still settles
        # two sign-ups racing for one address.
        return self.db.value(
            "INSERT INTO users (email, password_hash, created_at) SELECT $1, $2, $3 "
            f"WHERE NOT EXISTS (SELECT 1 FROM users WHERE {self.db.dialect.nocase_equals('email', 1)}) "
            "ON CONFLICT DO NOTHING RETURNING id", (email, password_hash, utc_now()))

    def user_by_email(self, email: str) -> UserRow | None:
        """The account of ``email`` (case-insensitive), or None."""
        row = self.db.row("SELECT id, email, password_hash, created_at, role FROM users "
                          f"WHERE {self.db.dialect.nocase_equals('email', 1)}", (email,))
        return UserRow(*row) if row else None

    def user_by_id(self, user_id: int) -> UserRow | None:
        """The account ``user_id``, or None."""
        row = self.db.row("SELECT id, email, password_hash, created_at, role FROM users WHERE id = $1", (user_id,))
        return UserRow(*row) if row else None

    def set_user_role(self, user_id: int, role: str) -> None:
        """Make an account a ``user`` or an ``admin``."""
        self.db.run("UPDATE users SET role = $1 WHERE id = $2", (role, user_id))

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        """Replace a password hash (a rehash after parameters changed)."""
        self.db.run("UPDATE users SET password_hash = $1 WHERE id = $2", (password_hash, user_id))

    def create_session(self, user_id: int, token_hash: str, created_at: str, expires_at: str) -> None:
        """Store a session by the hash of its token."""
        self.db.run("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                    (token_hash, user_id, created_at, expires_at))

    def session_user(self, token_hash: str, now: str) -> int | None:
        """The user of an unexpired session, or None."""
        return self.db.value("SELECT user_id FROM sessions WHERE token_hash = $1 AND expires_at > $2",
                             (token_hash, now))

    def session_account(self, token_hash: str, now: str) -> UserRow | None:
        """The account of an unexpired session, or None: one indexed lookup, as every signed-in request makes."""
        row = self.db.row("SELECT u.id, u.email, u.password_hash, u.created_at, u.role FROM sessions s "
                          "JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2",
                          (token_hash, now))
        return UserRow(*row) if row else None

    def delete_session(self, token_hash: str) -> bool:
        """End a session; False when there was none."""
        return self.db.run("DELETE FROM sessions WHERE token_hash = $1", (token_hash,)) > 0

    # -- the library --------------------------------------------------------------------------

    def set_library_state(self, user_id: int, item_id: int, state: str | None, tags: list[str] = ()) -> None:
        """Save an item with ``tags`` added, mark it ``not_relevant`` (drops its tags), or remove it (None)."""
        db = self.db
        if state is None:
            db.run("DELETE FROM library WHERE user_id = $1 AND item_id = $2", (user_id, item_id))  # tags cascade
            return
        with db.transaction():
            # One upsert, not a read-then-write: a new entry is inserted, a changed state is updated and
            # re-dated, the same state is left alone; the row lock orders two requests for one entry.
            db.run("INSERT INTO library (user_id, item_id, state, added_at) VALUES ($1, $2, $3, $4) "
                   "ON CONFLICT (user_id, item_id) DO UPDATE SET state = excluded.state, added_at = excluded.added_at "
                   "WHERE library.state <> excluded.state", (user_id, item_id, state, utc_now()))
            if state == "not_relevant":
                # A paper cannot teach a tag and be a negative at once: its tags go.
                db.run("DELETE FROM library_tags WHERE user_id = $1 AND item_id = $2", (user_id, item_id))
            else:
                db.run_many("INSERT INTO library_tags (user_id, tag, item_id) VALUES ($1, $2, $3) "
                            "ON CONFLICT DO NOTHING", [(user_id, tag, item_id) for tag in tags])

    def library_entries(self, user_id: int, tag: str | None = None, state: str | None = None) -> list[LibraryEntry]:
        """A user's library, newest first; only one tag's items, or one state's, when asked."""
        query = "SELECT l.item_id, l.state, l.added_at FROM library l WHERE l.user_id = $1"
        params: list = [user_id]
        if tag is not None:
            params.append(tag)
            query += f" AND l.item_id IN (SELECT item_id FROM library_tags WHERE user_id = $1 AND tag = ${len(params)})"
        if state is not None:
            params.append(state)
            query += f" AND l.state = ${len(params)}"
        entries = {row[0]: LibraryEntry(row[0], row[1], [], row[2])
                   for row in self.db.rows(query + " ORDER BY l.added_at DESC, l.item_id DESC", params)}
        for item_id, name in self.db.rows("SELECT item_id, tag FROM library_tags WHERE user_id = $1 ORDER BY tag",
                                          (user_id,)):
            if item_id in entries:
                entries[item_id].tags.append(name)
        return list(entries.values())

    def item_marks(self, user_id: int, item_id: int) -> tuple[str | None, list[str], bool, int]:
        """A user's marks on one item: its library state (None: not in the library), its tags, whether the user
        upvoted it, and its local upvotes. Two indexed lookups, whatever the size of the library."""
        state, voted, upvotes = self.db.row(
            "SELECT (SELECT state FROM library WHERE user_id = $1 AND item_id = $2), "
            "(SELECT count(*) FROM votes WHERE user_id = $1 AND item_id = $2), "
            "(SELECT count(*) FROM votes WHERE item_id = $2)", (user_id, item_id))
        tags = self.db.column("SELECT tag FROM library_tags WHERE user_id = $1 AND item_id = $2 ORDER BY tag",
                              (user_id, item_id)) if state == "saved" else []
        return state, tags, voted > 0, upvotes

    def library_tags(self, user_id: int) -> dict[str, int]:
        """A user's tags and how many items each holds."""
        return dict(self.db.rows(
            "SELECT tag, count(*) FROM library_tags WHERE user_id = $1 GROUP BY tag ORDER BY tag", (user_id,)))

    def items_by_fingerprint(self, fingerprints: list[str]) -> dict[str, int]:
        """Map source-record fingerprints to the items holding those records."""
        d = self.db.dialect
        return dict(self.db.rows(f"SELECT fingerprint, item_id FROM source_records WHERE fingerprint {d.in_array(1)}",
                                 (d.array(fingerprints),)))

    # -- digest subscribers and the sent log --------------------------------------------------

    def add_subscriber(self, email: str, user_id: int | None, frequency: str = "daily") -> Subscriber:
        """Create a pending subscriber, or return the existing one (an unsubscribed one turns pending again).

        ``frequency`` is taken by a subscriber who is not active yet; an active one keeps theirs (a form anyone
        can post must not change someone's mail: the owner does it signed in, ``set_subscriber_frequency``)."""
        db, now = self.db, utc_now()
        email_is = db.dialect.nocase_equals("email", 1)
        with db.transaction():
            # As create_user: NOT EXISTS keeps the ids gapless, ON CONFLICT makes a racing second insert wait
            # for the first and do nothing, so the updates below see the one row either way.
            db.run("INSERT INTO subscribers (email, user_id, status, created_at, changed_at, frequency) "
                   f"SELECT $1, $2, 'pending', $3, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM subscribers WHERE {email_is}) "
                   "ON CONFLICT DO NOTHING", (email, user_id, now, frequency))
            db.run(f"UPDATE subscribers SET status = 'pending', changed_at = $2 "
                   f"WHERE {email_is} AND status = 'unsubscribed'", (email, now))
            db.run(f"UPDATE subscribers SET frequency = $2 WHERE {email_is} AND status = 'pending'", (email, frequency))
            if user_id is not None:
                db.run(f"UPDATE subscribers SET user_id = $2 WHERE {email_is}", (email, user_id))
            row = db.row(f"SELECT {_SUBSCRIBER} FROM subscribers WHERE {email_is}", (email,))
        return Subscriber(*row)

    def subscriber(self, subscriber_id: int) -> Subscriber | None:
        """One subscriber, or None."""
        row = self.db.row(f"SELECT {_SUBSCRIBER} FROM subscribers WHERE id = $1", (subscriber_id,))
        return Subscriber(*row) if row else None

    def set_subscriber_status(self, subscriber_id: int, status: str) -> None:
        """Move a subscriber to ``pending``, ``active`` or ``unsubscribed``."""
        self.db.run("UPDATE subscribers SET status = $1, changed_at = $2 WHERE id = $3",
                    (status, utc_now(), subscriber_id))

    def subscribers(self, status: str | None = None, frequency: str | None = None) -> list[Subscriber]:
        """Subscribers by id, only those of ``status`` and ``frequency`` when given."""
        rows = self.db.rows(f"SELECT {_SUBSCRIBER} FROM subscribers WHERE (CAST($1 AS TEXT) IS NULL OR status = $1) "
                            "AND (CAST($2 AS TEXT) IS NULL OR frequency = $2) ORDER BY id", (status, frequency))
        return [Subscriber(*row) for row in rows]

    def user_subscriber(self, user_id: int) -> Subscriber | None:
        """The digest subscription linked to a user's account, if any."""
        row = self.db.row(f"SELECT {_SUBSCRIBER} FROM subscribers WHERE user_id = $1 ORDER BY id LIMIT 1", (user_id,))
        return Subscriber(*row) if row else None

    def set_subscriber_frequency(self, subscriber_id: int, frequency: str) -> None:
        """Daily or weekly digests for a subscriber (its owner's choice, signed in)."""
        with self.db.transaction():
            self.db.run("UPDATE subscribers SET frequency = $1, changed_at = $2 WHERE id = $3",
                        (frequency, utc_now(), subscriber_id))

    def digest_status(self, subscriber_id: int, day: str) -> str | None:
        """``sending``, ``sent`` or None for a subscriber's digest of a day."""
        return self.db.value("SELECT status FROM digest_log WHERE subscriber_id = $1 AND day = $2",
                             (subscriber_id, day))

    def begin_digest(self, subscriber_id: int, day: str, message_id: str) -> bool:
        """Log a digest as being sent, committed before the SMTP transaction; False when already logged."""
        # Its own statement (autocommit): the row is committed before the caller opens the SMTP transaction.
        # Two digest jobs racing for one subscriber and day: the second waits for the first's row and gets False.
        return self.db.run(
            "INSERT INTO digest_log (subscriber_id, day, status, message_id, updated_at) "
            "VALUES ($1, $2, 'sending', $3, $4) ON CONFLICT (subscriber_id, day) DO NOTHING",
            (subscriber_id, day, message_id, utc_now())) > 0

    def finish_digest(self, subscriber_id: int, day: str, delivered: bool) -> None:
        """Mark a logged digest sent, or drop its row when the server surely refused it."""
        if delivered:
            self.db.run("UPDATE digest_log SET status = 'sent', updated_at = $1 WHERE subscriber_id = $2 AND day = $3",
                        (utc_now(), subscriber_id, day))
        else:
            self.db.run("DELETE FROM digest_log WHERE subscriber_id = $1 AND day = $2 AND status = 'sending'",
                        (subscriber_id, day))

    def app_secret(self, name: str, make: Callable[[], str]) -> str:
        """A named secret kept in the store, made by ``make()`` on first use."""
        key = f"secret:{name}"
        found = self.db.value("SELECT value FROM app_state WHERE name = $1", (key,))
        if found is not None:
            return found  # the usual case: a plain read
        with self.db.transaction():
            # Two workers making the secret at once: the second's insert waits and yields; both read the first's.
            self.db.run("INSERT INTO app_state (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                        (key, make()))
            return self.db.value("SELECT value FROM app_state WHERE name = $1", (key,))
