"""Topics, the tagger's models and tags, predicted categories, topic pages' reads, author identities and people.

Written once for both backends on ``self.db`` (``storage.sql``). Where one backend's plan happens to give an
order (a primary key scan, a GROUP BY), the statements say that order, so both hand callers the same lists;
text is ordered byte by byte (``dialect.bytewise``), whatever the database's locale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import orjson

from ..normalize import utc_now
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


@dataclass(slots=True)
class AuthorGraph:
    """Who wrote what: author names and keys, each item's author ids in order, each item's topic ids, and what
    else tells people apart: categories, dates, affiliations."""

    authors: dict[int, tuple[str, str]]
    item_authors: dict[int, list[int]]
    item_topics: dict[int, set[int]]
    item_categories: dict[int, list[str]] = field(default_factory=dict)
    """The item's own categories (primary first), else its predicted ones at ``topic_confidence`` or more."""
    item_dates: dict[int, str] = field(default_factory=dict)
    """``YYYY-MM-DD`` (or ``YYYY``) of items that have a date."""
    affiliations: dict[tuple[int, int], set[str]] = field(default_factory=dict)
    """(item id, author id) -> the affiliations a source gave that author on that item (arXiv OAI metadata)."""


Slot = tuple[int, int, int]
"""One author slot of an item: (item id, position, author id)."""


@dataclass(slots=True)
class PersonSlots:
    """A person as decided: the name their page goes by, its author id, and every author slot that is them."""

    name: str
    author_id: int
    slots: list[Slot]


@dataclass(slots=True)
class AuthorDecision:
    """A remembered split or merge of people (``paperfeed authors split/merge``); slots are (item id, author id)."""

    id: int
    kind: str
    slots: set[tuple[int, int]]
    """``merge``: one person. ``split``: one person, and not the person of any slot in ``apart``."""
    apart: set[tuple[int, int]] = field(default_factory=set)
    created_at: str = ""


class TopicStorage:
    """Topics, tagger models and tags, predicted categories and author identities of a store."""

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
        """Items of a topic, newest first: id, kind, title, published, confidence, source labels.

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
            # Each label once, in the order first seen.
            for item_id, label, format_name in self.db.rows(
                    f"SELECT item_id, label, format FROM source_records WHERE item_id {d.in_array(1)} "
                    "ORDER BY item_id, id", (d.array(items),)):
                source = label or format_name
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

    # -- authors ----------------------------------------------------------------------------

    def author_graph(self, topic_confidence: float = 0.5) -> AuthorGraph:
        """Every author, item author list and item topic set (tagged at ``topic_confidence`` or more, or gold)."""
        db = self.db
        authors = {row[0]: (row[1], row[2]) for row in db.rows("SELECT id, name, key FROM authors ORDER BY id")}
        item_authors: dict[int, list[int]] = {}
        for item_id, author_id in db.rows("SELECT item_id, author_id FROM item_authors ORDER BY item_id, position"):
            item_authors.setdefault(item_id, []).append(author_id)
        item_topics: dict[int, set[int]] = {}
        for item_id, topic_id in db.rows(
                f"SELECT it.item_id, it.topic_id FROM item_topics it WHERE {_member(1)} "
                "ORDER BY it.item_id, it.topic_id", (topic_confidence,)):
            item_topics.setdefault(item_id, set()).add(topic_id)
        item_categories: dict[int, list[str]] = {}
        for item_id, category in db.rows("SELECT item_id, category FROM item_categories ORDER BY item_id, position"):
            item_categories.setdefault(item_id, []).append(category)
        predicted: dict[int, list[str]] = {}
        for item_id, category in db.rows(
                "SELECT item_id, category FROM predicted_categories WHERE confidence >= $1 "
                f"ORDER BY item_id, confidence DESC, category{db.dialect.bytewise}", (topic_confidence,)):
            predicted.setdefault(item_id, []).append(category)
        for item_id, categories in predicted.items():  # predicted only where the item has none of its own
            item_categories.setdefault(item_id, categories)
        item_dates = {item_id: published or str(year) for item_id, published, year in db.rows(
            "SELECT id, published, year FROM items WHERE published IS NOT NULL OR year IS NOT NULL ORDER BY id")}
        return AuthorGraph(authors=authors, item_authors=item_authors, item_topics=item_topics,
                           item_categories=item_categories, item_dates=item_dates,
                           affiliations=self._author_affiliations(authors))

    def _author_affiliations(self, authors: dict[int, tuple[str, str]]) -> dict[tuple[int, int], set[str]]:
        """(item id, author id) -> affiliations, from the source records that carry them (arXiv OAI metadata)."""
        by_name = {name: author_id for author_id, (name, _) in authors.items()}
        found: dict[tuple[int, int], set[str]] = {}
        for item_id, data in self.db.rows(
                "SELECT item_id, data FROM source_records WHERE data LIKE '%\"affiliations\"%' ORDER BY id"):
            places = (orjson.loads(data).get("extra") or {}).get("affiliations") or {}
            if not isinstance(places, dict):
                continue
            for name, values in places.items():
                author_id = by_name.get(name)
                if author_id is not None and isinstance(values, list):
                    found.setdefault((item_id, author_id), set()).update(str(v) for v in values if v)
        return found

    def save_author_identities(self, identities: dict[int, int], scope: list[int] | None = None) -> None:
        """Replace the merged identities (author id -> the author id standing for it), of ``scope``'s authors only
        when given."""
        db, d = self.db, self.db.dialect
        merged = [(author, identity) for author, identity in identities.items() if author != identity]
        with db.transaction():
            if scope is None:
                db.run("DELETE FROM author_identities")
            elif scope:
                db.run(f"DELETE FROM author_identities WHERE author_id {d.in_array(1)} OR identity_id {d.in_array(1)}",
                       (d.array(scope),))
            db.run_many("INSERT INTO author_identities (author_id, identity_id) VALUES ($1, $2)", merged)

    def authors_by_key(self, keys: list[str]) -> list[tuple[int, str, int]]:
        """(author id, name, identity id) of authors whose matching key is one of ``keys``."""
        d = self.db.dialect
        return [tuple(row) for row in self.db.rows(
            "SELECT a.id, a.name, coalesce(ai.identity_id, a.id) FROM authors a "
            f"LEFT JOIN author_identities ai ON ai.author_id = a.id WHERE a.key {d.in_array(1)} ORDER BY a.id",
            (d.array(keys),))]

    def identity_members(self, identity_ids: list[int]) -> dict[int, list[int]]:
        """Author ids that make up each identity."""
        d = self.db.dialect
        members: dict[int, list[int]] = {identity: [identity] for identity in identity_ids}
        for author_id, identity in self.db.rows(
                f"SELECT author_id, identity_id FROM author_identities WHERE identity_id {d.in_array(1)} "
                "ORDER BY author_id", (d.array(identity_ids),)):
            members[identity].append(author_id)
        return members

    def author_names(self, author_ids: list[int]) -> dict[int, str]:
        """Display names of author ids."""
        d = self.db.dialect
        return dict(self.db.rows(f"SELECT id, name FROM authors WHERE id {d.in_array(1)} ORDER BY id",
                                 (d.array(author_ids),)))

    def identities_of(self, author_ids: list[int]) -> dict[int, int]:
        """The identity id of each author id (itself when not merged)."""
        d = self.db.dialect
        identities = {author_id: author_id for author_id in author_ids}
        identities.update(self.db.rows(
            f"SELECT author_id, identity_id FROM author_identities WHERE author_id {d.in_array(1)}",
            (d.array(author_ids),)))
        return identities

    def author_papers(self, author_ids: list[int]) -> list[dict[str, Any]]:
        """Items by any of these author ids, newest first: id, kind, title, published, author ids, topics."""
        db, d = self.db, self.db.dialect
        return self.author_papers_of_items(db.column(
            f"SELECT DISTINCT item_id FROM item_authors WHERE author_id {d.in_array(1)} ORDER BY item_id",
            (d.array(author_ids),)))

    def author_papers_of_items(self, item_ids: list[int]) -> list[dict[str, Any]]:
        """These items, newest first: id, kind, title, published, author ids, topics."""
        db, d = self.db, self.db.dialect
        ids = d.array(item_ids)
        items: dict[int, dict[str, Any]] = {}
        for row in db.rows(f"SELECT id, kind, title, published FROM items WHERE id {d.in_array(1)} ORDER BY id",
                           (ids,)):
            items[row[0]] = {"id": row[0], "kind": row[1], "title": row[2], "published": row[3],
                             "author_ids": [], "topics": []}
        for item_id, author_id in db.rows(
                f"SELECT item_id, author_id FROM item_authors WHERE item_id {d.in_array(1)} "
                "ORDER BY item_id, position", (ids,)):
            items[item_id]["author_ids"].append(author_id)
        for item_id, name, assigned_by, confidence in db.rows(
                "SELECT it.item_id, t.name, it.assigned_by, it.confidence FROM item_topics it "
                f"JOIN topics t ON t.id = it.topic_id WHERE it.item_id {d.in_array(1)} "
                f"ORDER BY it.item_id, it.topic_id, it.assigned_by{d.bytewise}", (ids,)):
            items[item_id]["topics"].append((name, 1.0 if assigned_by in GOLD_ASSIGNERS else confidence))
        return sorted(items.values(), key=lambda item: (item["published"] or "", item["id"]), reverse=True)

    # -- people -----------------------------------------------------------------------------

    _SLOT_PEOPLE = ("LEFT JOIN item_people ip ON ip.item_id = ia.item_id AND ip.position = ia.position "
                    "AND ip.author_id = ia.author_id")
    """Joined to ``item_authors ia``: the slot's person, when decided for the name the slot holds now."""

    def item_slots(self, item_ids: list[int]) -> dict[int, list[tuple[int, int, str, int | None]]]:
        """Each item's author slots in order: (position, author id, name, person id or None when undecided)."""
        d = self.db.dialect
        found: dict[int, list[tuple[int, int, str, int | None]]] = {item_id: [] for item_id in item_ids}
        for item_id, position, author_id, name, person_id in self.db.rows(
                "SELECT ia.item_id, ia.position, ia.author_id, a.name, ip.person_id FROM item_authors ia "
                f"JOIN authors a ON a.id = ia.author_id {self._SLOT_PEOPLE} "
                f"WHERE ia.item_id {d.in_array(1)} ORDER BY ia.item_id, ia.position", (d.array(item_ids),)):
            found[item_id].append((position, author_id, name, person_id))
        return found

    def people(self, person_ids: list[int]) -> dict[int, tuple[str, int]]:
        """(display name, author id) of each person id that exists."""
        d = self.db.dialect
        return {row[0]: (row[1], row[2]) for row in self.db.rows(
            f"SELECT id, name, author_id FROM people WHERE id {d.in_array(1)} ORDER BY id", (d.array(person_ids),))}

    def person_slots(self, person_id: int) -> list[Slot]:
        """The author slots (item id, position, author id) that are this person, as the items hold them now."""
        return [tuple(row) for row in self.db.rows(
            "SELECT ip.item_id, ip.position, ip.author_id FROM item_people ip JOIN item_authors ia "
            "ON ia.item_id = ip.item_id AND ia.position = ip.position AND ia.author_id = ip.author_id "
            "WHERE ip.person_id = $1 ORDER BY ip.item_id, ip.position", (person_id,))]

    def name_slots(self, author_ids: list[int]) -> list[tuple[int, int, int, int | None]]:
        """Every slot written with one of these author ids: (item id, position, author id, person id or None)."""
        d = self.db.dialect
        return [tuple(row) for row in self.db.rows(
            f"SELECT ia.item_id, ia.position, ia.author_id, ip.person_id FROM item_authors ia {self._SLOT_PEOPLE} "
            f"WHERE ia.author_id {d.in_array(1)} ORDER BY ia.item_id, ia.position", (d.array(author_ids),))]

    def save_people(self, people: list[PersonSlots], scope: list[int] | None = None,
                    items: list[int] | None = None) -> dict[int, int]:
        """Store who each slot is: replace the people of ``scope``'s author ids (everyone when None), and every
        earlier decision on the slots of ``items``; return the person id given to each of ``people`` (by index).

        A person keeps the id of the earlier person it shares most slots with, so pages keep their address
        as papers come and go; a person with no earlier slots gets a new id.
        """
        db, d = self.db, self.db.dialect
        ids: dict[int, int] = {}
        with db.transaction(lock_writers=True):
            if scope is None:
                old_rows = db.rows("SELECT item_id, position, person_id FROM item_people ORDER BY person_id")
            else:
                old_rows = db.rows(
                    "SELECT item_id, position, person_id FROM item_people WHERE person_id IN "
                    f"(SELECT person_id FROM item_people WHERE author_id {d.in_array(1)}) ORDER BY person_id",
                    (d.array(scope),))
            old: dict[tuple[int, int], int] = {(item, position): person for item, position, person in old_rows}
            old_people = set(old.values())
            if scope is None:
                old_people |= set(db.column("SELECT id FROM people ORDER BY id"))
            taken: set[int] = set()
            order = sorted(range(len(people)), key=lambda index: (-len(people[index].slots), index))
            for index in order:
                person = people[index]
                overlap: dict[int, int] = {}
                for item, position, _ in person.slots:
                    previous = old.get((item, position))
                    if previous is not None and previous not in taken:
                        overlap[previous] = overlap.get(previous, 0) + 1
                if overlap:
                    person_id = max(overlap, key=lambda pid: (overlap[pid], -pid))
                    taken.add(person_id)
                    db.run("UPDATE people SET name = $1, author_id = $2 WHERE id = $3",
                           (person.name, person.author_id, person_id))
                else:
                    person_id = db.value("INSERT INTO people (name, author_id) VALUES ($1, $2) RETURNING id",
                                         (person.name, person.author_id))
                ids[index] = person_id
            gone = sorted(old_people - taken)
            if gone:
                db.run(f"DELETE FROM people WHERE id {d.in_array(1)}", (d.array(gone),))
            if items:
                db.run(f"DELETE FROM item_people WHERE item_id {d.in_array(1)}", (d.array(items),))
            if taken:
                db.run(f"DELETE FROM item_people WHERE person_id {d.in_array(1)}", (d.array(sorted(taken)),))
            db.run_many(
                "INSERT INTO item_people (item_id, position, author_id, person_id) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (item_id, position) DO UPDATE SET author_id = excluded.author_id, "
                "person_id = excluded.person_id",
                [(item, position, author, ids[index]) for index, person in enumerate(people)
                 for item, position, author in person.slots])
        return ids

    def people_of_authors(self, author_ids: list[int]) -> dict[int, list[tuple[int, str, int]]]:
        """The people each author id's slots belong to: (person id, person's name, slots of this name), most first."""
        d = self.db.dialect
        found: dict[int, list[tuple[int, str, int]]] = {author_id: [] for author_id in author_ids}
        for author_id, person_id, name, count in self.db.rows(
                "SELECT ia.author_id, p.id, p.name, count(*) FROM item_authors ia JOIN item_people ip "
                "ON ip.item_id = ia.item_id AND ip.position = ia.position AND ip.author_id = ia.author_id "
                f"JOIN people p ON p.id = ip.person_id WHERE ia.author_id {d.in_array(1)} "
                "GROUP BY ia.author_id, p.id, p.name ORDER BY ia.author_id, count(*) DESC, p.id",
                (d.array(author_ids),)):
            found[author_id].append((person_id, name, count))
        return found

    def author_decisions(self, author_ids: list[int] | None = None) -> list[AuthorDecision]:
        """Remembered splits and merges, oldest first; with ``author_ids``, those with a slot of one of them."""
        db, d = self.db, self.db.dialect
        if author_ids is None:
            rows = db.rows("SELECT id, kind, created_at FROM author_decisions ORDER BY id")
        else:
            rows = db.rows(
                "SELECT id, kind, created_at FROM author_decisions WHERE id IN (SELECT decision_id FROM "
                f"author_decision_slots WHERE author_id {d.in_array(1)}) ORDER BY id", (d.array(author_ids),))
        decisions = {row[0]: AuthorDecision(id=row[0], kind=row[1], slots=set(), created_at=row[2]) for row in rows}
        if decisions:
            for decision_id, side, item_id, author_id in db.rows(
                    "SELECT decision_id, side, item_id, author_id FROM author_decision_slots "
                    f"WHERE decision_id {d.in_array(1)} ORDER BY decision_id, side, item_id, author_id",
                    (d.array(decisions),)):
                (decisions[decision_id].apart if side else decisions[decision_id].slots).add((item_id, author_id))
        return list(decisions.values())

    def save_author_decision(self, kind: str, slots: set[tuple[int, int]], apart: set[tuple[int, int]] = frozenset(),
                             drop: list[int] = (), trim: dict[int, set[tuple[int, int]]] | None = None) -> int:
        """Remember a split or merge; in the same transaction delete the earlier decisions in ``drop`` and take
        the slots in ``trim`` out of earlier ones (what the new decision contradicts). Return its id."""
        db, d = self.db, self.db.dialect
        with db.transaction(lock_writers=True):
            if drop:
                db.run(f"DELETE FROM author_decisions WHERE id {d.in_array(1)}", (d.array(drop),))
            for decision_id, removed in (trim or {}).items():
                db.run_many("DELETE FROM author_decision_slots WHERE decision_id = $1 AND item_id = $2 "
                            "AND author_id = $3", [(decision_id, item, author) for item, author in sorted(removed)])
            decision_id = db.value("INSERT INTO author_decisions (kind, created_at) VALUES ($1, $2) RETURNING id",
                                   (kind, utc_now()))
            db.run_many("INSERT INTO author_decision_slots (decision_id, side, item_id, author_id) "
                        "VALUES ($1, $2, $3, $4)",
                        [(decision_id, 0, item, author) for item, author in sorted(slots)]
                        + [(decision_id, 1, item, author) for item, author in sorted(apart)])
        return decision_id
