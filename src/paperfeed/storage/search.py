"""What search reads through: a change log to keep indexes in step, item documents, vectors.

Written once for both backends on ``self.db`` (``storage.sql``). Every item insert, update, delete or retag
lands in the ``search_changes`` log (kept by triggers, see migration 0004; on SQLite inserts are logged by
``log_inserted_items`` instead, migration 0018): one row per item, its sequence
number rising with each change, so the latest number is the store's version.

On PostgreSQL a sequence hands out numbers in the order transactions ask, not the order they commit, so an
indexer reading "changes after N" could pass a number a slower transaction commits later and never see it.
So the log is written by deferred constraint triggers, which run while their transaction commits, under a
transaction-scoped advisory lock: a transaction numbers its changes only once the previous one holding the
lock has committed (the lock is released after the commit is visible), so numbers are in commit order and
a reader that sees number N sees every number below it that will ever exist. Only the commit tails of
writers are serialised (writing their log rows), not whole transactions.

A store that keeps its keyword index itself (PostgreSQL full text, ``postgres_fulltext.py``) is a
``FullTextStorage``; its queries and batches are the ``FullTextQuery`` and ``FullTextBatch`` here.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .daily import SHARED_CHANGES
from .sql import Database
from .topics import TAGGER


@dataclass(slots=True)
class SearchDocument:
    """What the search indexes (and snippets, listings, pages) need of one item."""

    id: int
    kind: str
    title: str
    abstract: str
    published: str | None
    arxiv_id: str | None = None
    url: str | None = None
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    """Topic slugs."""
    sources: list[str] = field(default_factory=list)
    """Source formats and labels, for ``source:``."""


class SearchStorage:
    """The search change log, item documents and vectors; every item insert, update, delete or retag lands in
    the change log."""

    db: Database
    path: Path
    """The store's file; a store without one (PostgreSQL) overrides ``default_index_directory``."""

    # -- change log -------------------------------------------------------------------------

    def search_changes(self, after: int, limit: int) -> list[tuple[int, int]]:
        """(sequence, item id) of items changed after sequence ``after``, oldest first, at most ``limit``."""
        return self.db.rows("SELECT seq, item_id FROM search_changes WHERE seq > $1 ORDER BY seq LIMIT $2",
                            (after, limit))

    def log_inserted_items(self, item_ids: list[int]) -> None:
        """Log items just inserted, in the transaction that inserted them, in the order given: every writer that
        inserts into ``items`` calls this (ingest's batch write, ``paperfeed copy``). PostgreSQL's deferred
        trigger logs them at commit (module docstring), so nothing is done there; SQLite logs them in one
        statement (the dialect's), as a trigger per row was most of the cost of inserting an item
        (migration 0018). Updates, deletes and retags stay logged by triggers on both backends."""
        statement = self.db.dialect.log_inserted_items
        if statement is not None and item_ids:
            self.db.run(statement, (self.db.dialect.array(item_ids),))

    def store_version(self) -> int:
        """The sequence number of the latest change (0 when there is none): it moves whenever an item changes,
        so caches of what the store holds key on it."""
        return self.db.value("SELECT coalesce(max(seq), 0) FROM search_changes")

    def shared_change_counts(self) -> dict[str, int]:
        """The counter of each kind of change the search change log does not see (``daily.SHARED_CHANGES``:
        votes, comments), 0 before the first; one query, for caches that poll it."""
        d = self.db.dialect
        counts = dict.fromkeys(SHARED_CHANGES, 0)
        counts.update((name.removeprefix("changes."), int(value)) for name, value in self.db.rows(
            f"SELECT name, value FROM app_state WHERE name {d.in_array(1)}",
            (d.array([f"changes.{kind}" for kind in SHARED_CHANGES]),)))
        return counts

    def pending_search_changes(self, after: int) -> int:
        """How many items changed after sequence ``after``."""
        return self.db.value("SELECT count(*) FROM search_changes WHERE seq > $1", (after,))

    # -- documents and vectors ----------------------------------------------------------------

    def item_documents(self, item_ids: list[int], facets: bool = True) -> dict[int, SearchDocument]:
        """Documents of the items that exist among ``item_ids`` (a missing id was deleted). ``facets=False``
        leaves out categories, topics and sources (what filters and indexes need, not a result's card)."""
        db, d = self.db, self.db.dialect
        documents = {
            row[0]: SearchDocument(id=row[0], kind=row[1], title=row[2], abstract=row[3], published=row[4],
                                   arxiv_id=row[5], url=row[6])
            for row in db.rows(
                f"SELECT id, kind, title, abstract, published, arxiv_id, url FROM items WHERE id {d.in_array(1)}",
                (d.array(item_ids),))
        }
        if not documents:
            return documents
        ids = d.array(documents)
        for item_id, name in db.rows(
                "SELECT ia.item_id, a.name FROM item_authors ia JOIN authors a ON a.id = ia.author_id "
                f"WHERE ia.item_id {d.in_array(1)} ORDER BY ia.item_id, ia.position", (ids,)):
            documents[item_id].authors.append(name)
        if not facets:
            return documents
        for item_id, category in db.rows(
                f"SELECT item_id, category FROM item_categories WHERE item_id {d.in_array(1)} "
                "ORDER BY item_id, position", (ids,)):
            documents[item_id].categories.append(category)
        for item_id, slug in db.rows(
                # What is filed under the topic (topic pages list the same): gold, or tagged at its cut-off.
                "SELECT DISTINCT it.item_id, t.slug FROM item_topics it JOIN topics t ON t.id = it.topic_id "
                f"WHERE it.item_id {d.in_array(1)} AND (it.assigned_by <> '{TAGGER}' "
                "OR it.confidence >= coalesce(t.cutoff, 0))", (ids,)):
            documents[item_id].topics.append(slug)
        for item_id, source_format, label in db.rows(
                f"SELECT DISTINCT item_id, format, label FROM source_records WHERE item_id {d.in_array(1)}", (ids,)):
            sources = documents[item_id].sources
            for value in (source_format, label):
                if value and value not in sources:
                    sources.append(value)
        return documents

    def item_vectors(self, model: str, item_ids: list[int]) -> dict[int, tuple[str, bytes]]:
        """Stored (text hash, float16 vector bytes) of ``model`` for the given items."""
        d = self.db.dialect
        return {
            item_id: (text_hash, bytes(vector))
            for item_id, text_hash, vector in self.db.rows(
                f"SELECT item_id, text_hash, vector FROM item_vectors WHERE model = $1 AND item_id {d.in_array(2)}",
                (model, d.array(item_ids)))
        }

    def iter_item_vectors(self, model: str, batch_size: int = 10000) -> Iterator[list[tuple[int, bytes]]]:
        """Every stored vector of ``model`` as batches of (item id, float16 vector bytes), by item id."""
        last = 0
        while True:
            rows = [(item_id, bytes(vector)) for item_id, vector in self.db.rows(
                "SELECT item_id, vector FROM item_vectors WHERE model = $1 AND item_id > $2 ORDER BY item_id LIMIT $3",
                (model, last, batch_size))]
            if not rows:
                return
            yield rows
            last = rows[-1][0]

    def save_item_vectors(self, model: str, rows: list[tuple[int, str, bytes]]) -> None:
        """Store (item id, text hash, float16 vector bytes) rows of ``model`` in one transaction."""
        if not rows:
            return
        db, d = self.db, self.db.dialect
        with db.transaction():
            # An item deleted since its text was read has no row to hang a vector on: skip it. The items kept
            # are locked, so none can be deleted between this check and the insert's foreign key check.
            present = set(db.column(f"SELECT id FROM items WHERE id {d.in_array(1)}{d.key_share}",
                                    (d.array(row[0] for row in rows),)))
            db.run_many(
                "INSERT INTO item_vectors (item_id, model, text_hash, vector) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (model, item_id) DO UPDATE SET text_hash = excluded.text_hash, vector = excluded.vector",
                [(item_id, model, text_hash, vector) for item_id, text_hash, vector in rows if item_id in present])

    def default_index_directory(self) -> Path:
        """Where this store's local search index files live unless PAPERFEED_INDEX_DIR says otherwise: beside
        the store's file."""
        return Path(f"{self.path}.search")


# -- full text kept by the store itself --------------------------------------------------------------


@dataclass(slots=True)
class FullTextQuery:
    """A keyword query as a database full-text index runs it (built by ``search/fulltext_pg.py``).

    Text parts must all match (any may, with ``any_word``); each filter matches any of its values, and all
    filters given must match. Without text parts, items passing the filters come newest first.
    """

    words: list[str] = field(default_factory=list)
    """Typed words and quoted phrases, each matched as a phrase of its stems."""
    prefixes: list[str] = field(default_factory=list)
    """Words matched as prefixes of indexed stems."""
    excluded: list[str] = field(default_factory=list)
    any_word: bool = False
    authors: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    """Lowercase."""
    topics: list[str] = field(default_factory=list)
    """Slugs."""
    kinds: list[str] = field(default_factory=list)
    after: str | None = None
    before: str | None = None

    @property
    def has_filters(self) -> bool:
        return bool(self.authors or self.sources or self.categories or self.topics or self.kinds
                    or self.after or self.before)


@dataclass(slots=True)
class FullTextBatch:
    """What one ``apply_fulltext_changes`` did."""

    changes: int
    indexed: int
    deleted: int
    seq: int
    """The change log sequence the full text has now applied."""


class FullTextStorage(abc.ABC):
    """A store that keeps its keyword index itself (PostgreSQL full text) instead of in a local directory."""

    @abc.abstractmethod
    def fulltext_progress(self) -> int:
        """The change log sequence the full text has applied (shared by every process using the store)."""

    @abc.abstractmethod
    def apply_fulltext_changes(self, limit: int) -> FullTextBatch:
        """Apply the next ``limit`` changes after ``fulltext_progress()`` and record the progress, atomically."""

    @abc.abstractmethod
    def reset_fulltext(self) -> None:
        """Start applying the change log from the beginning (a rebuild); the rows stay searchable meanwhile."""

    @abc.abstractmethod
    def fulltext_count(self) -> int:
        """Number of items in the full-text index."""

    @abc.abstractmethod
    def fulltext_search(self, query: FullTextQuery, limit: int, offset: int = 0) -> list[tuple[int, float]]:
        """(item id, score) of the best ``limit`` matches after ``offset``, best first."""

    @abc.abstractmethod
    def fulltext_matches(self, query: FullTextQuery) -> int:
        """How many items match ``query`` in all (the total a results page states)."""
