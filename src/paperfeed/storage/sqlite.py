"""The SQLite backend: one file, WAL, foreign keys on, one writer at a time."""

from __future__ import annotations

import itertools
import re
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import orjson

from ..merge import ItemSummary, summarize
from ..normalize import author_key, utc_now
from .base import BatchWrite, IngestSession, Store, StoreError
from .sqlite_daily import SQLiteDailyStorage
from .sqlite_schema import MIGRATIONS
from .sqlite_search import SQLiteSearchStorage
from .sqlite_sync import SQLiteSyncStorage
from .sqlite_topics import SQLiteTopicStorage
from .sqlite_web import SQLiteWebStorage

# SQLite's default limit on host parameters is 32766 since 3.32; stay well below it.
_CHUNK = 900
IDS_CACHED = 20000
"""Author (and topic) name -> id entries kept between batches; past it the oldest half goes (a miss re-reads)."""


def _trim(cache: dict, limit: int = IDS_CACHED) -> None:
    """Drop the oldest half of an id cache once it holds more than ``limit``, so a long sync's memory stays flat."""
    if len(cache) > limit:
        for name in list(itertools.islice(cache, len(cache) - limit // 2)):
            del cache[name]


def _chunks(values: list, size: int = _CHUNK) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _marks(count: int) -> str:
    return ",".join("?" * count)


def _statements(script: str) -> Iterator[str]:
    """Split a migration script into statements; a trigger body's semicolons stay inside its statement."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if pending.strip():
        yield pending


def slugify(name: str) -> str:
    """``Large Language Model`` -> ``large-language-model``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "topic"


class SQLiteStore(SQLiteSearchStorage, SQLiteSyncStorage, SQLiteTopicStorage, SQLiteWebStorage, SQLiteDailyStorage,
                  Store):
    """A store in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode = WAL")
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"cannot open SQLite store {self.path}: {error}") from None
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA busy_timeout = 30000")
        # Ingest inserts into several random-key indexes; a 2 MB default cache would thrash on them. 16 MB
        # ingests as fast as 128 MB did (bench/ingest.py, back to back) and keeps a long sync's memory flat.
        self._db.execute("PRAGMA cache_size = -16384")
        self._in_group = False
        self._author_ids: dict[str, int] = {}
        self._topic_ids: dict[str, int] = {}

    # -- schema ---------------------------------------------------------------------------

    def applied_migrations(self) -> list[str]:
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        return [row[0] for row in self._db.execute("SELECT name FROM schema_migrations ORDER BY rowid")]

    def known_migrations(self) -> list[str]:
        return [name for name, _ in MIGRATIONS]

    def migrate(self) -> list[str]:
        applied = self.applied_migrations()
        known = [name for name, _ in MIGRATIONS]
        unknown = [name for name in applied if name not in known]
        if unknown:
            raise StoreError(f"{self.path} was written by a newer paperfeed (migrations {', '.join(unknown)})")
        done = []
        for name, script in MIGRATIONS:
            if name in applied:
                continue
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(script):
                    self._db.execute(statement)
                self._db.execute("INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)", (name, utc_now()))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            done.append(name)
        return done

    def check_integrity(self) -> list[str]:
        problems = [row[0] for row in self._db.execute("PRAGMA integrity_check") if row[0] != "ok"]
        problems += [f"foreign key violation in {row[0]} rowid {row[1]}"
                     for row in self._db.execute("PRAGMA foreign_key_check")]
        return problems

    def close(self) -> None:
        self._db.close()

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def ingest_session(self) -> Iterator[IngestSession]:
        # Inside a write group a session is a savepoint: it rolls back alone, and commits with the group.
        begin, commit, rollback = (
            ("SAVEPOINT ingest_file", "RELEASE ingest_file", "ROLLBACK TO ingest_file")
            if self._in_group else ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")
        )
        self._db.execute(begin)
        try:
            yield _SQLiteIngestSession(self)
        except BaseException:
            self._db.execute(rollback)
            if self._in_group:
                self._db.execute("RELEASE ingest_file")
            # Ids cached during the failed transaction may not exist any more.
            self._author_ids.clear()
            self._topic_ids.clear()
            raise
        self._db.execute(commit)

    @contextmanager
    def write_group(self) -> Iterator[Callable[[], None]]:
        self._db.execute("BEGIN IMMEDIATE")
        self._in_group = True

        def commit_now() -> None:
            self._db.execute("COMMIT")
            self._db.execute("BEGIN IMMEDIATE")

        try:
            yield commit_now
        except BaseException:
            self._db.execute("ROLLBACK")
            self._author_ids.clear()
            self._topic_ids.clear()
            raise
        finally:
            self._in_group = False
        self._db.execute("COMMIT")

    def _author_id_map(self, names: set[str]) -> dict[str, int]:
        _trim(self._author_ids)  # before filling: the returned map must hold every name of this batch
        # Sorted: ids then follow the names, not the hash seed's set order (which spelling names a merged
        # author on a tie depends on ids).
        missing = sorted(name for name in names if name not in self._author_ids)
        if missing:
            self._db.executemany(
                "INSERT OR IGNORE INTO authors (name, key) VALUES (?, ?)",
                [(name, author_key(name)) for name in missing],
            )
            for chunk in _chunks(missing):
                for author_id, name in self._db.execute(
                    f"SELECT id, name FROM authors WHERE name IN ({_marks(len(chunk))})", chunk
                ):
                    self._author_ids[name] = author_id
        return self._author_ids

    def _topic_id_map(self, names: set[str]) -> dict[str, int]:
        _trim(self._topic_ids)
        for name in names - self._topic_ids.keys():
            row = self._db.execute("SELECT id FROM topics WHERE name = ?", (name,)).fetchone()
            if row is None:
                slug = slugify(name)
                taken = self._db.execute("SELECT 1 FROM topics WHERE slug = ?", (slug,)).fetchone()
                if taken:
                    slug = f"{slug}-{abs(hash(name)) % 10000}"
                row = self._db.execute("INSERT INTO topics (name, slug) VALUES (?, ?) RETURNING id",
                                       (name, slug)).fetchone()
            self._topic_ids[name] = row[0]
        return self._topic_ids

    # -- reading ---------------------------------------------------------------------------

    def item_count(self) -> int:
        return self._db.execute("SELECT count(*) FROM items").fetchone()[0]

    def read_rows(self, sql: str) -> list[tuple]:
        return [tuple(row) for row in self._db.execute(sql).fetchall()]

    def _execute(self, sql: str, params: tuple) -> list[tuple]:
        # Autocommit: outside a write group one statement is its own transaction.
        return [tuple(row) for row in self._db.execute(sql, params).fetchall()]

    def item_exists(self, item_id: int) -> bool:
        return self._db.execute("SELECT 1 FROM items WHERE id = ?", (item_id,)).fetchone() is not None

    def item_by_identifier(self, scheme: str, value: str) -> int | None:
        row = self._db.execute("SELECT item_id FROM identifiers WHERE scheme = ? AND value = ?",
                                 (scheme, value)).fetchone()
        return row[0] if row else None

    def item_ids_after(self, last: int, limit: int) -> list[int]:
        return [row[0] for row in self._db.execute(
            "SELECT id FROM items WHERE id > ? ORDER BY id LIMIT ?", (last, limit))]

    def export_batch(self, ids: list[int], with_raw: bool = False) -> list[dict[str, Any]]:
        db, marks = self._db, _marks(len(ids))
        items: dict[int, dict[str, Any]] = {}
        for row in db.execute(
            "SELECT id, kind, title, abstract, arxiv_id, doi, url, published, year, upvotes, withdrawn "
            f"FROM items WHERE id IN ({marks}) ORDER BY id", ids
        ):
            items[row[0]] = {
                "id": row[0], "kind": row[1], "title": row[2], "abstract": row[3], "authors": [],
                "arxiv_id": row[4], "doi": row[5], "url": row[6], "published": row[7], "year": row[8],
                "upvotes": row[9], "withdrawn": bool(row[10]), "categories": [], "topics": [], "sources": [],
            }
        for item_id, name in db.execute(
            "SELECT ia.item_id, a.name FROM item_authors ia JOIN authors a ON a.id = ia.author_id "
            f"WHERE ia.item_id IN ({marks}) ORDER BY ia.item_id, ia.position", ids
        ):
            items[item_id]["authors"].append(name)
        for item_id, category in db.execute(
            f"SELECT item_id, category FROM item_categories WHERE item_id IN ({marks}) ORDER BY item_id, position",
            ids,
        ):
            items[item_id]["categories"].append(category)
        for item_id, name, confidence, assigned_by in db.execute(
            "SELECT it.item_id, t.name, it.confidence, it.assigned_by FROM item_topics it "
            f"JOIN topics t ON t.id = it.topic_id WHERE it.item_id IN ({marks}) ORDER BY it.item_id, t.name, "
            "it.assigned_by", ids
        ):
            items[item_id]["topics"].append({"name": name, "confidence": confidence, "assigned_by": assigned_by})
        raw_column = ", raw" if with_raw else ""
        for row in db.execute(
            f"SELECT item_id, format, label, record_id, origin, seen_at, deleted{raw_column} FROM source_records "
            f"WHERE item_id IN ({marks}) ORDER BY item_id, id", ids
        ):
            source = {"format": row[1], "label": row[2], "record_id": row[3], "origin": row[4],
                      "seen_at": row[5], "deleted": bool(row[6])}
            if with_raw:
                source["raw"] = row[7]
            items[row[0]]["sources"].append(source)
        return [items[item_id] for item_id in ids if item_id in items]


class _SQLiteIngestSession(IngestSession):
    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.db = store._db

    def known_fingerprints(self, fingerprints: list[str]) -> set[str]:
        known: set[str] = set()
        for chunk in _chunks(fingerprints):
            known.update(row[0] for row in self.db.execute(
                f"SELECT fingerprint FROM source_records WHERE fingerprint IN ({_marks(len(chunk))})", chunk))
        return known

    def items_by_identifier(self, identifiers: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        found: dict[tuple[str, str], int] = {}
        by_scheme: dict[str, list[str]] = {}
        for scheme, value in identifiers:
            by_scheme.setdefault(scheme, []).append(value)
        for scheme, values in by_scheme.items():
            for chunk in _chunks(values):
                for value, item_id in self.db.execute(
                    f"SELECT value, item_id FROM identifiers WHERE scheme = ? AND value IN ({_marks(len(chunk))})",
                    [scheme, *chunk],
                ):
                    found[(scheme, value)] = item_id
        return found

    def items_by_block_key(self, keys: list[int], without_arxiv_id: bool = False) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {}
        query = ("SELECT key, item_id FROM block_keys JOIN items ON items.id = item_id "
                 "WHERE items.arxiv_id IS NULL AND key IN ({})" if without_arxiv_id else
                 "SELECT key, item_id FROM block_keys WHERE key IN ({})")
        for chunk in _chunks(keys):
            for key, item_id in self.db.execute(query.format(_marks(len(chunk))), chunk):
                found.setdefault(key, []).append(item_id)
        return found

    def summaries(self, item_ids: list[int]) -> dict[int, ItemSummary]:
        result: dict[int, ItemSummary] = {}
        for chunk in _chunks(item_ids):
            marks = _marks(len(chunk))
            authors: dict[int, list[str]] = {}
            for item_id, name in self.db.execute(
                "SELECT ia.item_id, a.name FROM item_authors ia JOIN authors a ON a.id = ia.author_id "
                f"WHERE ia.item_id IN ({marks})", chunk
            ):
                authors.setdefault(item_id, []).append(name)
            for item_id, title, year, arxiv, doi in self.db.execute(
                f"SELECT id, title, year, arxiv_id, doi FROM items WHERE id IN ({marks})", chunk
            ):
                result[item_id] = summarize(item_id, title, authors.get(item_id, ()), year, arxiv, doi)
            for item_id, origin in self.db.execute(
                f"SELECT DISTINCT item_id, origin FROM source_records WHERE item_id IN ({marks})", chunk
            ):
                result[item_id].origins.add(origin)
        return result

    def record_data(self, item_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        result: dict[int, list[dict[str, Any]]] = {}
        for chunk in _chunks(item_ids):
            for item_id, data in self.db.execute(
                f"SELECT item_id, data FROM source_records WHERE item_id IN ({_marks(len(chunk))}) ORDER BY id",
                chunk,
            ):
                result.setdefault(item_id, []).append(orjson.loads(data))
        return result

    def abstracts(self, item_ids: list[int]) -> dict[int, str]:
        result: dict[int, str] = {}
        for chunk in _chunks(item_ids):
            result.update(self.db.execute(
                f"SELECT id, abstract FROM items WHERE id IN ({_marks(len(chunk))})", chunk))
        return result

    def allocate_item_ids(self, count: int) -> list[int]:
        # Safe under BEGIN IMMEDIATE: this connection is the only writer until COMMIT.
        start = (self.db.execute("SELECT max(id) FROM items").fetchone()[0] or 0) + 1
        return list(range(start, start + count))

    def write(self, batch: BatchWrite) -> None:
        db, now = self.db, utc_now()
        new_ids = set(batch.new_item_ids)
        rows = []
        for item_id, fields in batch.items.items():
            rows.append((fields.kind, fields.title, fields.abstract, fields.arxiv_id, fields.doi, fields.url,
                         fields.published, fields.year, fields.upvotes, int(fields.withdrawn), now, item_id))
        db.executemany(
            "INSERT INTO items (kind, title, abstract, arxiv_id, doi, url, published, year, upvotes, withdrawn, "
            "updated_at, id, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [row + (now,) for row in rows if row[-1] in new_ids],
        )
        touched = [item_id for item_id in batch.items if item_id not in new_ids]
        db.executemany(
            "UPDATE items SET kind=?, title=?, abstract=?, arxiv_id=?, doi=?, url=?, published=?, year=?, upvotes=?, "
            "withdrawn=?, updated_at=? WHERE id=?",
            [row for row in rows if row[-1] not in new_ids],
        )
        db.executemany(
            "INSERT INTO source_records (item_id, fingerprint, format, record_id, origin, label, seen_at, deleted, "
            "raw, data) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [(r.item_id, r.fingerprint, r.format, r.record_id, r.origin, r.label, r.seen_at, int(r.deleted), r.raw,
              orjson.dumps(r.data).decode()) for r in batch.source_records],
        )
        db.executemany("INSERT OR IGNORE INTO identifiers (scheme, value, item_id) VALUES (?,?,?)", batch.identifiers)
        db.executemany("INSERT OR IGNORE INTO block_keys (key, item_id) VALUES (?,?)", batch.block_keys)
        for chunk in _chunks(touched):
            marks = _marks(len(chunk))
            db.execute(f"DELETE FROM item_authors WHERE item_id IN ({marks})", chunk)
            db.execute(f"DELETE FROM item_categories WHERE item_id IN ({marks})", chunk)
            db.execute(f"DELETE FROM item_topics WHERE assigned_by = 'source' AND item_id IN ({marks})", chunk)
        author_ids = self.store._author_id_map({name for f in batch.items.values() for name in f.authors})
        db.executemany(
            "INSERT INTO item_authors (item_id, position, author_id) VALUES (?,?,?)",
            [(item_id, position, author_ids[name]) for item_id, fields in batch.items.items()
             for position, name in enumerate(fields.authors)],
        )
        db.executemany(
            "INSERT INTO item_categories (item_id, position, category) VALUES (?,?,?)",
            [(item_id, position, category) for item_id, fields in batch.items.items()
             for position, category in enumerate(fields.categories)],
        )
        topic_names = {name for fields in batch.items.values() for name in fields.topics}
        if topic_names:
            topic_ids = self.store._topic_id_map(topic_names)
            db.executemany(
                "INSERT INTO item_topics (item_id, topic_id, assigned_by, confidence) VALUES (?,?,'source',?)",
                [(item_id, topic_ids[name], confidence) for item_id, fields in batch.items.items()
                 for name, confidence in fields.topics.items()],
            )
