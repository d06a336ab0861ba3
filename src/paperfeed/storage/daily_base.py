"""The storage interface of Daily Papers, users, libraries, votes, submissions and digests."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field


@dataclass(slots=True)
class DailySignals:
    """What the trending score reads about one item of a date range."""

    item_id: int
    first_day: str
    """The item's earliest calendar day (any source, any range): recency decays from here."""
    days: list[str] = field(default_factory=list)
    """Its calendar days inside the range asked for."""
    hf_upvotes: int = 0
    """Hugging Face upvotes (the highest count seen per source label, summed)."""
    local_upvotes: int = 0
    """Upvotes of this store's users, kept apart from Hugging Face's."""
    submitted: bool = False
    """A user put it on a day's list inside the range."""
    sources: int = 0
    """Independent sources that carried it: distinct source labels (formats when unlabelled), BibTeX excluded."""
    date_kinds: list[str] = field(default_factory=list)
    """Which dates put it in the range: picked, announced, published, submitted."""


@dataclass(slots=True)
class UserRow:
    id: int
    email: str
    password_hash: str
    created_at: str


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


class UserStorage(abc.ABC):
    """Accounts, sessions, libraries, digest subscribers, the digest sent log and app secrets."""

    @abc.abstractmethod
    def create_user(self, email: str, password_hash: str) -> int | None:
        """Create an account; None when the e-mail address already has one."""

    @abc.abstractmethod
    def user_by_email(self, email: str) -> UserRow | None:
        """The account of ``email`` (case-insensitive), or None."""

    @abc.abstractmethod
    def user_by_id(self, user_id: int) -> UserRow | None:
        """The account ``user_id``, or None."""

    @abc.abstractmethod
    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        """Replace a password hash (a rehash after parameters changed)."""

    @abc.abstractmethod
    def create_session(self, user_id: int, token_hash: str, created_at: str, expires_at: str) -> None:
        """Store a session by the hash of its token."""

    @abc.abstractmethod
    def session_user(self, token_hash: str, now: str) -> int | None:
        """The user of an unexpired session, or None."""

    @abc.abstractmethod
    def delete_session(self, token_hash: str) -> bool:
        """End a session; False when there was none."""

    @abc.abstractmethod
    def set_library_state(self, user_id: int, item_id: int, state: str | None, tags: list[str] = ()) -> None:
        """Save an item with ``tags`` added, mark it ``not_relevant`` (drops its tags), or remove it (None)."""

    # The same SQL on both backends, run through the stores' ``_execute`` (``?`` placeholders; storage.limits).

    def library_entries(self, user_id: int, tag: str | None = None, state: str | None = None) -> list[LibraryEntry]:
        """A user's library, newest first; only one tag's items, or one state's, when asked."""
        query = "SELECT l.item_id, l.state, l.added_at FROM library l WHERE l.user_id = ?"
        params: list = [user_id]
        if tag is not None:
            query += " AND l.item_id IN (SELECT item_id FROM library_tags WHERE user_id = ? AND tag = ?)"
            params += [user_id, tag]
        if state is not None:
            query += " AND l.state = ?"
            params.append(state)
        entries = {row[0]: LibraryEntry(row[0], row[1], [], row[2])
                   for row in self._execute(query + " ORDER BY l.added_at DESC, l.item_id DESC", tuple(params))}
        for item_id, name in self._execute("SELECT item_id, tag FROM library_tags WHERE user_id = ? ORDER BY tag",
                                           (user_id,)):
            if item_id in entries:
                entries[item_id].tags.append(name)
        return list(entries.values())

    def library_tags(self, user_id: int) -> dict[str, int]:
        """A user's tags and how many items each holds."""
        return dict(self._execute(
            "SELECT tag, count(*) FROM library_tags WHERE user_id = ? GROUP BY tag ORDER BY tag", (user_id,)))

    @abc.abstractmethod
    def items_by_fingerprint(self, fingerprints: list[str]) -> dict[str, int]:
        """Map source-record fingerprints to the items holding those records."""

    @abc.abstractmethod
    def add_subscriber(self, email: str, user_id: int | None) -> Subscriber:
        """Create a pending subscriber, or return the existing one (an unsubscribed one turns pending again)."""

    @abc.abstractmethod
    def subscriber(self, subscriber_id: int) -> Subscriber | None:
        """One subscriber, or None."""

    @abc.abstractmethod
    def set_subscriber_status(self, subscriber_id: int, status: str) -> None:
        """Move a subscriber to ``pending``, ``active`` or ``unsubscribed``."""

    @abc.abstractmethod
    def subscribers(self, status: str | None = None) -> list[Subscriber]:
        """Subscribers by id, only those of ``status`` when given."""

    @abc.abstractmethod
    def digest_status(self, subscriber_id: int, day: str) -> str | None:
        """``sending``, ``sent`` or None for a subscriber's digest of a day."""

    @abc.abstractmethod
    def begin_digest(self, subscriber_id: int, day: str, message_id: str) -> bool:
        """Log a digest as being sent, committed before the SMTP transaction; False when already logged."""

    @abc.abstractmethod
    def finish_digest(self, subscriber_id: int, day: str, delivered: bool) -> None:
        """Mark a logged digest sent, or drop its row when the server surely refused it."""

    @abc.abstractmethod
    def app_secret(self, name: str, make: "callable") -> str:
        """A named secret kept in the store, made by ``make()`` on first use."""


class DailyStorage(UserStorage, abc.ABC):
    """The Daily Papers calendar and its signals: dates, local upvotes and submissions."""

    @abc.abstractmethod
    def refresh_daily_dates(self) -> int:
        """Add the calendar dates of source records stored since the last refresh; return how many."""

    @abc.abstractmethod
    def daily_signals(self, start: str, end: str) -> list[DailySignals]:
        """Signals of every item with a calendar day or a submission in ``start``..``end`` (inclusive)."""

    @abc.abstractmethod
    def daily_neighbours(self, day: str) -> tuple[str | None, str | None]:
        """The nearest earlier and later calendar days that have items."""

    @abc.abstractmethod
    def latest_daily_day(self, until: str | None = None) -> str | None:
        """The latest calendar day with items (on or before ``until`` when given)."""

    @abc.abstractmethod
    def set_vote(self, user_id: int, item_id: int, up: bool) -> bool:
        """Add (``up``) or withdraw a user's upvote; False when that changed nothing."""

    @abc.abstractmethod
    def local_upvotes(self, item_ids: list[int]) -> dict[int, int]:
        """Local upvote counts of items that have any."""

    @abc.abstractmethod
    def user_votes(self, user_id: int) -> list[int]:
        """Items a user has upvoted."""

    @abc.abstractmethod
    def add_submission(self, item_id: int, day: str, user_id: int | None) -> bool:
        """Put an item on a day's list; False when it was already submitted for that day."""

    @abc.abstractmethod
    def recent_item_ids(self, start: str, end: str, limit: int | None = None) -> list[int]:
        """Papers with a calendar day in ``start``..``end``, newest day first."""

    @abc.abstractmethod
    def sample_item_ids(self, count: int, seed: int) -> list[int]:
        """A reproducible sample of up to ``count`` paper ids (negatives for recommendations)."""
