"""The storage interface search reads through: a change log to keep indexes in step, documents, vectors."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator


@dataclass(slots=True)
class SearchDocument:
    """What the search indexes need of one item."""

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


class SearchStorage(abc.ABC):
    """Reads and writes search needs; every item insert, update, delete or retag lands in a change log."""

    @abc.abstractmethod
    def search_changes(self, after: int, limit: int) -> list[tuple[int, int]]:
        """(sequence, item id) of items changed after sequence ``after``, oldest first, at most ``limit``."""

    @abc.abstractmethod
    def last_search_change(self) -> int:
        """The sequence number of the latest change (0 when there is none)."""

    @abc.abstractmethod
    def pending_search_changes(self, after: int) -> int:
        """How many items changed after sequence ``after``."""

    @abc.abstractmethod
    def search_documents(self, item_ids: list[int]) -> dict[int, SearchDocument]:
        """Documents of the items that exist among ``item_ids`` (a missing id was deleted)."""

    @abc.abstractmethod
    def item_vectors(self, model: str, item_ids: list[int]) -> dict[int, tuple[str, bytes]]:
        """Stored (text hash, float16 vector bytes) of ``model`` for the given items."""

    @abc.abstractmethod
    def iter_item_vectors(self, model: str, batch_size: int = 10000) -> Iterator[list[tuple[int, bytes]]]:
        """Every stored vector of ``model`` as batches of (item id, float16 vector bytes), by item id."""

    @abc.abstractmethod
    def save_item_vectors(self, model: str, rows: list[tuple[int, str, bytes]]) -> None:
        """Store (item id, text hash, float16 vector bytes) rows of ``model`` in one transaction."""

    @abc.abstractmethod
    def default_index_directory(self) -> Path:
        """Where this store's local search index files live unless PAPERFEED_INDEX_DIR says otherwise."""


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
