"""The PostgreSQL backend: the same store as SQLite's, for a team's shared server (docs/deploying.md).

psycopg 3 with a connection pool. A store holds one connection of its pool for its own transactions (an
ingest session or a write group must see its own writes), in autocommit mode between them, so plain reads
never keep a transaction open on a shared server.

Concurrency: uniqueness lives in constraints (a record's fingerprint, an identifier, an author's name, a
topic's name) and writes are upserts (``INSERT … ON CONFLICT``). Merging decides from lookups, so ingest
transactions also take one transaction-scoped advisory lock, the equivalent of SQLite's ``BEGIN IMMEDIATE``:
two ingests of overlapping inputs run one file (or write group batch) after the other, each seeing what
the other committed, and never create the same item twice. Readers are never blocked.

This module holds items, provenance, ingest, export and stats; each other storage area is a mixin in its own
module (``postgres_sync``, ``postgres_topics``, ``postgres_search``, ``postgres_daily``, ``postgres_web``),
as on SQLite, and the same tests run against both backends.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import orjson
import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from ..merge import ItemSummary, summarize
from ..normalize import author_key, utc_now
from .base import BatchWrite, IngestSession, Store, StoreError
from .postgres_daily import PostgresDailyStorage
from .postgres_schema import MIGRATIONS
from .postgres_search import PostgresSearchStorage
from .postgres_sync import PostgresSyncStorage
from .postgres_topics import PostgresTopicStorage
from .postgres_web import PostgresWebStorage
from .sqlite import _trim, slugify

_WRITE_LOCK = 0x70667772  # "pfwr": pg_advisory_xact_lock key held by ingest transactions
_MIGRATE_LOCK = 0x70666D67  # "pfmg": held while migrating
ANALYZE_AFTER_ITEMS = 10_000
"""Items written by one store before its next write group ends with ANALYZE of the tables ingest fills."""


def redact(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user@host/db`` (for messages and ``store.url``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[1]}"))


class PostgresStore(PostgresSearchStorage, PostgresSyncStorage, PostgresTopicStorage, PostgresWebStorage,
                    PostgresDailyStorage, Store):
    """A store in a PostgreSQL database (``postgresql://user@host:port/dbname``)."""

    # Never copied by `paperfeed copy`: who holds the sync's advisory lock, and the full-text index with its
    # progress (the destination rebuilds it from its change log, as SQLite's tantivy index is rebuilt).
    local_tables = frozenset({"schema_migrations", "sync_lock", "item_fulltext", "search_index_progress"})

    def __init__(self, url: str, *, pool_size: int = 4, connect_timeout: float = 10.0) -> None:
        self.url = redact(url)
        self._pool = ConnectionPool(url, min_size=1, max_size=pool_size, open=False,
                                    kwargs={"autocommit": True}, name="paperfeed")
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
            self._conn = self._pool.getconn(timeout=connect_timeout)
        except (PoolTimeout, psycopg.Error) as error:
            self._pool.close()
            raise StoreError(f"cannot connect to PostgreSQL store {self.url}: {error}") from None
        self._tx: psycopg.Transaction | None = None
        self._rows_since_analyze = 0
        self._author_ids: dict[str, int] = {}
        self._topic_ids: dict[str, int] = {}

    @property
    def path(self):
        """Absent: a PostgreSQL store has no file (``getattr(store, "path", None)`` is None); its local search
        index files go to ``default_index_directory()``."""
        raise AttributeError("a PostgreSQL store has no file path")

    # -- schema ---------------------------------------------------------------------------

    def applied_migrations(self) -> list[str]:
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (seq BIGINT GENERATED ALWAYS AS IDENTITY, "
            "name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        return [row[0] for row in self._conn.execute("SELECT name FROM schema_migrations ORDER BY seq")]

    def known_migrations(self) -> list[str]:
        return [name for name, _ in MIGRATIONS]

    def migrate(self) -> list[str]:
        known = [name for name, _ in MIGRATIONS]
        done = []
        with self._conn.transaction():
            # Several workers starting at once: one migrates, the others then find nothing to do.
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
            applied = self.applied_migrations()
            unknown = [name for name in applied if name not in known]
            if unknown:
                raise StoreError(f"{self.url} was written by a newer paperfeed (migrations {', '.join(unknown)})")
            for name, script in MIGRATIONS:
                if name in applied:
                    continue
                with self._conn.transaction():
                    self._conn.execute(script)
                    self._conn.execute("INSERT INTO schema_migrations (name, applied_at) VALUES (%s, %s)",
                                       (name, utc_now()))
                done.append(name)
        return done

    def check_integrity(self) -> list[str]:
        # Constraints are enforced on every write; what can still go wrong is an unfinished migration.
        problems = []
        applied = self.applied_migrations()
        for name, _ in MIGRATIONS:
            if name not in applied:
                problems.append(f"migration {name} not applied")
        orphans = self._conn.execute(
            "SELECT count(*) FROM items i WHERE NOT EXISTS (SELECT 1 FROM source_records s WHERE s.item_id = i.id)"
        ).fetchone()[0] if not problems else 0
        if orphans:
            problems.append(f"{orphans} items without any source record")
        return problems

    def close(self) -> None:
        conn, self._conn = getattr(self, "_conn", None), None
        if conn is not None:
            self._pool.putconn(conn)
        self._pool.close()

    # -- writing ---------------------------------------------------------------------------

    def _lock_writers(self) -> None:
        self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))

    @contextmanager
    def ingest_session(self) -> Iterator[IngestSession]:
        # Inside a write group psycopg makes this a savepoint: it rolls back alone and commits with the group.
        try:
            with self._conn.transaction():
                self._lock_writers()
                yield _PostgresIngestSession(self)
        except BaseException:
            # Ids cached during the failed transaction may not exist any more.
            self._author_ids.clear()
            self._topic_ids.clear()
            raise

    @contextmanager
    def write_group(self) -> Iterator[Callable[[], None]]:
        conn = self._conn

        def begin() -> None:
            self._tx = conn.transaction()
            self._tx.__enter__()
            self._lock_writers()  # held by the group's transaction: a failed file's savepoint cannot drop it

        def commit_now() -> None:
            tx, self._tx = self._tx, None
            tx.__exit__(None, None, None)
            begin()

        begin()
        try:
            yield commit_now
        except BaseException as error:
            tx, self._tx = self._tx, None
            self._author_ids.clear()
            self._topic_ids.clear()
            if tx is not None:
                tx.__exit__(type(error), error, error.__traceback__)
            raise
        tx, self._tx = self._tx, None
        tx.__exit__(None, None, None)
        self._analyze_if_grown()

    def _analyze_if_grown(self) -> None:
        # Autovacuum analyzes a bulk load only some time after it; until then the planner believes the old
        # row counts and picks plans (whole-table scans per row) that take minutes where seconds would do.
        if self._rows_since_analyze >= ANALYZE_AFTER_ITEMS:
            self._rows_since_analyze = 0
            self._conn.execute("ANALYZE items, source_records, identifiers, block_keys, authors, item_authors, "
                               "item_categories")

    def _author_id_map(self, names: set[str]) -> dict[str, int]:
        _trim(self._author_ids)  # before filling: the returned map must hold every name of this batch
        missing = sorted(name for name in names if name not in self._author_ids)
        if missing:
            with self._conn.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO authors (name, key) SELECT * FROM unnest(%s::text[], %s::text[]) "
                    "ON CONFLICT (name) DO NOTHING",
                    (missing, [author_key(name) for name in missing]),
                )
                cursor.execute("SELECT id, name FROM authors WHERE name = ANY(%s)", (missing,))
                for author_id, name in cursor:
                    self._author_ids[name] = author_id
        return self._author_ids

    def _topic_id_map(self, names: set[str]) -> dict[str, int]:
        _trim(self._topic_ids)
        for name in sorted(names - self._topic_ids.keys()):
            row = self._conn.execute("SELECT id FROM topics WHERE name = %s", (name,)).fetchone()
            if row is None:
                slug = slugify(name)
                taken = self._conn.execute("SELECT 1 FROM topics WHERE slug = %s", (slug,)).fetchone()
                if taken:
                    slug = f"{slug}-{abs(hash(name)) % 10000}"
                self._conn.execute("INSERT INTO topics (name, slug) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
                                   (name, slug))
                row = self._conn.execute("SELECT id FROM topics WHERE name = %s", (name,)).fetchone()
            self._topic_ids[name] = row[0]
        return self._topic_ids

    # -- reading ---------------------------------------------------------------------------

    def _scalar(self, query: str, params: Any = None) -> Any:
        return self._conn.execute(query, params).fetchone()[0]

    def item_count(self) -> int:
        return self._scalar("SELECT count(*) FROM items")

    def read_rows(self, sql: str) -> list[tuple]:
        return [tuple(row) for row in self._conn.execute(sql).fetchall()]

    def _execute(self, sql: str, params: tuple) -> list[tuple]:
        cursor = self._conn.execute(sql.replace("?", "%s"), params)
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []

    def item_exists(self, item_id: int) -> bool:
        return self._conn.execute("SELECT 1 FROM items WHERE id = %s", (item_id,)).fetchone() is not None

    def item_by_identifier(self, scheme: str, value: str) -> int | None:
        row = self._conn.execute("SELECT item_id FROM identifiers WHERE scheme = %s AND value = %s",
                                 (scheme, value)).fetchone()
        return row[0] if row else None

    def item_ids_after(self, last: int, limit: int) -> list[int]:
        return [row[0] for row in self._conn.execute(
            "SELECT id FROM items WHERE id > %s ORDER BY id LIMIT %s", (last, limit))]

    def export_batch(self, ids: list[int], with_raw: bool = False) -> list[dict[str, Any]]:
        db = self._conn
        items: dict[int, dict[str, Any]] = {}
        for row in db.execute(
            "SELECT id, kind, title, abstract, arxiv_id, doi, url, published, year, upvotes, withdrawn "
            "FROM items WHERE id = ANY(%s) ORDER BY id", (ids,)
        ):
            items[row[0]] = {
                "id": row[0], "kind": row[1], "title": row[2], "abstract": row[3], "authors": [],
                "arxiv_id": row[4], "doi": row[5], "url": row[6], "published": row[7], "year": row[8],
                "upvotes": row[9], "withdrawn": bool(row[10]), "categories": [], "topics": [], "sources": [],
            }
        for item_id, name in db.execute(
            "SELECT ia.item_id, a.name FROM item_authors ia JOIN authors a ON a.id = ia.author_id "
            "WHERE ia.item_id = ANY(%s) ORDER BY ia.item_id, ia.position", (ids,)
        ):
            items[item_id]["authors"].append(name)
        for item_id, category in db.execute(
            "SELECT item_id, category FROM item_categories WHERE item_id = ANY(%s) ORDER BY item_id, position",
            (ids,),
        ):
            items[item_id]["categories"].append(category)
        for item_id, name, confidence, assigned_by in db.execute(
            "SELECT it.item_id, t.name, it.confidence, it.assigned_by FROM item_topics it "
            # COLLATE "C": the same byte order as SQLite's, whatever the database's locale.
            "JOIN topics t ON t.id = it.topic_id WHERE it.item_id = ANY(%s) ORDER BY it.item_id, t.name COLLATE \"C\", "
            "it.assigned_by COLLATE \"C\"",  # a topic both a source and the tagger gave: the same order
            (ids,),
        ):
            items[item_id]["topics"].append({"name": name, "confidence": confidence, "assigned_by": assigned_by})
        raw_column = ", raw" if with_raw else ""
        for row in db.execute(
            f"SELECT item_id, format, label, record_id, origin, seen_at, deleted{raw_column} FROM source_records "
            "WHERE item_id = ANY(%s) ORDER BY item_id, id", (ids,)
        ):
            source = {"format": row[1], "label": row[2], "record_id": row[3], "origin": row[4],
                      "seen_at": row[5], "deleted": bool(row[6])}
            if with_raw:
                source["raw"] = row[7]
            items[row[0]]["sources"].append(source)
        return [items[item_id] for item_id in ids if item_id in items]


def _text(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; SQLite can. Drop it (no real record needs it)."""
    return value.replace("\x00", "") if value and "\x00" in value else value


class _PostgresIngestSession(IngestSession):
    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        self.db = store._conn

    def known_fingerprints(self, fingerprints: list[str]) -> set[str]:
        return {row[0] for row in self.db.execute(
            "SELECT fingerprint FROM source_records WHERE fingerprint = ANY(%s)", (fingerprints,))}

    def items_by_identifier(self, identifiers: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        if not identifiers:
            return {}
        found: dict[tuple[str, str], int] = {}
        for scheme, value, item_id in self.db.execute(
            "SELECT i.scheme, i.value, i.item_id FROM identifiers i "
            "JOIN unnest(%s::text[], %s::text[]) AS wanted (scheme, value) USING (scheme, value)",
            ([scheme for scheme, _ in identifiers], [value for _, value in identifiers]),
        ):
            found[(scheme, value)] = item_id
        return found

    def items_by_block_key(self, keys: list[int], without_arxiv_id: bool = False) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {}
        query = ("SELECT key, item_id FROM block_keys JOIN items ON items.id = item_id "
                 "WHERE items.arxiv_id IS NULL AND key = ANY(%s::bigint[])" if without_arxiv_id else
                 "SELECT key, item_id FROM block_keys WHERE key = ANY(%s::bigint[])")
        for key, item_id in self.db.execute(query, (keys,)):
            found.setdefault(key, []).append(item_id)
        return found

    def summaries(self, item_ids: list[int]) -> dict[int, ItemSummary]:
        result: dict[int, ItemSummary] = {}
        authors: dict[int, list[str]] = {}
        for item_id, name in self.db.execute(
            "SELECT ia.item_id, a.name FROM item_authors ia JOIN authors a ON a.id = ia.author_id "
            "WHERE ia.item_id = ANY(%s) ORDER BY ia.item_id, ia.position", (item_ids,)
        ):
            authors.setdefault(item_id, []).append(name)
        for item_id, title, year, arxiv, doi in self.db.execute(
            "SELECT id, title, year, arxiv_id, doi FROM items WHERE id = ANY(%s)", (item_ids,)
        ):
            result[item_id] = summarize(item_id, title, authors.get(item_id, ()), year, arxiv, doi)
        for item_id, origin in self.db.execute(
            "SELECT DISTINCT item_id, origin FROM source_records WHERE item_id = ANY(%s)", (item_ids,)
        ):
            result[item_id].origins.add(origin)
        return result

    def record_data(self, item_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        result: dict[int, list[dict[str, Any]]] = {}
        for item_id, data in self.db.execute(
            "SELECT item_id, data FROM source_records WHERE item_id = ANY(%s) ORDER BY id", (item_ids,)
        ):
            result.setdefault(item_id, []).append(orjson.loads(data))
        return result

    def abstracts(self, item_ids: list[int]) -> dict[int, str]:
        return dict(self.db.execute("SELECT id, abstract FROM items WHERE id = ANY(%s)", (item_ids,)))

    def allocate_item_ids(self, count: int) -> list[int]:
        # From the identity's sequence: never handed out twice, even to concurrent writers (gaps are fine).
        return [row[0] for row in self.db.execute(
            "SELECT nextval(pg_get_serial_sequence('items', 'id')) FROM generate_series(1, %s)", (count,))]

    def write(self, batch: BatchWrite) -> None:
        db, now = self.db, utc_now()
        self.store._rows_since_analyze += len(batch.items)
        new_ids = set(batch.new_item_ids)
        rows = []
        for item_id, fields in batch.items.items():
            rows.append((fields.kind, _text(fields.title), _text(fields.abstract), fields.arxiv_id, fields.doi,
                         _text(fields.url), fields.published, fields.year, fields.upvotes, bool(fields.withdrawn),
                         now, item_id))
        with db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO items (kind, title, abstract, arxiv_id, doi, url, published, year, upvotes, withdrawn, "
                "updated_at, id, created_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                [row + (now,) for row in rows if row[-1] in new_ids],
            )
            touched = [item_id for item_id in batch.items if item_id not in new_ids]
            cursor.executemany(
                "UPDATE items SET kind=%s, title=%s, abstract=%s, arxiv_id=%s, doi=%s, url=%s, published=%s, "
                "year=%s, upvotes=%s, withdrawn=%s, updated_at=%s WHERE id=%s",
                [row for row in rows if row[-1] not in new_ids],
            )
            # A fingerprint stored twice is a bug or a writer outside the lock: let the constraint fail the file.
            cursor.executemany(
                "INSERT INTO source_records (item_id, fingerprint, format, record_id, origin, label, seen_at, "
                "deleted, raw, data) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                [(r.item_id, r.fingerprint, r.format, _text(r.record_id), _text(r.origin), _text(r.label), r.seen_at,
                  bool(r.deleted), _text(r.raw), _text(orjson.dumps(r.data).decode()))
                 for r in batch.source_records],
            )
            cursor.executemany("INSERT INTO identifiers (scheme, value, item_id) VALUES (%s,%s,%s) "
                               "ON CONFLICT DO NOTHING", batch.identifiers)
            cursor.executemany("INSERT INTO block_keys (key, item_id) VALUES (%s,%s) ON CONFLICT DO NOTHING",
                               batch.block_keys)
            if touched:
                cursor.execute("DELETE FROM item_authors WHERE item_id = ANY(%s)", (touched,))
                cursor.execute("DELETE FROM item_categories WHERE item_id = ANY(%s)", (touched,))
                cursor.execute("DELETE FROM item_topics WHERE assigned_by = 'source' AND item_id = ANY(%s)",
                               (touched,))
            author_ids = self.store._author_id_map({name for f in batch.items.values() for name in f.authors})
            cursor.executemany(
                "INSERT INTO item_authors (item_id, position, author_id) VALUES (%s,%s,%s)",
                [(item_id, position, author_ids[name]) for item_id, fields in batch.items.items()
                 for position, name in enumerate(fields.authors)],
            )
            cursor.executemany(
                "INSERT INTO item_categories (item_id, position, category) VALUES (%s,%s,%s)",
                [(item_id, position, category) for item_id, fields in batch.items.items()
                 for position, category in enumerate(fields.categories)],
            )
            topic_names = {name for fields in batch.items.values() for name in fields.topics}
            if topic_names:
                topic_ids = self.store._topic_id_map(topic_names)
                cursor.executemany(
                    "INSERT INTO item_topics (item_id, topic_id, assigned_by, confidence) VALUES (%s,%s,'source',%s)",
                    [(item_id, topic_ids[name], confidence) for item_id, fields in batch.items.items()
                     for name, confidence in fields.topics.items()],
                )
