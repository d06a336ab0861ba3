"""SQLite implementation of ``TopicStorage``: a mixin of ``SQLiteStore`` that uses its connection ``self._db``."""

from __future__ import annotations

import sqlite3
from typing import Any, Iterator

import orjson

from .topics_base import (GOLD_ASSIGNERS, TAGGER, AuthorGraph, StoredModel, TagInput, TagResult, TopicRow,
                          TopicStorage)

_CHUNK = 900
_GOLD = ",".join(f"'{name}'" for name in GOLD_ASSIGNERS)
# A topic's members: gold labels always, the tagger's at or above a confidence (parameter 2).
_MEMBER = f"(it.assigned_by IN ({_GOLD}) OR (it.assigned_by = '{TAGGER}' AND it.confidence >= ?))"


def _chunks(values: list, size: int = _CHUNK) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _marks(count: int) -> str:
    return ",".join("?" * count)


class SQLiteTopicStorage(TopicStorage):
    """Topic, tagger and author-identity queries over ``self._db`` (autocommit; writes open their own transaction)."""

    _db: sqlite3.Connection

    def _topics_write(self, work) -> Any:
        """Run ``work()`` in one write transaction (or inside the caller's open one)."""
        if self._db.in_transaction:
            return work()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            result = work()
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return result

    # -- topic definitions ------------------------------------------------------------------

    def save_topics(self, topics: list[TopicRow]) -> dict[str, int]:
        from .items import slugify

        def work() -> dict[str, int]:
            ids: dict[str, int] = {}
            for topic in topics:
                row = self._db.execute("SELECT id FROM topics WHERE name = ?", (topic.name,)).fetchone()
                values = (topic.description, orjson.dumps(topic.categories).decode(),
                          orjson.dumps(topic.phrases).decode(), topic.origin)
                if row:
                    self._db.execute("UPDATE topics SET description = ?, categories = ?, phrases = ?, origin = ? "
                                     "WHERE id = ?", (*values, row[0]))
                    ids[topic.name] = row[0]
                    continue
                slug = topic.slug or slugify(topic.name)
                suffix = 2
                while self._db.execute("SELECT 1 FROM topics WHERE slug = ?", (slug,)).fetchone():
                    slug = f"{slugify(topic.name)}-{suffix}"
                    suffix += 1
                ids[topic.name] = self._db.execute(
                    "INSERT INTO topics (name, slug, description, categories, phrases, origin) "
                    "VALUES (?, ?, ?, ?, ?, ?) RETURNING id", (topic.name, slug, *values)).fetchone()[0]
            return ids

        return self._topics_write(work)

    def topics(self) -> list[TopicRow]:
        return [TopicRow(name=row[1], slug=row[2], description=row[3], categories=orjson.loads(row[4]),
                         phrases=orjson.loads(row[5]), origin=row[6], id=row[0])
                for row in self._db.execute(
                    "SELECT id, name, slug, description, categories, phrases, origin FROM topics ORDER BY name")]

    def topic_item_counts(self, min_confidence: float = 0.0) -> dict[int, int]:
        return dict(self._db.execute(
            f"SELECT it.topic_id, count(DISTINCT it.item_id) FROM item_topics it WHERE {_MEMBER} "
            "GROUP BY it.topic_id", (min_confidence,)))

    # -- tagger models and tags -------------------------------------------------------------

    def save_model(self, model: StoredModel) -> None:
        self._topics_write(lambda: self._db.execute(
            "INSERT OR REPLACE INTO tagger_models (name, version, trained_at, meta, arrays) VALUES (?, ?, ?, ?, ?)",
            (model.name, model.version, model.trained_at, orjson.dumps(model.meta).decode(), model.arrays)))

    def _tag_inputs(self, ids: list[int]) -> list[TagInput]:
        db, marks = self._db, _marks(len(ids))
        items = {row[0]: TagInput(id=row[0], kind=row[1], title=row[2], abstract=row[3], published=row[4],
                                  updated_at=row[5])
                 for row in db.execute("SELECT id, kind, title, abstract, published, updated_at FROM items "
                                       f"WHERE id IN ({marks})", ids)}
        for item_id, category in db.execute(
                f"SELECT item_id, category FROM item_categories WHERE item_id IN ({marks}) ORDER BY item_id, position",
                ids):
            items[item_id].categories.append(category)
        for item_id, name in db.execute(
                "SELECT ia.item_id, a.name FROM item_authors ia JOIN authors a ON a.id = ia.author_id "
                f"WHERE ia.item_id IN ({marks}) ORDER BY ia.item_id, ia.position", ids):
            items[item_id].authors.append(name)
        for item_id, name in db.execute(
                "SELECT it.item_id, t.name FROM item_topics it JOIN topics t ON t.id = it.topic_id "
                f"WHERE it.assigned_by IN ({_GOLD}) AND it.item_id IN ({marks})", ids):
            items[item_id].gold_topics.append(name)
        return [items[item_id] for item_id in ids if item_id in items]

    def count_due(self, version: str) -> int:
        return self._db.execute(
            "SELECT count(*) FROM items i LEFT JOIN item_tag_state s ON s.item_id = i.id "
            "WHERE s.item_id IS NULL OR s.version != ? OR s.item_updated_at != i.updated_at", (version,)).fetchone()[0]

    def write_tags(self, version: str, results: list[TagResult]) -> None:
        def work() -> None:
            db = self._db
            ids = [result.item_id for result in results]
            for chunk in _chunks(ids):
                marks = _marks(len(chunk))
                db.execute(f"DELETE FROM item_topics WHERE assigned_by = '{TAGGER}' AND item_id IN ({marks})", chunk)
                db.execute(f"DELETE FROM predicted_categories WHERE item_id IN ({marks})", chunk)
            db.executemany(
                f"INSERT OR REPLACE INTO item_topics (item_id, topic_id, assigned_by, confidence) "
                f"VALUES (?, ?, '{TAGGER}', ?)",
                [(r.item_id, topic_id, confidence) for r in results for topic_id, confidence in r.topics])
            db.executemany(
                "INSERT OR REPLACE INTO predicted_categories (item_id, category, confidence) VALUES (?, ?, ?)",
                [(r.item_id, category, confidence) for r in results for category, confidence in r.categories])
            db.executemany(
                "INSERT OR REPLACE INTO item_tag_state (item_id, version, item_updated_at) VALUES (?, ?, ?)",
                [(r.item_id, version, r.updated_at) for r in results])

        self._topics_write(work)

    def predicted_categories(self, item_ids: list[int]) -> dict[int, list[tuple[str, float]]]:
        found: dict[int, list[tuple[str, float]]] = {}
        for chunk in _chunks(item_ids):
            for item_id, category, confidence in self._db.execute(
                    "SELECT item_id, category, confidence FROM predicted_categories "
                    f"WHERE item_id IN ({_marks(len(chunk))}) ORDER BY item_id, confidence DESC", chunk):
                found.setdefault(item_id, []).append((category, confidence))
        return found

    def item_topic_confidences(self, item_ids: list[int]) -> dict[int, list[tuple[str, str, float]]]:
        found: dict[int, list[tuple[str, str, float]]] = {}
        for chunk in _chunks(item_ids):
            for item_id, name, assigned_by, confidence in self._db.execute(
                    "SELECT it.item_id, t.name, it.assigned_by, it.confidence FROM item_topics it "
                    f"JOIN topics t ON t.id = it.topic_id WHERE it.item_id IN ({_marks(len(chunk))}) "
                    "ORDER BY it.item_id, it.confidence DESC, t.name", chunk):
                found.setdefault(item_id, []).append((name, assigned_by, confidence))
        return found

    # -- topic pages ------------------------------------------------------------------------

    def topic_items(self, topic_id: int, limit: int = 20, offset: int = 0,
                    min_confidence: float = 0.0) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT i.id, i.kind, i.title, i.published, max(it.confidence) FROM item_topics it "
            f"JOIN items i ON i.id = it.item_id WHERE it.topic_id = ? AND {_MEMBER} "
            "GROUP BY i.id ORDER BY i.published IS NULL, i.published DESC, max(it.confidence) DESC, i.id DESC "
            "LIMIT ? OFFSET ?", (topic_id, min_confidence, limit, offset)).fetchall()
        items = {row[0]: {"id": row[0], "kind": row[1], "title": row[2], "published": row[3],
                          "confidence": round(row[4], 4), "sources": []} for row in rows}
        if items:
            ids = list(items)
            for item_id, label, format_name in self._db.execute(
                    f"SELECT DISTINCT item_id, label, format FROM source_records WHERE item_id IN ({_marks(len(ids))}) "
                    "ORDER BY item_id, id", ids):
                source = label or format_name
                if source not in items[item_id]["sources"]:
                    items[item_id]["sources"].append(source)
        return [items[row[0]] for row in rows]

    def topic_day_counts(self, topic_id: int, min_confidence: float = 0.0) -> list[tuple[str, int]]:
        return [tuple(row) for row in self._db.execute(
            "SELECT i.published, count(DISTINCT i.id) FROM item_topics it JOIN items i ON i.id = it.item_id "
            f"WHERE it.topic_id = ? AND {_MEMBER} AND i.published IS NOT NULL "
            "GROUP BY i.published ORDER BY i.published", (topic_id, min_confidence))]

    def topic_item_authors(self, topic_id: int, min_confidence: float = 0.0) -> list[tuple[int, float, list[int]]]:
        items: dict[int, tuple[float, list[int]]] = {}
        for item_id, confidence in self._db.execute(
                f"SELECT it.item_id, max(CASE WHEN it.assigned_by IN ({_GOLD}) THEN 1.0 ELSE it.confidence END) "
                f"FROM item_topics it WHERE it.topic_id = ? AND {_MEMBER} GROUP BY it.item_id",
                (topic_id, min_confidence)):
            items[item_id] = (confidence, [])
        ids = list(items)
        for chunk in _chunks(ids):
            for item_id, author_id in self._db.execute(
                    f"SELECT item_id, author_id FROM item_authors WHERE item_id IN ({_marks(len(chunk))}) "
                    "ORDER BY item_id, position", chunk):
                items[item_id][1].append(author_id)
        return [(item_id, confidence, authors) for item_id, (confidence, authors) in items.items()]

    # -- authors ----------------------------------------------------------------------------

    def author_graph(self, topic_confidence: float = 0.5) -> AuthorGraph:
        authors = {row[0]: (row[1], row[2]) for row in self._db.execute("SELECT id, name, key FROM authors")}
        item_authors: dict[int, list[int]] = {}
        for item_id, author_id in self._db.execute(
                "SELECT item_id, author_id FROM item_authors ORDER BY item_id, position"):
            item_authors.setdefault(item_id, []).append(author_id)
        item_topics: dict[int, set[int]] = {}
        for item_id, topic_id in self._db.execute(
                f"SELECT it.item_id, it.topic_id FROM item_topics it WHERE {_MEMBER}", (topic_confidence,)):
            item_topics.setdefault(item_id, set()).add(topic_id)
        return AuthorGraph(authors=authors, item_authors=item_authors, item_topics=item_topics)

    def save_author_identities(self, identities: dict[int, int], scope: list[int] | None = None) -> None:
        def work() -> None:
            if scope is None:
                self._db.execute("DELETE FROM author_identities")
            for chunk in _chunks(scope or []):
                marks = _marks(len(chunk))
                self._db.execute(f"DELETE FROM author_identities WHERE author_id IN ({marks}) "
                                 f"OR identity_id IN ({marks})", chunk + chunk)
            self._db.executemany("INSERT INTO author_identities (author_id, identity_id) VALUES (?, ?)",
                                 [(author, identity) for author, identity in identities.items() if author != identity])

        self._topics_write(work)

    def authors_by_key(self, keys: list[str]) -> list[tuple[int, str, int]]:
        found: list[tuple[int, str, int]] = []
        for chunk in _chunks(keys):
            found += [tuple(row) for row in self._db.execute(
                "SELECT a.id, a.name, coalesce(ai.identity_id, a.id) FROM authors a "
                f"LEFT JOIN author_identities ai ON ai.author_id = a.id WHERE a.key IN ({_marks(len(chunk))}) "
                "ORDER BY a.id", chunk)]
        return found

    def identity_members(self, identity_ids: list[int]) -> dict[int, list[int]]:
        members: dict[int, list[int]] = {identity: [identity] for identity in identity_ids}
        for chunk in _chunks(identity_ids):
            for author_id, identity in self._db.execute(
                    "SELECT author_id, identity_id FROM author_identities "
                    f"WHERE identity_id IN ({_marks(len(chunk))}) ORDER BY author_id", chunk):
                members[identity].append(author_id)
        return members

    def author_names(self, author_ids: list[int]) -> dict[int, str]:
        names: dict[int, str] = {}
        for chunk in _chunks(author_ids):
            names.update(self._db.execute(f"SELECT id, name FROM authors WHERE id IN ({_marks(len(chunk))})", chunk))
        return names

    def identities_of(self, author_ids: list[int]) -> dict[int, int]:
        identities = {author_id: author_id for author_id in author_ids}
        for chunk in _chunks(author_ids):
            identities.update(self._db.execute(
                "SELECT author_id, identity_id FROM author_identities "
                f"WHERE author_id IN ({_marks(len(chunk))})", chunk))
        return identities

    def author_papers(self, author_ids: list[int]) -> list[dict[str, Any]]:
        ids: list[int] = []
        for chunk in _chunks(author_ids):
            ids += [row[0] for row in self._db.execute(
                f"SELECT DISTINCT item_id FROM item_authors WHERE author_id IN ({_marks(len(chunk))})", chunk)]
        items: dict[int, dict[str, Any]] = {}
        for chunk in _chunks(sorted(set(ids))):
            marks = _marks(len(chunk))
            for row in self._db.execute(
                    f"SELECT id, kind, title, published FROM items WHERE id IN ({marks})", chunk):
                items[row[0]] = {"id": row[0], "kind": row[1], "title": row[2], "published": row[3],
                                 "author_ids": [], "topics": []}
            for item_id, author_id in self._db.execute(
                    f"SELECT item_id, author_id FROM item_authors WHERE item_id IN ({marks}) "
                    "ORDER BY item_id, position", chunk):
                items[item_id]["author_ids"].append(author_id)
            for item_id, name, assigned_by, confidence in self._db.execute(
                    "SELECT it.item_id, t.name, it.assigned_by, it.confidence FROM item_topics it "
                    f"JOIN topics t ON t.id = it.topic_id WHERE it.item_id IN ({marks})", chunk):
                items[item_id]["topics"].append((name, 1.0 if assigned_by in GOLD_ASSIGNERS else confidence))
        return sorted(items.values(), key=lambda item: (item["published"] or "", item["id"]), reverse=True)

