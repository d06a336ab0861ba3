"""The ingest transaction's reads and writes: what an ingest batch changes arrives as one ``BatchWrite``, and
``IngestSession`` is the only writer of items, source records, identifiers and block keys; joining two items
(``absorb``) moves every table's rows (``ITEM_TABLES``). Written once for both backends on ``self.db``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from ..merge import ItemFields, ItemSummary, summarize
from ..normalize import author_key, utc_now
from .items import slugify
from .sql import Database

if TYPE_CHECKING:
    from .items import ItemStorage


IDS_CACHED = 200_000
"""Author (and topic) name -> id entries kept between batches; past it the oldest half goes (a miss re-reads).
About 30 MB when full. At 20,000 a year of daily listings (140,000 authors) missed on a third of its names, and
each miss costs an insert attempt and a read."""

BULK_LOAD_MIN_ITEMS = 50_000
"""A file whose new items reach this many, and outnumber the items the store held before it (judged by the
highest item id), is a bulk load into a small store: from then on the indexes that ingest never reads
(``ItemStorage._drop_deferred_indexes``) are dropped and built once at the file's end, inside the file's own
transaction. Below it an index build (a sort of the whole table) costs more than the inserts it saves."""


ITEM_TABLES = {
    "source_records": "moved (reasons wrapped)",
    "identifiers": "moved",
    "block_keys": "joined",
    "daily_dates": "moved",
    "item_topics": "source topics resolved again; others joined",
    "item_authors": "resolved again from the joined records",
    "item_categories": "resolved again from the joined records",
    "library": "joined (saved wins, the earlier date stays)",
    "library_tags": "joined",
    "votes": "joined",
    "submissions": "joined (the first submitter of a day stays)",
    "record_pins": "moved",
    "items_apart": "moved (a pair that becomes one item goes)",
    "item_tag_state": "dropped: the tagger tags the changed item again",
    "predicted_categories": "dropped: the tagger predicts again",
    "item_vectors": "dropped: the indexer embeds the changed item again",
    "item_fulltext": "dropped: the indexer indexes the changed item again",
    "search_changes": "the change log: the triggers log both items",
    "merge_decisions": "history: kept with the ids as they were",
    "item_people": "dropped: the after-ingest author refresh decides the joined item's people again",
    "author_decision_slots": "moved (a person's split or merge of people keeps naming the same papers)",
    "comments": "moved (the thread joins the surviving item; a split leaves comments on the item split from)",
    "item_tldrs": "the kept item's stays, stale (never shown) if its abstract changed, until the after-ingest "
                  "TL;DR step makes it again; the joined item's goes",
}
"""Every table with an item id, and what ``IngestSession.absorb`` does with the rows of an item joined into
another (``tests/test_merge_identity.py`` checks this list against the database's catalog)."""


def _trim(cache: dict, limit: int = IDS_CACHED) -> None:
    """Drop the oldest half of an id cache once it holds more than ``limit``, so a long sync's memory stays flat."""
    if len(cache) > limit:
        for name in list(itertools.islice(cache, len(cache) - limit // 2)):
            del cache[name]


def _text(value: str | None) -> str | None:
    """Drop NUL: PostgreSQL text cannot hold it, and no real record needs it (the same on both backends)."""
    return value.replace("\x00", "") if value and "\x00" in value else value


@dataclass(slots=True)
class SourceRecordRow:
    """A source record to store: the raw record as received plus where and when it was seen."""

    item_id: int
    fingerprint: str
    format: str
    record_id: str
    origin: str
    label: str | None
    seen_at: str
    deleted: bool
    raw: str
    data_json: str
    """``merge.record_data`` as JSON."""
    reason: dict[str, Any] | None = None
    """Why the record is in its item (see ``ingest``); stored as JSON."""
    calendar: tuple[str, str] | None = None
    """(kind, day) on the Daily Papers calendar (``prepare.calendar_date``), written with the record; None: none."""


@dataclass(slots=True)
class BatchWrite:
    """Everything one ingest batch changes, written at once by ``IngestSession.write``."""

    new_item_ids: list[int] = field(default_factory=list)
    source_records: list[SourceRecordRow] = field(default_factory=list)
    identifiers: list[tuple[str, str, int]] = field(default_factory=list)
    block_keys: list[tuple[int, int]] = field(default_factory=list)
    items: dict[int, ItemFields] = field(default_factory=dict)
    """Resolved fields of every item the batch created or touched."""
    absorbed: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)
    """(kept item, stored item joined into it, note): a bridge; ``IngestSession.absorb`` moves everything of the
    second item to the first before the batch's records are written. The note wraps the moved records' reasons."""


class IngestSession:
    """Reads and writes of one ingest transaction (one file or archive member).

    Lookups see the transaction's own earlier writes. Leaving the ``Store.ingest_session``
    block with an exception rolls every write of the session back.
    """

    def __init__(self, store: "ItemStorage") -> None:
        self.store = store
        self.db: Database = store.db
        self._new_items = 0
        self._items_before: int | None = None  # the highest item id before this session's first new item
        self._deferred: list[str] | None = None  # statements that build again the indexes dropped for this session

    def _defer_indexes_if_bulk(self, new_item_ids: list[int]) -> None:
        """Drop the indexes ingest never reads once this session is a bulk load into a small store
        (``BULK_LOAD_MIN_ITEMS``); ``finish`` builds them again before the transaction ends. SQLite's DDL is
        transactional: a failed file, a rollback or kill -9 leaves every index as it was."""
        if not new_item_ids or self._deferred is not None:
            return
        if self._items_before is None:
            self._items_before = min(new_item_ids) - 1
        self._new_items += len(new_item_ids)
        if self._new_items >= max(BULK_LOAD_MIN_ITEMS, self._items_before):
            self._deferred = self.store._drop_deferred_indexes()

    def finish(self) -> None:
        """End of the session's writes: build the indexes dropped for a bulk load, each in one pass."""
        statements, self._deferred = self._deferred or [], []
        if statements:
            self.store._build_deferred_indexes(statements)

    def known_fingerprints(self, fingerprints: list[str]) -> set[str]:
        """Those of ``fingerprints`` already stored."""
        d = self.db.dialect
        return set(self.db.column(f"SELECT fingerprint FROM source_records WHERE fingerprint {d.in_array(1)}",
                                  (d.array(fingerprints),)))

    def items_by_fingerprint(self, fingerprints: list[str]) -> dict[str, int]:
        """Map those of ``fingerprints`` already stored to the items their records belong to."""
        d = self.db.dialect
        return dict(self.db.rows(f"SELECT fingerprint, item_id FROM source_records WHERE fingerprint {d.in_array(1)}",
                                 (d.array(fingerprints),)))

    def items_by_identifier(self, identifiers: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Map (scheme, value) identifiers to the items holding them."""
        d = self.db.dialect
        by_scheme: dict[str, list[str]] = {}
        for scheme, value in identifiers:
            by_scheme.setdefault(scheme, []).append(value)
        found: dict[tuple[str, str], int] = {}
        for scheme, values in by_scheme.items():
            for value, item_id in self.db.rows(
                    f"SELECT value, item_id FROM identifiers WHERE scheme = $1 AND value {d.in_array(2)}",
                    (scheme, d.array(values))):
                found[(scheme, value)] = item_id
        return found

    def items_by_block_key(self, keys: list[int], without_arxiv_id: bool = False) -> dict[int, list[int]]:
        """Map blocking keys to the items holding them (only items with no arXiv id, if asked)."""
        d = self.db.dialect
        if without_arxiv_id:
            rows = self._loose_holders(keys)
        else:
            rows = self.db.rows(f"SELECT key, item_id FROM block_keys WHERE key {d.in_array(1)}", (d.array(keys),))
        found: dict[int, list[int]] = {}
        for key, item_id in rows:
            found.setdefault(key, []).append(item_id)
        return found

    def _loose_holders(self, keys: list[int]) -> list[tuple[int, int]]:
        """(key, item) of the items without an arXiv id that hold one of ``keys``: what an arXiv record is
        compared with (see ``ingest._merge_batch``).

        Most stores hold few such items beside many arXiv ones, and a common title phrase is a key of thousands
        of arXiv items: reading every holder of each key, then keeping the loose ones, took 43 of the 415 s of a
        2.7-million-line load into an empty store (docs/benchmarks.md, "Ingest", session 14). So the loose items are
        counted first, up to one more than there are keys: none, nothing to read; fewer than the keys, their
        own keys are read (through the item index of block keys) and the asked ones kept; else each key's holders,
        then the arxiv_id index's NULL entries among them (a covering search, not a join reading each holder's
        row, a random page of the largest table)."""
        if not keys:
            return []
        d = self.db.dialect
        loose = self.db.value("SELECT count(*) FROM (SELECT 1 FROM items WHERE arxiv_id IS NULL LIMIT $1) AS l",
                              (len(keys) + 1,))
        if not loose:
            return []
        if loose <= len(keys):
            # CROSS JOIN: SQLite takes the tables in the order written (the loose items outside; PostgreSQL plans
            # it as the inner join it is). ``+b.key``: each loose item's few keys are tested against the list;
            # as an index term SQLite sought every listed key in every loose item's part of the index.
            return self.db.rows(
                "SELECT b.key, b.item_id FROM items AS i CROSS JOIN block_keys AS b WHERE i.arxiv_id IS NULL "
                f"AND b.item_id = i.id AND +b.key {d.in_array(1)}", (d.array(keys),))
        rows = self.db.rows(f"SELECT key, item_id FROM block_keys WHERE key {d.in_array(1)}", (d.array(keys),))
        if not rows:
            return rows
        wanted = set(self.db.column(f"SELECT id FROM items WHERE arxiv_id IS NULL AND id {d.in_array(1)}",
                                    (d.array(sorted({item_id for _, item_id in rows})),)))
        return [row for row in rows if row[1] in wanted]

    def summaries(self, item_ids: list[int]) -> dict[int, ItemSummary]:
        """Matcher summaries (title, surnames, year, ids, origins) of stored items."""
        d, ids = self.db.dialect, self.db.dialect.array(item_ids)
        authors: dict[int, list[str]] = {}
        for item_id, name in self.db.rows(
                "SELECT ia.item_id, a.name FROM item_authors ia JOIN authors a ON a.id = ia.author_id "
                f"WHERE ia.item_id {d.in_array(1)} ORDER BY ia.item_id, ia.position", (ids,)):
            authors.setdefault(item_id, []).append(name)
        result: dict[int, ItemSummary] = {}
        for item_id, title, year, arxiv, doi_value in self.db.rows(
                f"SELECT id, title, year, arxiv_id, doi FROM items WHERE id {d.in_array(1)}", (ids,)):
            result[item_id] = summarize(item_id, title, authors.get(item_id, ()), year, arxiv, doi_value)
        for item_id, origin in self.db.rows(
                f"SELECT DISTINCT item_id, origin FROM source_records WHERE item_id {d.in_array(1)}", (ids,)):
            result[item_id].origins.add(origin)
        return result

    def record_data(self, item_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """The stored normalized data of each item's source records, in the order seen."""
        d = self.db.dialect
        result: dict[int, list[dict[str, Any]]] = {}
        for item_id, data in self.db.rows(
                f"SELECT item_id, data FROM source_records WHERE item_id {d.in_array(1)} ORDER BY id",
                (d.array(item_ids),)):
            result.setdefault(item_id, []).append(orjson.loads(data))
        return result

    def abstracts(self, item_ids: list[int]) -> dict[int, str]:
        """The current abstract of each stored item."""
        d = self.db.dialect
        return dict(self.db.rows(f"SELECT id, abstract FROM items WHERE id {d.in_array(1)}", (d.array(item_ids),)))

    def allocate_item_ids(self, count: int) -> list[int]:
        """Reserve ``count`` new item ids."""
        return self.store._allocate_item_ids(count)

    # -- identity: what placements check, and what a bridge, a split or a merge changes ------------------

    def identifier_rows(self, item_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
        """The (scheme, value) identifiers each of ``item_ids`` holds."""
        d = self.db.dialect
        found: dict[int, list[tuple[str, str]]] = {}
        for item_id, scheme, value in self.db.rows(
                f"SELECT item_id, scheme, value FROM identifiers WHERE item_id {d.in_array(1)}",
                (d.array(item_ids),)):
            found.setdefault(item_id, []).append((scheme, value))
        return found

    def has_pins(self) -> bool:
        """Whether a person ever moved a record (then each batch looks its records' pins up)."""
        return self.db.row("SELECT 1 FROM record_pins LIMIT 1") is not None

    def pinned_items(self, keys: list[str]) -> dict[str, tuple[int, int]]:
        """Map those of ``keys`` (``merge.pin_key``) a person's decision placed to (item id, decision id)."""
        d = self.db.dialect
        return {key: (item_id, decision) for key, item_id, decision in self.db.rows(
            f"SELECT key, item_id, decision_id FROM record_pins WHERE key {d.in_array(1)}", (d.array(keys),))}

    def apart(self, a: int, b: int) -> int | None:
        """The decision that split ``a`` and ``b`` apart, if a person did."""
        return self.db.value("SELECT decision_id FROM items_apart WHERE (item_id = $1 AND other_id = $2) "
                             "OR (item_id = $2 AND other_id = $1)", (a, b))

    def record_data_in_order(self, item_ids: list[int]) -> list[dict[str, Any]]:
        """The stored data of every source record of ``item_ids``, in the order seen (one merged item's)."""
        d = self.db.dialect
        return [orjson.loads(data) for data in self.db.column(
            f"SELECT data FROM source_records WHERE item_id {d.in_array(1)} ORDER BY id", (d.array(item_ids),))]

    def source_rows(self, item_id: int) -> list[dict[str, Any]]:
        """An item's source records with their row id, in the order seen: what a split chooses among."""
        return [{"id": row[0], "fingerprint": row[1], "format": row[2], "record_id": row[3], "label": row[4],
                 "data": orjson.loads(row[5]), "reason": orjson.loads(row[6]) if row[6] else None, "raw": row[7]}
                for row in self.db.rows(
                    "SELECT id, fingerprint, format, record_id, label, data, reason, raw FROM source_records "
                    "WHERE item_id = $1 ORDER BY id", (item_id,))]

    def absorb(self, keep: int, gone: int, note: dict[str, Any]) -> None:
        """Move everything of item ``gone`` to item ``keep`` and delete ``gone`` (a bridge or a person's merge).

        Each table with an item id (``ITEM_TABLES`` says how) follows: source records (their reasons wrapped in
        ``note``, the old reason kept under ``before``), identifiers, keys, the calendar, library entries with
        their tags, votes, submissions, comments, non-source topics, pins and split decisions. What is derived from the
        fields (authors, categories, source topics) is rewritten with ``keep``'s new fields by ``write``; what
        the pipeline derives (tagger state, predicted categories, vectors, full text) goes with ``gone`` and
        is made again for ``keep``, whose change the search log records.
        """
        db = self.db
        moved = [(orjson.dumps({**note, "from": gone, "before": orjson.loads(reason) if reason else None}).decode(),
                  record_id) for record_id, reason in db.rows(
                      "SELECT id, reason FROM source_records WHERE item_id = $1", (gone,))]
        db.run_many("UPDATE source_records SET reason = $1 WHERE id = $2", moved)
        db.run("UPDATE source_records SET item_id = $1 WHERE item_id = $2", (keep, gone))
        db.run("UPDATE identifiers SET item_id = $1 WHERE item_id = $2", (keep, gone))
        db.run("INSERT INTO block_keys (key, item_id) SELECT key, $1 FROM block_keys WHERE item_id = $2 "
               "ON CONFLICT DO NOTHING", (keep, gone))
        db.run("UPDATE daily_dates SET item_id = $1 WHERE item_id = $2", (keep, gone))
        db.run("INSERT INTO item_topics (item_id, topic_id, assigned_by, confidence) "
               "SELECT $1, topic_id, assigned_by, confidence FROM item_topics WHERE item_id = $2 "
               "AND assigned_by <> 'source' ON CONFLICT DO NOTHING", (keep, gone))
        # A library entry: saved wins over not relevant, the earlier date stays; tags join.
        db.run("UPDATE library SET state = 'saved' WHERE item_id = $1 AND state = 'not_relevant' AND user_id IN "
               "(SELECT user_id FROM library WHERE item_id = $2 AND state = 'saved')", (keep, gone))
        db.run("UPDATE library SET added_at = (SELECT g.added_at FROM library g WHERE g.item_id = $2 "
               "AND g.user_id = library.user_id) WHERE item_id = $1 AND EXISTS (SELECT 1 FROM library g "
               "WHERE g.item_id = $2 AND g.user_id = library.user_id AND g.added_at < library.added_at)", (keep, gone))
        db.run("INSERT INTO library (user_id, item_id, state, added_at) SELECT user_id, $1, state, added_at "
               "FROM library WHERE item_id = $2 ON CONFLICT DO NOTHING", (keep, gone))
        db.run("INSERT INTO library_tags (user_id, tag, item_id) SELECT user_id, tag, $1 FROM library_tags "
               "WHERE item_id = $2 ON CONFLICT DO NOTHING", (keep, gone))
        db.run("INSERT INTO votes (item_id, user_id, voted_at) SELECT $1, user_id, voted_at FROM votes "
               "WHERE item_id = $2 ON CONFLICT DO NOTHING", (keep, gone))
        db.run("INSERT INTO submissions (item_id, day, user_id, submitted_at) SELECT $1, day, user_id, submitted_at "
               "FROM submissions WHERE item_id = $2 ON CONFLICT DO NOTHING", (keep, gone))
        db.run("UPDATE record_pins SET item_id = $1 WHERE item_id = $2", (keep, gone))
        db.run("UPDATE comments SET item_id = $1 WHERE item_id = $2", (keep, gone))
        db.run("INSERT INTO author_decision_slots (decision_id, side, item_id, author_id) "
               "SELECT decision_id, side, $1, author_id FROM author_decision_slots WHERE item_id = $2 "
               "ON CONFLICT DO NOTHING", (keep, gone))
        pairs = db.rows("SELECT item_id, other_id, decision_id FROM items_apart WHERE item_id = $1 OR other_id = $1",
                        (gone,))
        db.run_many("INSERT INTO items_apart (item_id, other_id, decision_id) VALUES ($1, $2, $3) "
                    "ON CONFLICT DO NOTHING",
                    [(keep if a == gone else a, keep if b == gone else b, decision) for a, b, decision in pairs
                     if (keep if a == gone else a) != (keep if b == gone else b)])
        self.store._delete_item(gone)  # the rest of gone's rows go by ON DELETE CASCADE

    def move_records(self, row_ids: list[int], item_id: int, reasons: list[dict[str, Any]]) -> None:
        """Move source records (by row id) to ``item_id`` with their Daily Papers dates; set their reasons."""
        self.db.run_many("UPDATE source_records SET item_id = $1, reason = $2 WHERE id = $3",
                         [(item_id, orjson.dumps(reason).decode(), row_id) for row_id, reason in zip(row_ids, reasons)])
        d = self.db.dialect
        self.db.run(f"UPDATE daily_dates SET item_id = $1 WHERE record_id {d.in_array(2)}", (item_id, d.array(row_ids)))

    def set_identifiers(self, item_id: int, identifiers: list[tuple[str, str]]) -> None:
        """Give ``identifiers`` to ``item_id`` (taking them from whichever item held them)."""
        self.db.run_many("INSERT INTO identifiers (scheme, value, item_id) VALUES ($1, $2, $3) "
                         "ON CONFLICT (scheme, value) DO UPDATE SET item_id = EXCLUDED.item_id",
                         [(scheme, value, item_id) for scheme, value in identifiers])

    def set_block_keys(self, item_id: int, keys: list[int]) -> None:
        """Replace an item's blocking keys."""
        self.db.run("DELETE FROM block_keys WHERE item_id = $1", (item_id,))
        self.db.run_many("INSERT INTO block_keys (key, item_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                         [(key, item_id) for key in set(keys)])

    def record_decision(self, kind: str, item_id: int, other_id: int, records: list[str], actor: str) -> int:
        """Remember a person's split or merge; return its id."""
        return self.db.value("INSERT INTO merge_decisions (kind, item_id, other_id, records, actor, made_at) "
                             "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                             (kind, item_id, other_id, orjson.dumps(records).decode(), _text(actor), utc_now()))

    def keep_apart(self, item_id: int, other_id: int, decision_id: int, pins: list[str]) -> None:
        """After a split: ingest never joins the two items again, and later versions of the records named by
        ``pins`` (``merge.pin_key``) join ``other_id``."""
        self.db.run("INSERT INTO items_apart (item_id, other_id, decision_id) VALUES ($1, $2, $3) "
                    "ON CONFLICT DO NOTHING", (item_id, other_id, decision_id))
        self.db.run_many("INSERT INTO record_pins (key, item_id, decision_id) VALUES ($1, $2, $3) "
                         "ON CONFLICT (key) DO UPDATE SET item_id = EXCLUDED.item_id, decision_id = EXCLUDED.decision_id",
                         [(key, other_id, decision_id) for key in pins])

    def write(self, batch: BatchWrite) -> None:
        """Store a batch: new items, source records, identifiers, keys, and the touched items' fields."""
        db, d, now = self.db, self.db.dialect, utc_now()
        self.store._wrote_items(len(batch.items))
        self._defer_indexes_if_bulk(batch.new_item_ids)
        new_ids = set(batch.new_item_ids)
        rows = [(fields.kind, _text(fields.title), _text(fields.abstract), fields.arxiv_id, fields.doi,
                 _text(fields.url), fields.published, fields.year, fields.upvotes, bool(fields.withdrawn), now, item_id)
                for item_id, fields in batch.items.items()]
        inserted = [row for row in rows if row[-1] in new_ids]
        db.run_many(
            "INSERT INTO items (kind, title, abstract, arxiv_id, doi, url, published, year, upvotes, withdrawn, "
            "updated_at, id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $11)",
            inserted)
        self.store.log_inserted_items([row[-1] for row in inserted])
        for keep, gone, note in batch.absorbed:
            self.absorb(keep, gone, note)
        db.run_many(
            "UPDATE items SET kind = $1, title = $2, abstract = $3, arxiv_id = $4, doi = $5, url = $6, published = $7, "
            "year = $8, upvotes = $9, withdrawn = $10, updated_at = $11 WHERE id = $12",
            [row for row in rows if row[-1] not in new_ids])
        # A fingerprint stored twice is a bug or a writer outside the lock: the constraint fails the file.
        # The ids are taken here so that each record's calendar day, made with the record, is written beside it.
        record_ids = self.store._allocate_record_ids(len(batch.source_records))
        db.run_many(
            "INSERT INTO source_records (id, item_id, fingerprint, format, record_id, origin, label, seen_at, deleted, "
            "raw, data, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            [(record_id, r.item_id, r.fingerprint, r.format, _text(r.record_id), _text(r.origin), _text(r.label),
              r.seen_at, bool(r.deleted), _text(r.raw), _text(r.data_json),
              _text(orjson.dumps(r.reason).decode()) if r.reason is not None else None)
             for record_id, r in zip(record_ids, batch.source_records)])
        self.store.add_daily_dates([(record_id, r.item_id, *r.calendar) for record_id, r
                                    in zip(record_ids, batch.source_records) if r.calendar is not None],
                                   record_ids[0] if record_ids else None)
        # An item that gains a record and keeps its fields (a re-listing, another source's copy) is not rewritten
        # above, yet its search document lists its sources (the ``source:`` filter): an update that changes no
        # value fires the change log's trigger on both backends. ``updated_at`` stays, so the tagger, which
        # redoes items whose fields changed, leaves it alone.
        gained = sorted({r.item_id for r in batch.source_records} - new_ids - batch.items.keys())
        if gained:
            db.run(f"UPDATE items SET updated_at = updated_at WHERE id {d.in_array(1)}", (d.array(gained),))
        db.run_many("INSERT INTO identifiers (scheme, value, item_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    batch.identifiers)
        # Keyed tables without row ids hold the same rows whatever the insert order; in key order a batch's
        # inserts walk each index once instead of landing on random pages of an index far larger than the cache.
        db.run_many("INSERT INTO block_keys (key, item_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    sorted(batch.block_keys))
        touched = [item_id for item_id in batch.items if item_id not in new_ids]
        if touched:
            ids = d.array(touched)
            db.run(f"DELETE FROM item_authors WHERE item_id {d.in_array(1)}", (ids,))
            db.run(f"DELETE FROM item_categories WHERE item_id {d.in_array(1)}", (ids,))
            db.run(f"DELETE FROM item_topics WHERE assigned_by = 'source' AND item_id {d.in_array(1)}", (ids,))
        author_ids = self._author_ids({name for fields in batch.items.values() for name in fields.authors})
        links = [(author_ids[name], item_id, position) for item_id, fields in batch.items.items()
                 for position, name in enumerate(fields.authors)]
        # In the order of the author index (see block_keys); while a bulk load defers that index, in the table's
        # own (item, position) order, as made (6 rows a Kaggle record, no sort).
        if not self._deferred:
            links.sort()
        db.run_many("INSERT INTO item_authors (author_id, item_id, position) VALUES ($1, $2, $3)", links)
        db.run_many("INSERT INTO item_categories (item_id, position, category) VALUES ($1, $2, $3)",
                    [(item_id, position, category) for item_id, fields in batch.items.items()
                     for position, category in enumerate(fields.categories)])
        topic_names = {name for fields in batch.items.values() for name in fields.topics}
        if topic_names:
            topic_ids = self._topic_ids(topic_names)
            db.run_many("INSERT INTO item_topics (item_id, topic_id, assigned_by, confidence) "
                        "VALUES ($1, $2, 'source', $3)",
                        [(item_id, topic_ids[name], confidence) for item_id, fields in batch.items.items()
                         for name, confidence in fields.topics.items()])

    def _author_ids(self, names: set[str]) -> dict[str, int]:
        cache, d = self.store._author_ids, self.db.dialect
        _trim(cache)  # before filling: the returned map must hold every name of this batch
        # Sorted: ids then follow the names, not the hash seed's set order (which spelling names a merged
        # author on a tie depends on ids).
        missing = sorted(name for name in names if name not in cache)
        if missing:
            cache.update((name, author_id) for author_id, name in self.db.insert_returning(
                "INSERT INTO authors (name, key) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id, name",
                [(name, author_key(name)) for name in missing]))
            # Names stored before and let go by the cache (or by another writer's run) are read back; in a first
            # load there are none (reading every new name back was 0.47 s of the listings' 7.5 s of SQL).
            stored = [name for name in missing if name not in cache]
            if stored:
                cache.update((name, author_id) for author_id, name in self.db.rows(
                    f"SELECT id, name FROM authors WHERE name {d.in_array(1)}", (d.array(stored),)))
        return cache

    def _topic_ids(self, names: set[str]) -> dict[str, int]:
        cache = self.store._topic_ids
        _trim(cache)
        for name in sorted(names - cache.keys()):
            topic_id = self.db.value("SELECT id FROM topics WHERE name = $1", (name,))
            if topic_id is None:
                slug = slugify(name)
                if self.db.row("SELECT 1 FROM topics WHERE slug = $1", (slug,)):
                    slug = f"{slug}-{abs(hash(name)) % 10000}"
                self.db.run("INSERT INTO topics (name, slug) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                            (name, slug))
                topic_id = self.db.value("SELECT id FROM topics WHERE name = $1", (name,))
            cache[name] = topic_id
        return cache
