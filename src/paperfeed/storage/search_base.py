"""The storage interface search reads through: a change log to keep indexes in step, documents, vectors."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
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
