"""The Daily Papers calendar and its signals: dates, local upvotes and submissions.

Written once for both backends on ``self.db`` (``storage.sql``). The calendar (``daily_dates``) is derived from
source records and written on the write side only: ingest adds the dates of each batch's records in the same
transaction (``add_daily_dates``), so the dates commit with the records that carry them, and every reader here
is a plain read (a page view never writes). ``refresh_daily_dates`` stays public for a pipeline step or an old store.

Concurrency: several web workers and the digest job write here at once. Every "at most one" rule is a
constraint (one vote per user and item, one submission per item and day) and writes are ``INSERT … ON
CONFLICT``: a concurrent writer waits for the row's inserter and then does nothing, never a check-then-insert
that two writers can both pass. Days are ``COLLATE "C"`` on PostgreSQL: byte order, as SQLite's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..normalize import utc_now
from .sql import Database

_CURSOR = "daily_dates_cursor"
"""``app_state`` row: the highest source record id the calendar has scanned."""

SHARED_CHANGES = ("daily", "comments")
"""Kinds of change the search change log does not see but pages show (votes move the daily ranking; comments
are on item pages and counted on daily cards). Each has a counter, the ``app_state`` row ``changes.<kind>``,
moved in the same transaction as the write: every server process reads them (``shared_change_counts``) to
drop what it cached of that kind, so a change made through one worker is shown by all."""


def count_shared_change(db: Database, kind: str) -> None:
    """Move the counter of ``kind`` (one of SHARED_CHANGES); call it inside the write's transaction. The row is
    made on the first change, so an older store needs no migration."""
    db.run("INSERT INTO app_state (name, value) VALUES ($1, '1') ON CONFLICT (name) DO UPDATE "
           "SET value = CAST(CAST(app_state.value AS BIGINT) + 1 AS TEXT)", (f"changes.{kind}",))

# jsonb cannot hold \u0000 and refuses a whole document holding one, though only three date fields are read
# here; the replacement keeps the JSON valid (it rewrites a 6-character escape into another) and the dates
# intact. Neither database reads a backslash escape in a standard string literal, so this is the same on both.
_DOCUMENT = r"replace(data, '\u0000', '\ufffd')"


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
    first_picked: str | None = None
    """The item's first Hugging Face pick day (any range), if it was ever picked: a pick's age counts from it."""
    page_rank: int | None = None
    """Its place on a captured listing page (a Daily Papers capture) that put it in the range: a capture's
    order is its ranking, so it orders items the score cannot tell apart (the best place when several)."""


class DailyStorage:
    """The Daily Papers calendar and its signals: dates, local upvotes and submissions."""

    db: Database

    # -- the calendar -------------------------------------------------------------------------

    def refresh_daily_dates(self) -> int:
        """Add the calendar dates of source records stored since the last refresh; return how many.

        Ingest adds them batch by batch (``add_daily_dates``) inside its own transaction; this catches up what
        another writer or an older paperfeed left. Cheap when nothing is new.
        """
        db = self.db
        top = db.value("SELECT coalesce(max(id), 0) FROM source_records")
        if top <= int(db.value("SELECT value FROM app_state WHERE name = $1", (_CURSOR,), 0)):
            return 0  # nothing new: no transaction, no lock
        # The scan is by id: source records are inserted only under the writers' lock, one transaction after
        # another, so no record with an id below a committed one can commit later. Under that lock a second
        # refresher waits for the first to commit, then reads its cursor and finds less or nothing to do.
        with db.transaction(lock_writers=True):
            return self.add_daily_dates()

    def add_daily_dates(self, dated: Sequence[tuple[int, int, str, str]] = (), first_dated: int | None = None) -> int:
        """Inside a write transaction: add the calendar dates of the source records above the cursor; return how
        many. Ingest calls it after each batch's records with their dates made as they were prepared (``dated``:
        record id, item id, kind, day, for the records from ``first_dated`` on, whose ids it took); records
        below those that no one dated (an older paperfeed's) are dated here from their stored JSON."""
        db = self.db
        cursor = int(db.value("SELECT value FROM app_state WHERE name = $1", (_CURSOR,), 0))
        top = db.value("SELECT coalesce(max(id), 0) FROM source_records")
        if top <= cursor and not dated:
            return 0
        scan_to = top if first_dated is None else first_dated - 1
        added = self._date_stored_records(cursor, scan_to) if scan_to > cursor else 0
        if dated:
            # Plain inserts: the records are new, and an upsert's foreign-key checks cost about three times an
            # insert's (``storage.people``).
            db.run_many("INSERT INTO daily_dates (record_id, item_id, kind, day) VALUES ($1, $2, $3, $4)", dated)
            added += len(dated)
        db.run("INSERT INTO app_state (name, value) VALUES ($1, $2) "
               "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (_CURSOR, str(max(top, cursor))))
        return added

    def _date_stored_records(self, after: int, up_to: int) -> int:
        """Add the calendar dates of the stored source records with ids in (``after``, ``up_to``], read from their
        JSON by the rule of ``prepare.calendar_date``; return how many."""
        d = self.db.dialect
        # One calendar day per source record: the Hugging Face pick day wins over a listing day, which wins
        # over the record's own date. BibTeX records are a user's library, not a public signal: left out.
        # MATERIALIZED: each record's three dates are read from its JSON once. As a plain subquery the planner
        # put the reads in place of each use (the CASE, the coalesce, the WHERE): up to eight parses of the
        # record's JSON instead of three: 14.4 against 4.4–6.1 µs a Kaggle record (bench/ingest_parts.py).
        return self.db.run(
            "INSERT INTO daily_dates (record_id, item_id, kind, day) "
            f"WITH dated AS MATERIALIZED (SELECT id, item_id, {d.json_text(_DOCUMENT, 'extra', 'picked_date')} AS picked, "
            f"{d.json_text(_DOCUMENT, 'extra', 'listing_date')} AS listed, "
            f"{d.json_text(_DOCUMENT, 'published')} AS published "
            "FROM source_records WHERE id > $1 AND id <= $2 AND NOT deleted AND format <> 'bibtex') "
            "SELECT id, item_id, CASE WHEN picked IS NOT NULL THEN 'picked' "
            "WHEN listed IS NOT NULL THEN 'announced' ELSE 'published' END, coalesce(picked, listed, published) "
            "FROM dated WHERE coalesce(picked, listed, published) IS NOT NULL "
            "ON CONFLICT (record_id) DO NOTHING", (after, up_to))

    def daily_signals(self, start: str, end: str) -> list[DailySignals]:
        """Signals of every item with a calendar day or a submission in ``start``..``end`` (inclusive)."""
        db, d = self.db, self.db.dialect
        signals: dict[int, DailySignals] = {}
        # In the day index's order (day, item, record), so date_kinds come out the same on both backends.
        for item_id, day, kind in db.rows(
                "SELECT d.item_id, d.day, d.kind FROM daily_dates d JOIN items i ON i.id = d.item_id "
                "WHERE d.day BETWEEN $1 AND $2 AND i.kind = 'paper' AND NOT i.withdrawn "
                "ORDER BY d.day, d.item_id, d.record_id", (start, end)):
            entry = signals.setdefault(item_id, DailySignals(item_id, first_day=day))
            if day not in entry.days:
                entry.days.append(day)
            if kind not in entry.date_kinds:
                entry.date_kinds.append(kind)
        for item_id, day in db.rows(
                "SELECT item_id, day FROM submissions WHERE day BETWEEN $1 AND $2 ORDER BY day, item_id",
                (start, end)):
            entry = signals.setdefault(item_id, DailySignals(item_id, first_day=day))
            entry.submitted = True
            if day not in entry.days:
                entry.days.append(day)
            if "submitted" not in entry.date_kinds:
                entry.date_kinds.append("submitted")
        if not signals:
            return []
        ids = d.array(signals)
        for item_id, upvotes in db.rows(f"SELECT id, upvotes FROM items WHERE id {d.in_array(1)}", (ids,)):
            signals[item_id].hf_upvotes = upvotes
        for item_id, first in db.rows(
                f"SELECT item_id, min(day) FROM (SELECT item_id, day FROM daily_dates WHERE item_id {d.in_array(1)} "
                f"UNION ALL SELECT item_id, day FROM submissions WHERE item_id {d.in_array(1)}) AS days "
                "GROUP BY item_id", (ids,)):
            signals[item_id].first_day = first
        for item_id, first in db.rows(
                f"SELECT item_id, min(day) FROM daily_dates WHERE item_id {d.in_array(1)} AND kind = 'picked' "
                "GROUP BY item_id", (ids,)):
            signals[item_id].first_picked = first
        for item_id, count in db.rows(
                "SELECT item_id, count(DISTINCT coalesce(label, format)) FROM source_records "
                f"WHERE item_id {d.in_array(1)} AND format <> 'bibtex' AND NOT deleted GROUP BY item_id", (ids,)):
            signals[item_id].sources = count
        for item_id, count in self.local_upvotes(list(signals)).items():
            signals[item_id].local_upvotes = count
        rank = d.json_text(_DOCUMENT, "extra", "page_rank")
        for item_id, place in db.rows(
                f"SELECT d.item_id, min(CAST({rank} AS INTEGER)) FROM daily_dates d "
                "JOIN source_records s ON s.id = d.record_id WHERE d.day BETWEEN $1 AND $2 "
                f"AND s.format = 'capture' AND d.item_id {d.in_array(3)} GROUP BY d.item_id", (start, end, ids)):
            if place is not None:
                signals[item_id].page_rank = int(place)
        for entry in signals.values():
            entry.days.sort()
        return list(signals.values())

    def daily_neighbours(self, day: str) -> tuple[str | None, str | None]:
        """The nearest earlier and later calendar days that have items."""
        before = self.db.value(
            "SELECT max(day) FROM (SELECT max(day) AS day FROM daily_dates WHERE day < $1 "
            "UNION ALL SELECT max(day) FROM submissions WHERE day < $1) AS days", (day,))
        after = self.db.value(
            "SELECT min(day) FROM (SELECT min(day) AS day FROM daily_dates WHERE day > $1 "
            "UNION ALL SELECT min(day) FROM submissions WHERE day > $1) AS days", (day,))
        return before, after

    def latest_daily_day(self, until: str | None = None) -> str | None:
        """The latest calendar day with items (on or before ``until`` when given)."""
        return self.db.value(
            "SELECT max(day) FROM (SELECT max(day) AS day FROM daily_dates WHERE day <= $1 "
            "UNION ALL SELECT max(day) FROM submissions WHERE day <= $1) AS days", (until or "9999-12-31",))

    def recent_item_ids(self, start: str, end: str, limit: int | None = None) -> list[int]:
        """Papers with a calendar day in ``start``..``end``, newest day first."""
        query = ("SELECT d.item_id FROM daily_dates d JOIN items i ON i.id = d.item_id "
                 "WHERE d.day BETWEEN $1 AND $2 AND i.kind = 'paper' AND NOT i.withdrawn "
                 "GROUP BY d.item_id ORDER BY max(d.day) DESC, d.item_id DESC")
        if limit:
            return self.db.column(query + " LIMIT $3", (start, end, limit))
        return self.db.column(query, (start, end))

    def sample_item_ids(self, count: int, seed: int) -> list[int]:
        """A reproducible sample of up to ``count`` paper ids (negatives for recommendations)."""
        # A multiplicative hash of the id orders items pseudo-randomly but the same way every time (and the
        # same way on both backends: both compute in 64-bit integers).
        return self.db.column(
            "SELECT id FROM items WHERE kind = 'paper' "
            "ORDER BY (id * 2654435761 + CAST($1 AS BIGINT)) % 4294967296 LIMIT $2", (seed, count))

    # -- votes and submissions ----------------------------------------------------------------

    def set_vote(self, user_id: int, item_id: int, up: bool) -> bool:
        """Add (``up``) or withdraw a user's upvote; False when that changed nothing. A change moves the daily
        counter (``count_shared_change``) in the same transaction."""
        with self.db.transaction():
            if up:
                changed = self.db.run("INSERT INTO votes (user_id, item_id, voted_at) VALUES ($1, $2, $3) "
                                      "ON CONFLICT (item_id, user_id) DO NOTHING", (user_id, item_id, utc_now())) > 0
            else:
                changed = self.db.run("DELETE FROM votes WHERE user_id = $1 AND item_id = $2", (user_id, item_id)) > 0
            if changed:
                count_shared_change(self.db, "daily")
        return changed

    def local_upvotes(self, item_ids: list[int]) -> dict[int, int]:
        """Local upvote counts of items that have any."""
        d = self.db.dialect
        return dict(self.db.rows(f"SELECT item_id, count(*) FROM votes WHERE item_id {d.in_array(1)} "
                                 "GROUP BY item_id", (d.array(item_ids),)))

    def user_votes(self, user_id: int) -> list[int]:
        """Items a user has upvoted, the latest vote first."""
        return self.db.column("SELECT item_id FROM votes WHERE user_id = $1 ORDER BY voted_at DESC, item_id",
                              (user_id,))

    def add_submission(self, item_id: int, day: str, user_id: int | None) -> bool:
        """Put an item on a day's list; False when it was already submitted for that day."""
        return self.db.run("INSERT INTO submissions (item_id, day, user_id, submitted_at) VALUES ($1, $2, $3, $4) "
                           "ON CONFLICT (item_id, day) DO NOTHING", (item_id, day, user_id, utc_now())) > 0
