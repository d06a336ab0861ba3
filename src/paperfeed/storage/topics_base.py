"""The storage interface for topics, the tagger's models and tags, and author identities."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Iterator

import orjson

GOLD_ASSIGNERS = ("source", "user")
"""``item_topics.assigned_by`` values that are gold labels: a capture's topic header, a user's own tag."""
TAGGER = "tagger"
"""``item_topics.assigned_by`` of the tagger's topics (their confidence is a calibrated probability)."""


@dataclass(slots=True)
class TopicRow:
    """A topic definition as stored: the taxonomy's, a user's, or one only a capture header named."""

    name: str
    description: str = ""
    categories: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    origin: str = "taxonomy"
    """``taxonomy`` (shipped or ``topics_file``), ``user`` (``paperfeed topics add``) or ``source`` (a capture)."""
    id: int | None = None
    slug: str | None = None


@dataclass(slots=True)
class TagInput:
    """What the tagger reads of one item."""

    id: int
    kind: str
    title: str
    abstract: str
    published: str | None
    updated_at: str
    categories: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    gold_topics: list[str] = field(default_factory=list)
    """Names of topics a source or the user gave the item."""


@dataclass(slots=True)
class TagResult:
    """The tagger's output for one item: topic ids and predicted categories, each with its confidence."""

    item_id: int
    updated_at: str
    """The item's ``updated_at`` when it was tagged: a later change makes it due again."""
    topics: list[tuple[int, float]] = field(default_factory=list)
    categories: list[tuple[str, float]] = field(default_factory=list)


@dataclass(slots=True)
class StoredModel:
    """A trained model: its version, JSON-able metadata and its arrays as ``.npz`` bytes (no pickles)."""

    name: str
    version: str
    trained_at: str
    meta: dict[str, Any]
    arrays: bytes


@dataclass(slots=True)
class AuthorGraph:
    """Who wrote what: author names and keys, each item's author ids in order, each item's topic ids."""

    authors: dict[int, tuple[str, str]]
    item_authors: dict[int, list[int]]
    item_topics: dict[int, set[int]]


class TopicStorage(abc.ABC):
    """Topics, tagger models and tags, predicted categories and author identities of a store."""

    # -- topic definitions ------------------------------------------------------------------

    @abc.abstractmethod
    def save_topics(self, topics: list[TopicRow]) -> dict[str, int]:
        """Insert or update topic definitions by name; return every given name's topic id."""

    @abc.abstractmethod
    def topics(self) -> list[TopicRow]:
        """Every topic row, by name."""

    @abc.abstractmethod
    def topic_item_counts(self, min_confidence: float = 0.0) -> dict[int, int]:
        """Items per topic id (gold, or tagged at ``min_confidence`` or more)."""

    # -- tagger models and tags -------------------------------------------------------------

    @abc.abstractmethod
    def save_model(self, model: StoredModel) -> None:
        """Store a trained model under its name, replacing the previous one."""

    # The readers below are the same SQL on both backends: they run through ``_execute`` (``?`` placeholders),
    # which every backend's store provides (see ``storage.limits``).

    def load_model(self, name: str) -> StoredModel | None:
        """The stored model of that name, or None."""
        rows = self._execute("SELECT name, version, trained_at, meta, arrays FROM tagger_models WHERE name = ?",
                             (name,))
        if not rows:
            return None
        name, version, trained_at, meta, arrays = rows[0]
        return StoredModel(name=name, version=version, trained_at=trained_at, meta=orjson.loads(meta),
                           arrays=bytes(arrays))

    _DUE = ("SELECT i.id FROM items i LEFT JOIN item_tag_state s ON s.item_id = i.id "
            "WHERE i.id > ? AND (s.item_id IS NULL OR s.version <> ? OR s.item_updated_at <> i.updated_at) "
            "ORDER BY i.id LIMIT ?")

    def iter_tag_inputs(self, due_for: str | None = None, batch_size: int = 2000) -> Iterator[list[TagInput]]:
        """Items in batches, by id; with ``due_for``, only those not tagged by that version since they changed."""
        last = 0
        while True:
            # Each batch's ids are read whole before it is yielded: the caller writes tags between batches.
            if due_for is None:
                rows = self._execute("SELECT id FROM items WHERE id > ? ORDER BY id LIMIT ?", (last, batch_size))
            else:
                rows = self._execute(self._DUE, (last, due_for, batch_size))
            if not rows:
                return
            ids = [row[0] for row in rows]
            yield self._tag_inputs(ids)
            last = ids[-1]

    @abc.abstractmethod
    def _tag_inputs(self, ids: list[int]) -> list[TagInput]:
        """The tagger's inputs of these items (text, categories, authors), in id order."""

    @abc.abstractmethod
    def count_due(self, version: str) -> int:
        """Items not tagged by ``version`` since they last changed."""

    @abc.abstractmethod
    def write_tags(self, version: str, results: list[TagResult]) -> None:
        """Replace the tagger's topics and predicted categories of these items; mark them tagged by ``version``."""

    @abc.abstractmethod
    def predicted_categories(self, item_ids: list[int]) -> dict[int, list[tuple[str, float]]]:
        """Predicted categories, with confidence, of items that have none of their own."""

    @abc.abstractmethod
    def item_topic_confidences(self, item_ids: list[int]) -> dict[int, list[tuple[str, str, float]]]:
        """(topic name, assigned_by, confidence) of each item, by confidence."""

    # -- topic pages ------------------------------------------------------------------------

    @abc.abstractmethod
    def topic_items(self, topic_id: int, limit: int = 20, offset: int = 0,
                    min_confidence: float = 0.0) -> list[dict[str, Any]]:
        """Items of a topic, newest first: id, kind, title, published, confidence, source labels."""

    @abc.abstractmethod
    def topic_day_counts(self, topic_id: int, min_confidence: float = 0.0) -> list[tuple[str, int]]:
        """(``YYYY-MM-DD``, items) per publication day of a topic's items that have a date."""

    @abc.abstractmethod
    def topic_item_authors(self, topic_id: int, min_confidence: float = 0.0) -> list[tuple[int, float, list[int]]]:
        """(item id, confidence, author ids) of a topic's items; gold labels have confidence 1."""

    # -- authors ----------------------------------------------------------------------------

    @abc.abstractmethod
    def author_graph(self, topic_confidence: float = 0.5) -> AuthorGraph:
        """Every author, item author list and item topic set (tagged at ``topic_confidence`` or more, or gold)."""

    @abc.abstractmethod
    def save_author_identities(self, identities: dict[int, int], scope: list[int] | None = None) -> None:
        """Replace the merged identities (author id -> the author id standing for it), of ``scope``'s authors only
        when given."""

    @abc.abstractmethod
    def authors_by_key(self, keys: list[str]) -> list[tuple[int, str, int]]:
        """(author id, name, identity id) of authors whose matching key is one of ``keys``."""

    @abc.abstractmethod
    def identity_members(self, identity_ids: list[int]) -> dict[int, list[int]]:
        """Author ids that make up each identity."""

    @abc.abstractmethod
    def author_names(self, author_ids: list[int]) -> dict[int, str]:
        """Display names of author ids."""

    @abc.abstractmethod
    def identities_of(self, author_ids: list[int]) -> dict[int, int]:
        """The identity id of each author id (itself when not merged)."""

    @abc.abstractmethod
    def author_papers(self, author_ids: list[int]) -> list[dict[str, Any]]:
        """Items by any of these author ids, newest first: id, kind, title, published, author ids, topics."""
