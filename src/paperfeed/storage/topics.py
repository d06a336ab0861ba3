"""Topics, the tagger's models and tags, predicted categories and topic pages' reads (people: ``people.py``).

Written once for both backends on ``self.db`` (``storage.sql``). Where one backend's plan happens to give an
order (a primary key scan, a GROUP BY), the statements say that order, so both hand callers the same lists;
text is ordered byte by byte (``dialect.bytewise``), whatever the database's locale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import orjson

from ..sources.labels import source_label
from .items import slugify
from .sql import Database

GOLD_ASSIGNERS = ("source", "user")
"""``item_topics.assigned_by`` values that are gold labels: a capture's topic header, a user's own tag."""
TAGGER = "tagger"
"""``item_topics.assigned_by`` of the tagger's topics (their confidence is a calibrated probability)."""

_GOLD = ",".join(f"'{name}'" for name in GOLD_ASSIGNERS)


def _member(number: int) -> str:
    """A topic's members: gold labels always, the tagger's at or above the confidence in parameter ``$number``.

    A NULL parameter means the topic's own cut-off (``topics.cutoff``, none yet: every tagged item):
    what is filed under the topic. Gold labels (a capture's topic, a user's tag) are never cut.
    """
    return (f"(it.assigned_by IN ({_GOLD}) OR (it.assigned_by = '{TAGGER}' AND it.confidence >= "
            f"coalesce(${number}, (SELECT tc.cutoff FROM topics tc WHERE tc.id = it.topic_id), 0)))")


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
    cutoff: float | None = None
    """The tagger's confidence at or above which an item is filed under the topic (None: no cut-off yet)."""
    cutoff_precision: float | None = None
    """Estimated precision at the cut-off: the share of held-out items above it that truly had the topic."""


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


class TopicStorage:
    """Topics, tagger models and tags, and predicted categories of a store."""

    db: Database

    # -- topic definitions ------------------------------------------------------------------

    def save_topics(self, topics: list[TopicRow]) -> dict[str, int]:
        """Insert or update topic definitions by name; return every given name's topic id."""
        db = self.db
        ids: dict[str, int] = {}
        # Ingest creates topics (a capture's header) under the writers' lock; taking it too keeps the slug
        # chosen here from racing one chosen there.
        with db.transaction(lock_writers=True):
            for topic in topics:
                topic_id = db.value("SELECT id FROM topics WHERE name = $1", (topic.name,))
                values = (topic.description, orjson.dumps(topic.categories).decode(),
                          orjson.dumps(topic.phrases).decode(), topic.origin)
                if topic_id is not None:
                    db.run("UPDATE topics SET description = $1, categories = $2, phrases = $3, origin = $4 "
                           "WHERE id = $5", (*values, topic_id))
                    ids[topic.name] = topic_id
                    continue
                slug = topic.slug or slugify(topic.name)
                suffix = 2
                while db.row("SELECT 1 FROM topics WHERE slug = $1", (slug,)):
                    slug = f"{slugify(topic.name)}-{suffix}"
                    suffix += 1
                ids[topic.name] = db.value(
                    "INSERT INTO topics (name, slug, description, categories, phrases, origin) "
                    "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id", (topic.name, slug, *values))
        return ids

    def topics(self) -> list[TopicRow]:
        """Every topic row, by name."""
        d = self.db.dialect
        return [TopicRow(name=row[1], slug=row[2], description=row[3], categories=orjson.loads(row[4]),
                         phrases=orjson.loads(row[5]), origin=row[6], id=row[0], cutoff=row[7],
                         cutoff_precision=row[8])
                for row in self.db.rows("SELECT id, name, slug, description, categories, phrases, origin, cutoff, "
                                        f"cutoff_precision FROM topics ORDER BY name{d.bytewise}")]

    def save_topic_cutoffs(self, cutoffs: dict[int, tuple[float | None, float | None]]) -> None:
        """Set topics' (cut-off, estimated precision) by topic id; topics not named keep theirs."""
        with self.db.transaction():
            self.db.run_many("UPDATE topics SET cutoff = $1, cutoff_precision = $2 WHERE id = $3",
                        [(cutoff, precision, topic_id) for topic_id, (cutoff, precision) in cutoffs.items()])

    def topic_item_counts(self, min_confidence: float | None = None) -> dict[int, int]:
        """Items per topic id: gold, or tagged at ``min_confidence`` or more (None: at the topic's cut-off)."""
        return dict(self.db.rows(
            f"SELECT it.topic_id, count(DISTINCT it.item_id) FROM item_topics it WHERE {_member(1)} "
            "GROUP BY it.topic_id ORDER BY it.topic_id", (min_confidence,)))

    def topic_counts(self, topic_id: int) -> tuple[int, int]:
        """(items filed under the topic at its cut-off, items the topic holds at any confidence)."""
        filed, held = self.db.row(
            f"SELECT count(DISTINCT CASE WHEN {_member(2)} THEN it.item_id END), count(DISTINCT it.item_id) "
            "FROM item_topics it WHERE it.topic_id = $1", (topic_id, None))
        return int(filed), int(held)

    # -- tagger models and tags -------------------------------------------------------------

    def save_model(self, model: StoredModel) -> None:
        """Store a trained model under its name, replacing the previous one."""
        with self.db.transaction():
            self.db.run(
                "INSERT INTO tagger_models (name, version, trained_at, meta, arrays) VALUES ($1, $2, $3, $4, $5) "
                "ON CONFLICT (name) DO UPDATE SET version = excluded.version, trained_at = excluded.trained_at, "
                "meta = excluded.meta, arrays = excluded.arrays",
                (model.name, model.version, model.trained_at, orjson.dumps(model.meta).decode(), model.arrays))

    def load_model(self, name: str) -> StoredModel | None:
        """The stored model of that name, or None."""
        row = self.db.row("SELECT name, version, trained_at, meta, arrays FROM tagger_models WHERE name = $1",
                          (name,))
        if row is None:
            return None
        name, version, trained_at, meta, arrays = row
        return StoredModel(name=name, version=version, trained_at=trained_at, meta=orjson.loads(meta),
                           arrays=bytes(arrays))

    _DUE = ("SELECT i.id FROM items i LEFT JOIN item_tag_state s ON s.item_id = i.id "
            "WHERE i.id > $1 AND (s.item_id IS NULL OR s.version <> $2 OR s.item_updated_at <> i.updated_at) "
            "ORDER BY i.id LIMIT $3")

    def iter_tag_inputs(self, due_for: str | None = None, batch_size: int = 2000) -> Iterator[list[TagInput]]:
        """Items in batches, by id; with ``due_for``, only those not tagged by that version since they changed."""
        last = 0
        while True:
            # Each batch's ids are read whole before it is yielded: the caller writes tags between batches.
            if due_for is None:
                ids = self.db.column("SELECT id FROM items WHERE id > $1 ORDER BY id LIMIT $2", (last, batch_size))
            else:
                ids = self.db.column(self._DUE, (last, due_for, batch_size))
            if not ids:
                return
            yield self._tag_inputs(ids)
            last = ids[-1]

    def _tag_inputs(self, ids: list[int]) -> list[TagInput]:
        """The tagger's inputs of these items (text, categories, authors), in id order."""
        db, d = self.db, self.db.dialect
        wanted = d.array(ids)
        items = {row[0]: TagInput(id=row[0], kind=row[1], title=row[2], abstract=row[3], published=row[4],
                                  updated_at=row[5])
                 for row in db.rows("SELECT id, kind, title, abstract, published, updated_at FROM items "
                                    f"WHERE id {d.in_array(1)}", (wanted,))}
        for item_id, category in db.rows(
                f"SELECT item_id, category FROM item_categories WHERE item_id {d.in_array(1)} "
                "ORDER BY item_id, position", (wanted,)):
            items[item_id].categories.append(category)
        for item_id, name in db.rows(
                "SELECT ia.item_id, a.name FROM item_authors ia JOIN authors a ON a.id = ia.author_id "
                f"WHERE ia.item_id {d.in_array(1)} ORDER BY ia.item_id, ia.position", (wanted,)):
            items[item_id].authors.append(name)
        for item_id, name in db.rows(
                "SELECT it.item_id, t.name FROM item_topics it JOIN topics t ON t.id = it.topic_id "
                f"WHERE it.assigned_by IN ({_GOLD}) AND it.item_id {d.in_array(1)} "
                f"ORDER BY it.item_id, it.topic_id, it.assigned_by{d.bytewise}", (wanted,)):
            items[item_id].gold_topics.append(name)
        return [items[item_id] for item_id in ids if item_id in items]

    def count_due(self, version: str) -> int:
        """Items not tagged by ``version`` since they last changed."""
        return self.db.value(
            "SELECT count(*) FROM items i LEFT JOIN item_tag_state s ON s.item_id = i.id "
            "WHERE s.item_id IS NULL OR s.version <> $1 OR s.item_updated_at <> i.updated_at", (version,))

    def write_tags(self, version: str, results: list[TagResult]) -> None:
        """Replace the tagger's topics and predicted categories of these items; mark them tagged by ``version``."""
        db, d = self.db, self.db.dialect
        ids = d.array([result.item_id for result in results])
        with db.transaction():
            db.run(f"DELETE FROM item_topics WHERE assigned_by = '{TAGGER}' AND item_id {d.in_array(1)}", (ids,))
            db.run(f"DELETE FROM predicted_categories WHERE item_id {d.in_array(1)}", (ids,))
            # A pair given twice replaces the first.
            db.run_many(
                "INSERT INTO item_topics (item_id, topic_id, assigned_by, confidence) "
                f"VALUES ($1, $2, '{TAGGER}', $3) "
                "ON CONFLICT (item_id, topic_id, assigned_by) DO UPDATE SET confidence = excluded.confidence",
                [(r.item_id, topic_id, confidence) for r in results for topic_id, confidence in r.topics])
            db.run_many(
                "INSERT INTO predicted_categories (item_id, category, confidence) VALUES ($1, $2, $3) "
                "ON CONFLICT (item_id, category) DO UPDATE SET confidence = excluded.confidence",
                [(r.item_id, category, confidence) for r in results for category, confidence in r.categories])
            db.run_many(
                "INSERT INTO item_tag_state (item_id, version, item_updated_at) VALUES ($1, $2, $3) "
                "ON CONFLICT (item_id) DO UPDATE SET version = excluded.version, "
                "item_updated_at = excluded.item_updated_at",
                [(r.item_id, version, r.updated_at) for r in results])

    def predicted_categories(self, item_ids: list[int]) -> dict[int, list[tuple[str, float]]]:
        """Predicted categories, with confidence, of items that have none of their own."""
        d = self.db.dialect
        found: dict[int, list[tuple[str, float]]] = {}
        for item_id, category, confidence in self.db.rows(
                f"SELECT item_id, category, confidence FROM predicted_categories WHERE item_id {d.in_array(1)} "
                f"ORDER BY item_id, confidence DESC, category{d.bytewise}", (d.array(item_ids),)):
            found.setdefault(item_id, []).append((category, confidence))
        return found

    def item_topic_confidences(self, item_ids: list[int]) -> dict[int, list[tuple[str, str, float]]]:
        """(topic name, assigned_by, confidence) of each item, by confidence: each topic once, with its best
        confidence and who gave that (a topic a source gave at 100% and the tagger at 78% is the source's)."""
        d = self.db.dialect
        found: dict[int, list[tuple[str, str, float]]] = {}
        seen: set[tuple[int, str]] = set()
        for item_id, name, assigned_by, confidence in self.db.rows(
                "SELECT it.item_id, t.name, it.assigned_by, it.confidence FROM item_topics it "
                f"JOIN topics t ON t.id = it.topic_id WHERE it.item_id {d.in_array(1)} "
                f"ORDER BY it.item_id, it.confidence DESC, t.name{d.bytewise}, it.assigned_by{d.bytewise}",
                (d.array(item_ids),)):
            if (item_id, name) not in seen:  # the best first: the rows come by confidence
                seen.add((item_id, name))
                found.setdefault(item_id, []).append((name, assigned_by, confidence))
        return found

    # -- topic pages ------------------------------------------------------------------------

    def topic_items(self, topic_id: int, limit: int = 20, offset: int = 0,
                    min_confidence: float | None = None) -> list[dict[str, Any]]:
        """Items of a topic, newest first: id, kind, title, published, confidence, sources in words (``sources.labels``).

        ``min_confidence`` None lists what is filed under the topic (gold, and tagged at its cut-off or above);
        0 lists every item the tagger kept, below the cut-off too.
        """
        d = self.db.dialect
        # Undated items (a captured topic page's) tie on date: the page they were captured from ranks them.
        page_rank = (f"(SELECT min(CAST({d.json_text('s.data', 'extra', 'page_rank')} AS INTEGER)) "
                     "FROM source_records s WHERE s.item_id = i.id AND s.format = 'capture')")
        rows = self.db.rows(
            "SELECT i.id, i.kind, i.title, i.published, max(it.confidence) FROM item_topics it "
            f"JOIN items i ON i.id = it.item_id WHERE it.topic_id = $1 AND {_member(2)} "
            f"GROUP BY i.id ORDER BY i.published IS NULL, i.published{d.bytewise} DESC, max(it.confidence) DESC, "
            f"coalesce({page_rank}, 2147483647), i.id DESC LIMIT $3 OFFSET $4", (topic_id, min_confidence, limit, offset))
        items = {row[0]: {"id": row[0], "kind": row[1], "title": row[2], "published": row[3],
                          "confidence": round(row[4], 4), "sources": []} for row in rows}
        if items:
            # Each source once, in words (never a format name), in the order first seen.
            for item_id, label, format_name in self.db.rows(
                    f"SELECT item_id, label, format FROM source_records WHERE item_id {d.in_array(1)} "
                    "ORDER BY item_id, id", (d.array(items),)):
                source = source_label(format_name, label)
                if source not in items[item_id]["sources"]:
                    items[item_id]["sources"].append(source)
        return [items[row[0]] for row in rows]

    def topic_day_counts(self, topic_id: int, min_confidence: float | None = None) -> list[tuple[str, int]]:
        """(``YYYY-MM-DD``, items) per publication day of a topic's items that have a date."""
        d = self.db.dialect
        return [tuple(row) for row in self.db.rows(
            "SELECT i.published, count(DISTINCT i.id) FROM item_topics it JOIN items i ON i.id = it.item_id "
            f"WHERE it.topic_id = $1 AND {_member(2)} AND i.published IS NOT NULL "
            f"GROUP BY i.published ORDER BY i.published{d.bytewise}", (topic_id, min_confidence))]

    def topic_item_authors(self, topic_id: int, min_confidence: float | None = None) -> list[tuple[int, float, list[int]]]:
        """(item id, confidence, author ids) of a topic's items; gold labels have confidence 1."""
        d = self.db.dialect
        items: dict[int, tuple[float, list[int]]] = {}
        for item_id, confidence in self.db.rows(
                f"SELECT it.item_id, max(CASE WHEN it.assigned_by IN ({_GOLD}) THEN 1.0 ELSE it.confidence END) "
                f"FROM item_topics it WHERE it.topic_id = $1 AND {_member(2)} GROUP BY it.item_id ORDER BY it.item_id",
                (topic_id, min_confidence)):
            items[item_id] = (float(confidence), [])
        if items:
            for item_id, author_id in self.db.rows(
                    f"SELECT item_id, author_id FROM item_authors WHERE item_id {d.in_array(1)} "
                    "ORDER BY item_id, position", (d.array(items),)):
                items[item_id][1].append(author_id)
        return [(item_id, confidence, authors) for item_id, (confidence, authors) in items.items()]
