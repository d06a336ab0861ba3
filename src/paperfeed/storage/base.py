"""The storage interface every backend implements; callers never see SQL."""

from __future__ import annotations

import abc
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ..merge import ItemFields, ItemSummary
from .daily_base import DailyStorage
from .limits import RateLimitStorage
from .search_base import SearchStorage
from .sync_base import SyncStorage
from .topics_base import TopicStorage
from .web_base import WebStorage


class StoreError(RuntimeError):
    """A store that cannot be opened or used (bad URL, unreadable file, newer schema).

    ``usage`` is True when the user asked for something unsupported (a URL scheme), not a fault.
    """

    def __init__(self, message: str, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


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
    data: dict[str, Any]


@dataclass(slots=True)
class BatchWrite:
    """Everything one ingest batch changes, written at once by ``IngestSession.write``."""

    new_item_ids: list[int] = field(default_factory=list)
    source_records: list[SourceRecordRow] = field(default_factory=list)
    identifiers: list[tuple[str, str, int]] = field(default_factory=list)
    block_keys: list[tuple[int, int]] = field(default_factory=list)
    items: dict[int, ItemFields] = field(default_factory=dict)
    """Resolved fields of every item the batch created or touched."""


class IngestSession(abc.ABC):
    """Reads and writes of one ingest transaction (one file or archive member).

    Lookups see the transaction's own earlier writes. Leaving the ``Store.ingest_session``
    block with an exception rolls every write of the session back.
    """

    @abc.abstractmethod
    def known_fingerprints(self, fingerprints: list[str]) -> set[str]:
        """Those of ``fingerprints`` already stored."""

    @abc.abstractmethod
    def items_by_identifier(self, identifiers: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Map (scheme, value) identifiers to the items holding them."""

    @abc.abstractmethod
    def items_by_block_key(self, keys: list[int], without_arxiv_id: bool = False) -> dict[int, list[int]]:
        """Map blocking keys to the items holding them (only items with no arXiv id, if asked)."""

    @abc.abstractmethod
    def summaries(self, item_ids: list[int]) -> dict[int, ItemSummary]:
        """Matcher summaries (title, surnames, year, ids, origins) of stored items."""

    @abc.abstractmethod
    def record_data(self, item_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """The stored normalized data of each item's source records, in the order seen."""

    @abc.abstractmethod
    def abstracts(self, item_ids: list[int]) -> dict[int, str]:
        """The current abstract of each stored item."""

    @abc.abstractmethod
    def allocate_item_ids(self, count: int) -> list[int]:
        """Reserve ``count`` new item ids."""

    @abc.abstractmethod
    def write(self, batch: BatchWrite) -> None:
        """Store a batch: new items, source records, identifiers, keys, and the touched items' fields."""


class Store(SearchStorage, SyncStorage, TopicStorage, WebStorage, DailyStorage, RateLimitStorage, abc.ABC):
    """A paperfeed store: items, their source records, identifiers, authors, categories and topics."""

    url: str
    local_tables: frozenset[str] = frozenset({"schema_migrations"})
    """Tables of one database's own state, never copied to another store (``paperfeed copy``): its migration log,
    a lock's holder, an index the destination rebuilds from the store."""

    @abc.abstractmethod
    def migrate(self) -> list[str]:
        """Apply pending named migrations; return the names applied now."""

    @abc.abstractmethod
    def applied_migrations(self) -> list[str]:
        """Names of the migrations recorded in the database, in order."""

    @abc.abstractmethod
    def known_migrations(self) -> list[str]:
        """Names of every migration this paperfeed has for the backend, in the order applied."""

    def pending_migrations(self) -> list[str]:
        """Names of the known migrations not applied yet; a newer paperfeed's store is a StoreError."""
        applied, known = self.applied_migrations(), self.known_migrations()
        unknown = [name for name in applied if name not in known]
        if unknown:
            raise StoreError(f"{self.url} was written by a newer paperfeed (migrations {', '.join(unknown)})")
        return [name for name in known if name not in applied]

    @abc.abstractmethod
    def ingest_session(self) -> AbstractContextManager[IngestSession]:
        """Open one write transaction for an ingest batch."""

    @abc.abstractmethod
    def write_group(self) -> AbstractContextManager[Callable[[], None]]:
        """Group many ingest sessions into one transaction; yields ``commit_now()`` to commit what is done.

        Sessions inside a group stay atomic one by one (a failed file rolls back alone), but
        share commits: index pages touched by many small files are written once, not per file.
        """

    @abc.abstractmethod
    def item_count(self) -> int:
        """Number of items."""

    def stats(self) -> dict[str, Any]:
        """Counts of items (by kind), source records (by format), authors, categories, topics."""
        rows, first = self.read_rows, lambda sql: self.read_rows(sql)[0]
        return {
            "items": self.item_count(),
            "items_by_kind": dict(rows("SELECT kind, count(*) FROM items GROUP BY kind ORDER BY kind")),
            "source_records": first("SELECT count(*) FROM source_records")[0],
            "source_records_by_format": dict(
                rows("SELECT format, count(*) FROM source_records GROUP BY format ORDER BY format")),
            "merged_items": first(
                "SELECT count(*) FROM (SELECT item_id FROM source_records GROUP BY item_id HAVING count(*) > 1) m"
            )[0],
            "authors": first("SELECT count(*) FROM authors")[0],
            "categories": first("SELECT count(DISTINCT category) FROM item_categories")[0],
            "topics": dict(rows(
                "SELECT t.name, count(DISTINCT it.item_id) FROM topics t JOIN item_topics it ON it.topic_id = t.id "
                "GROUP BY t.name ORDER BY t.name")),
            "published_range": list(first("SELECT min(published), max(published) FROM items")),
            "migrations": self.applied_migrations(),
        }

    @abc.abstractmethod
    def read_rows(self, sql: str) -> list[tuple]:
        """Rows of a parameterless read-only query written in SQL both backends accept."""

    def item(self, item_id: int, with_raw: bool = False) -> dict[str, Any] | None:
        """One item in the export shape, or None; ``with_raw`` adds each source record's raw text."""
        items = self.export_batch([item_id], with_raw)
        return items[0] if items else None

    def find_item(self, reference: str) -> int | None:
        """Resolve an item id, arXiv id or DOI to an item id."""
        from ..normalize import arxiv_id, doi

        reference = reference.strip()
        if reference.isdigit() and int(reference) < 2 ** 63 and self.item_exists(int(reference)):
            return int(reference)
        for scheme, value in (("arxiv", arxiv_id(reference)), ("doi", doi(reference))):
            if value:
                found = self.item_by_identifier(scheme, value)
                if found is not None:
                    return found
        return None

    def iter_items(self, batch_size: int = 1000) -> Iterator[dict[str, Any]]:
        """Every item in the export shape, by id."""
        last = 0
        while True:
            ids = self.item_ids_after(last, batch_size)
            if not ids:
                return
            yield from self.export_batch(ids)
            last = ids[-1]

    @abc.abstractmethod
    def export_batch(self, ids: list[int], with_raw: bool = False) -> list[dict[str, Any]]:
        """The items of ``ids`` that exist, in the export shape, in the order given."""

    @abc.abstractmethod
    def item_exists(self, item_id: int) -> bool:
        """Whether an item with this id is stored."""

    @abc.abstractmethod
    def item_by_identifier(self, scheme: str, value: str) -> int | None:
        """The item holding identifier (scheme, value), if any."""

    @abc.abstractmethod
    def item_ids_after(self, last: int, limit: int) -> list[int]:
        """Up to ``limit`` item ids greater than ``last``, ascending."""

    @abc.abstractmethod
    def check_integrity(self) -> list[str]:
        """Problems found by the backend's own consistency check; empty when healthy."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
