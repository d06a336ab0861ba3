"""PostgreSQL side of ``TopicStorage``: a mixin of ``PostgresStore`` sharing its connection ``self._conn``.

Topic models, item topics, author identities. Mirrors ``sqlite_topics.py``; behaviour must match it (the same
tests run on both backends). Where SQLite returns rows in an order its plan happens to give (a primary key
scan, a GROUP BY), the queries here say that order, so both backends hand callers the same lists; text is
ordered COLLATE "C", SQLite's byte order, whatever the database's locale.
"""

from __future__ import annotations

from typing import Any, Callable

import orjson
import psycopg

from .topics_base import (GOLD_ASSIGNERS, TAGGER, AuthorGraph, StoredModel, TagInput, TagResult, TopicRow,
                          TopicStorage)


_GOLD = ",".join(f"'{name}'" for name in GOLD_ASSIGNERS)
# A topic's members: gold labels always, the tagger's at or above a confidence (a parameter).
_MEMBER = f"(it.assigned_by IN ({_GOLD}) OR (it.assigned_by = '{TAGGER}' AND it.confidence >= %s))"


class PostgresTopicStorage(TopicStorage):
    """Topic models, item topics, author identities in PostgreSQL."""

    _conn: psycopg.Connection
    _lock_writers: Callable[[], None]

    def _topics_write(self, work: Callable[[], Any]) -> Any:
        """Run ``work()`` in one transaction (a savepoint of the caller's when one is open, e.g. a write group)."""
        with self._conn.transaction():
            return work()

    # -- topic definitions ------------------------------------------------------------------

    def save_topics(self, topics: list[TopicRow]) -> dict[str, int]:
        from .items import slugify

        def work() -> dict[str, int]:
            db = self._conn
            # Ingest creates topics (a capture's header) under the writers' lock; taking it too keeps the
            # slug chosen here from racing one chosen there.
            self._lock_writers()
            ids: dict[str, int] = {}
            for topic in topics:
                row = db.execute("SELECT id FROM topics WHERE name = %s", (topic.name,)).fetchone()
                values = (topic.description, orjson.dumps(topic.categories).decode(),
                          orjson.dumps(topic.phrases).decode(), topic.origin)
                if row:
                    db.execute("UPDATE topics SET description = %s, categories = %s, phrases = %s, origin = %s "
                               "WHERE id = %s", (*values, row[0]))
                    ids[topic.name] = row[0]
                    continue
                slug = topic.slug or slugify(topic.name)
                suffix = 2
                while db.execute("SELECT 1 FROM topics WHERE slug = %s", (slug,)).fetchone():
                    slug = f"{slugify(topic.name)}-{suffix}"
                    suffix += 1
                ids[topic.name] = db.execute(
                    "INSERT INTO topics (name, slug, description, categories, phrases, origin) "
                    "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id", (topic.name, slug, *values)).fetchone()[0]
            return ids

        return self._topics_write(work)

    def topics(self) -> list[TopicRow]:
        return [TopicRow(name=row[1], slug=row[2], description=row[3], categories=orjson.loads(row[4]),
                         phrases=orjson.loads(row[5]), origin=row[6], id=row[0])
                for row in self._conn.execute(
                    "SELECT id, name, slug, description, categories, phrases, origin FROM topics "
                    "ORDER BY name COLLATE \"C\"")]

    def topic_item_counts(self, min_confidence: float = 0.0) -> dict[int, int]:
        return dict(self._conn.execute(
            f"SELECT it.topic_id, count(DISTINCT it.item_id) FROM item_topics it WHERE {_MEMBER} "
            "GROUP BY it.topic_id ORDER BY it.topic_id", (min_confidence,)))

    # -- tagger models and tags -------------------------------------------------------------

    def save_model(self, model: StoredModel) -> None:
        self._topics_write(lambda: self._conn.execute(
            "INSERT INTO tagger_models (name, version, trained_at, meta, arrays) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET version = excluded.version, trained_at = excluded.trained_at, "
            "meta = excluded.meta, arrays = excluded.arrays",
            (model.name, model.version, model.trained_at, orjson.dumps(model.meta).decode(), model.arrays)))

    def _tag_inputs(self, ids: list[int]) -> list[TagInput]:
        db = self._conn
        items = {row[0]: TagInput(id=row[0], kind=row[1], title=row[2], abstract=row[3], published=row[4],
                                  updated_at=row[5])
                 for row in db.execute("SELECT id, kind, title, abstract, published, updated_at FROM items "
                                       "WHERE id = ANY(%s)", (ids,))}
        for item_id, category in db.execute(
                "SELECT item_id, category FROM item_categories WHERE item_id = ANY(%s) ORDER BY item_id, position",
                (ids,)):
            items[item_id].categories.append(category)
        for item_id, name in db.execute(
                "SELECT ia.item_id, a.name FROM item_authors ia JOIN authors a ON a.id = ia.author_id "
                "WHERE ia.item_id = ANY(%s) ORDER BY ia.item_id, ia.position", (ids,)):
            items[item_id].authors.append(name)
        for item_id, name in db.execute(
                "SELECT it.item_id, t.name FROM item_topics it JOIN topics t ON t.id = it.topic_id "
                f"WHERE it.assigned_by IN ({_GOLD}) AND it.item_id = ANY(%s) "
                "ORDER BY it.item_id, it.topic_id, it.assigned_by", (ids,)):
            items[item_id].gold_topics.append(name)
        return [items[item_id] for item_id in ids if item_id in items]

    def count_due(self, version: str) -> int:
        return self._conn.execute(
            "SELECT count(*) FROM items i LEFT JOIN item_tag_state s ON s.item_id = i.id "
            "WHERE s.item_id IS NULL OR s.version <> %s OR s.item_updated_at <> i.updated_at",
            (version,)).fetchone()[0]

    def write_tags(self, version: str, results: list[TagResult]) -> None:
        def work() -> None:
            ids = [result.item_id for result in results]
            with self._conn.cursor() as cursor:
                cursor.execute(f"DELETE FROM item_topics WHERE assigned_by = '{TAGGER}' AND item_id = ANY(%s)",
                               (ids,))
                cursor.execute("DELETE FROM predicted_categories WHERE item_id = ANY(%s)", (ids,))
                # One statement per row (pipelined by psycopg): a pair given twice replaces, as on SQLite.
                cursor.executemany(
                    "INSERT INTO item_topics (item_id, topic_id, assigned_by, confidence) "
                    f"VALUES (%s, %s, '{TAGGER}', %s) "
                    "ON CONFLICT (item_id, topic_id, assigned_by) DO UPDATE SET confidence = excluded.confidence",
                    [(r.item_id, topic_id, confidence) for r in results for topic_id, confidence in r.topics])
                cursor.executemany(
                    "INSERT INTO predicted_categories (item_id, category, confidence) VALUES (%s, %s, %s) "
                    "ON CONFLICT (item_id, category) DO UPDATE SET confidence = excluded.confidence",
                    [(r.item_id, category, confidence) for r in results for category, confidence in r.categories])
                cursor.executemany(
                    "INSERT INTO item_tag_state (item_id, version, item_updated_at) VALUES (%s, %s, %s) "
                    "ON CONFLICT (item_id) DO UPDATE SET version = excluded.version, "
                    "item_updated_at = excluded.item_updated_at",
                    [(r.item_id, version, r.updated_at) for r in results])

        self._topics_write(work)

    def predicted_categories(self, item_ids: list[int]) -> dict[int, list[tuple[str, float]]]:
        found: dict[int, list[tuple[str, float]]] = {}
        for item_id, category, confidence in self._conn.execute(
                "SELECT item_id, category, confidence FROM predicted_categories WHERE item_id = ANY(%s) "
                "ORDER BY item_id, confidence DESC, category COLLATE \"C\"", (item_ids,)):
            found.setdefault(item_id, []).append((category, confidence))
        return found

    def item_topic_confidences(self, item_ids: list[int]) -> dict[int, list[tuple[str, str, float]]]:
        found: dict[int, list[tuple[str, str, float]]] = {}
        for item_id, name, assigned_by, confidence in self._conn.execute(
                "SELECT it.item_id, t.name, it.assigned_by, it.confidence FROM item_topics it "
                "JOIN topics t ON t.id = it.topic_id WHERE it.item_id = ANY(%s) "
                "ORDER BY it.item_id, it.confidence DESC, t.name COLLATE \"C\", it.assigned_by", (item_ids,)):
            found.setdefault(item_id, []).append((name, assigned_by, confidence))
        return found

    # -- topic pages ------------------------------------------------------------------------

    def topic_items(self, topic_id: int, limit: int = 20, offset: int = 0,
                    min_confidence: float = 0.0) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT i.id, i.kind, i.title, i.published, max(it.confidence) FROM item_topics it "
            f"JOIN items i ON i.id = it.item_id WHERE it.topic_id = %s AND {_MEMBER} "
            "GROUP BY i.id ORDER BY i.published IS NULL, i.published COLLATE \"C\" DESC, max(it.confidence) DESC, "
            "i.id DESC LIMIT %s OFFSET %s", (topic_id, min_confidence, limit, offset)).fetchall()
        items = {row[0]: {"id": row[0], "kind": row[1], "title": row[2], "published": row[3],
                          "confidence": round(row[4], 4), "sources": []} for row in rows}
        if items:
            # Each label once, in the order first seen (SQLite's DISTINCT … ORDER BY id gives the same).
            for item_id, label, format_name in self._conn.execute(
                    "SELECT item_id, label, format FROM source_records WHERE item_id = ANY(%s) ORDER BY item_id, id",
                    (list(items),)):
                source = label or format_name
                if source not in items[item_id]["sources"]:
                    items[item_id]["sources"].append(source)
        return [items[row[0]] for row in rows]

    def topic_day_counts(self, topic_id: int, min_confidence: float = 0.0) -> list[tuple[str, int]]:
        return [tuple(row) for row in self._conn.execute(
            "SELECT i.published, count(DISTINCT i.id) FROM item_topics it JOIN items i ON i.id = it.item_id "
            f"WHERE it.topic_id = %s AND {_MEMBER} AND i.published IS NOT NULL "
            "GROUP BY i.published ORDER BY i.published COLLATE \"C\"", (topic_id, min_confidence))]

    def topic_item_authors(self, topic_id: int, min_confidence: float = 0.0) -> list[tuple[int, float, list[int]]]:
        items: dict[int, tuple[float, list[int]]] = {}
        for item_id, confidence in self._conn.execute(
                f"SELECT it.item_id, max(CASE WHEN it.assigned_by IN ({_GOLD}) THEN 1.0 ELSE it.confidence END) "
                f"FROM item_topics it WHERE it.topic_id = %s AND {_MEMBER} GROUP BY it.item_id ORDER BY it.item_id",
                (topic_id, min_confidence)):
            items[item_id] = (float(confidence), [])
        for item_id, author_id in self._conn.execute(
                "SELECT item_id, author_id FROM item_authors WHERE item_id = ANY(%s) ORDER BY item_id, position",
                (list(items),)):
            items[item_id][1].append(author_id)
        return [(item_id, confidence, authors) for item_id, (confidence, authors) in items.items()]

    # -- authors ----------------------------------------------------------------------------

    def author_graph(self, topic_confidence: float = 0.5) -> AuthorGraph:
        db = self._conn
        authors = {row[0]: (row[1], row[2]) for row in db.execute("SELECT id, name, key FROM authors ORDER BY id")}
        item_authors: dict[int, list[int]] = {}
        for item_id, author_id in db.execute("SELECT item_id, author_id FROM item_authors ORDER BY item_id, position"):
            item_authors.setdefault(item_id, []).append(author_id)
        item_topics: dict[int, set[int]] = {}
        for item_id, topic_id in db.execute(
                f"SELECT it.item_id, it.topic_id FROM item_topics it WHERE {_MEMBER} ORDER BY it.item_id, it.topic_id",
                (topic_confidence,)):
            item_topics.setdefault(item_id, set()).add(topic_id)
        return AuthorGraph(authors=authors, item_authors=item_authors, item_topics=item_topics)

    def save_author_identities(self, identities: dict[int, int], scope: list[int] | None = None) -> None:
        merged = [(author, identity) for author, identity in identities.items() if author != identity]

        def work() -> None:
            db = self._conn
            if scope is None:
                db.execute("DELETE FROM author_identities")
            elif scope:
                db.execute("DELETE FROM author_identities WHERE author_id = ANY(%s) OR identity_id = ANY(%s)",
                           (scope, scope))
            if merged:
                # One statement for the lot (a full refresh may merge tens of thousands); author ids are unique.
                db.execute("INSERT INTO author_identities (author_id, identity_id) "
                           "SELECT * FROM unnest(%s::bigint[], %s::bigint[])",
                           ([author for author, _ in merged], [identity for _, identity in merged]))

        self._topics_write(work)

    def authors_by_key(self, keys: list[str]) -> list[tuple[int, str, int]]:
        return [tuple(row) for row in self._conn.execute(
            "SELECT a.id, a.name, coalesce(ai.identity_id, a.id) FROM authors a "
            "LEFT JOIN author_identities ai ON ai.author_id = a.id WHERE a.key = ANY(%s) ORDER BY a.id", (keys,))]

    def identity_members(self, identity_ids: list[int]) -> dict[int, list[int]]:
        members: dict[int, list[int]] = {identity: [identity] for identity in identity_ids}
        for author_id, identity in self._conn.execute(
                "SELECT author_id, identity_id FROM author_identities WHERE identity_id = ANY(%s) ORDER BY author_id",
                (identity_ids,)):
            members[identity].append(author_id)
        return members

    def author_names(self, author_ids: list[int]) -> dict[int, str]:
        return dict(self._conn.execute("SELECT id, name FROM authors WHERE id = ANY(%s) ORDER BY id", (author_ids,)))

    def identities_of(self, author_ids: list[int]) -> dict[int, int]:
        identities = {author_id: author_id for author_id in author_ids}
        identities.update(self._conn.execute(
            "SELECT author_id, identity_id FROM author_identities WHERE author_id = ANY(%s)", (author_ids,)))
        return identities

    def author_papers(self, author_ids: list[int]) -> list[dict[str, Any]]:
        db = self._conn
        ids = [row[0] for row in db.execute(
            "SELECT DISTINCT item_id FROM item_authors WHERE author_id = ANY(%s) ORDER BY item_id", (author_ids,))]
        items: dict[int, dict[str, Any]] = {}
        for row in db.execute("SELECT id, kind, title, published FROM items WHERE id = ANY(%s) ORDER BY id", (ids,)):
            items[row[0]] = {"id": row[0], "kind": row[1], "title": row[2], "published": row[3],
                             "author_ids": [], "topics": []}
        for item_id, author_id in db.execute(
                "SELECT item_id, author_id FROM item_authors WHERE item_id = ANY(%s) ORDER BY item_id, position",
                (ids,)):
            items[item_id]["author_ids"].append(author_id)
        for item_id, name, assigned_by, confidence in db.execute(
                "SELECT it.item_id, t.name, it.assigned_by, it.confidence FROM item_topics it "
                "JOIN topics t ON t.id = it.topic_id WHERE it.item_id = ANY(%s) "
                "ORDER BY it.item_id, it.topic_id, it.assigned_by", (ids,)):
            items[item_id]["topics"].append((name, 1.0 if assigned_by in GOLD_ASSIGNERS else confidence))
        return sorted(items.values(), key=lambda item: (item["published"] or "", item["id"]), reverse=True)
