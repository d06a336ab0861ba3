"""The PostgreSQL backend: the same store as SQLite's, for a team's shared server (docs/deploying.md).

psycopg 3 with a connection pool. A store holds one connection of its pool for its own transactions (an
ingest session or a write group must see its own writes), in autocommit mode between them, so plain reads
never keep a transaction open on a shared server.

Concurrency: uniqueness lives in constraints (a record's fingerprint, an identifier, an author's name, a
topic's name) and writes are upserts (``INSERT … ON CONFLICT``). Merging decides from lookups, so ingest
transactions also take one transaction-scoped advisory lock, the equivalent of SQLite's ``BEGIN IMMEDIATE``:
two ingests of overlapping inputs run one file (or write group batch) after the other, each seeing what
the other committed, and never create the same item twice. Readers are never blocked.

What is PostgreSQL's own: the pool, the advisory locks, migrations in its dialect, ids from the identity's
sequence, ANALYZE after a bulk load. Every query is in the storage areas, shared with SQLite.

The sync lock: SQLite's is an OS lock on a file beside the store; a PostgreSQL store has no file, and its syncs
may run on several machines. So the lock is a session-level advisory lock held by a connection of its own for
as long as the sync runs: the server drops it with the session, so a sync killed with -9 (or a machine that
vanishes, once TCP notices) never leaves the store locked. Who holds it is written to ``sync_lock``, keyed by
the holder's backend pid; a reader trusts a row only while that pid still holds the advisory lock (``pg_locks``),
so a row left behind by a crashed holder is never reported. ``application_name`` would die with the session
too, but it is cut at 63 bytes and other roles may not see it in ``pg_stat_activity``.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from ..normalize import utc_now
from .postgres_fulltext import PostgresFullText
from .migrations.postgres import MIGRATIONS
from .sql import (Database, Params, PostgresDialect, insert_by_rows, insert_returning_by_rows, insert_shape,
                  rows_per_insert)
from .store import Store, StoreError, StoreFullError
from .sync import SyncBusyError

_WRITE_LOCK = 0x70667772  # "pfwr": pg_advisory_xact_lock key held by ingest transactions
_MIGRATE_LOCK = 0x70666D67  # "pfmg": held while migrating
_SYNC_LOCK = 0x70667363  # "pfsc": pg_try_advisory_lock key of the sync lock, per database
# A bigint advisory key shows in pg_locks as classid (high 32 bits), objid (low 32 bits) and objsubid 1.
_SYNC_HOLDER = ("SELECT holder FROM sync_lock WHERE backend_pid IN (SELECT pid FROM pg_locks "
                "WHERE locktype = 'advisory' AND granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND classid = 0 AND objid = $1 AND objsubid = 1)")
ANALYZE_AFTER_ITEMS = 10_000
"""Items written by one store before its next write group ends with ANALYZE of the tables ingest fills."""
ANALYZE_GROWN_FROM = 2_000
"""Items a load writes before its first ANALYZE inside its transaction (``PostgresStore._wrote_items``)."""
PARAMETER_LIMIT = 65_535
"""Parameters one statement may bind (the protocol's 16-bit count)."""


def redact(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user@host/db`` (for messages and ``store.url``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[1]}"))


class PostgresDatabase(Database):
    """One pooled connection in autocommit mode; statements run through psycopg's raw cursor, so the
    ``$1`` placeholders are PostgreSQL's own and nothing in a statement is rewritten."""

    dialect = PostgresDialect()

    def __init__(self, connection: psycopg.Connection) -> None:
        self.connection = connection

    def rows(self, sql: str, params: Params = ()) -> list[tuple]:
        with self._full_disk_said_plainly(), psycopg.RawCursor(self.connection) as cursor:
            cursor.execute(sql, params or None)
            return cursor.fetchall() if cursor.description else []

    def run(self, sql: str, params: Params = ()) -> int:
        with self._full_disk_said_plainly(), psycopg.RawCursor(self.connection) as cursor:
            cursor.execute(sql, params or None)
            return cursor.rowcount

    def run_many(self, sql: str, rows: Iterable[Params]) -> None:
        rows = list(rows)
        if not rows:
            return
        with self._full_disk_said_plainly(), psycopg.RawCursor(self.connection) as cursor:
            shape = insert_shape(sql, "$", upserts=self.dialect.many_row_upserts)
            if shape is None:
                cursor.executemany(sql, rows)
            else:  # a plain insert: many rows a statement (``sql.ROWS_PER_INSERT``), as on SQLite
                insert_by_rows(sql, rows, shape, "$", rows_per_insert(shape[3], PARAMETER_LIMIT), cursor.execute,
                               cursor.executemany)

    def insert_returning(self, sql: str, rows: list[Params]) -> list[tuple]:
        with self._full_disk_said_plainly(), psycopg.RawCursor(self.connection) as cursor:
            def fetch(text: str, params: Params) -> list[tuple]:
                cursor.execute(text, params)
                return cursor.fetchall()

            return insert_returning_by_rows(sql, rows, "$", PARAMETER_LIMIT, fetch,
                                            upserts=self.dialect.many_row_upserts)

    def full_error(self, error: BaseException) -> StoreFullError | None:
        """A StoreFullError for the server's ``disk_full`` (SQLSTATE 53100), naming the server; else None.

        The server has already failed the statement, so the transaction it was in rolls back like any failed
        one: nothing half-written stays, and the caller (an ingest) reports the file and stops."""
        if not isinstance(error, psycopg.errors.DiskFull):
            return None
        info = self.connection.info
        full = StoreFullError(f"PostgreSQL store {info.dbname} on {info.host}:{info.port}: the server's disk is "
                              f"full (PostgreSQL: {str(error).strip()})")
        full.__cause__ = error
        return full

    @contextmanager
    def _full_disk_said_plainly(self) -> Iterator[None]:
        try:
            yield
        except psycopg.errors.DiskFull as error:
            raise self.full_error(error) from error

    @property
    def in_transaction(self) -> bool:
        return self.connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    @contextmanager
    def transaction(self, lock_writers: bool = False, savepoint: bool = True,
                    references_checked: bool = False) -> Iterator[None]:
        # Inside an open transaction psycopg makes this a savepoint. Foreign keys stay enforced (``references_checked``:
        # PostgreSQL's check reads the referred table's key index, not its rows).
        with self.connection.transaction() if savepoint or not self.in_transaction else nullcontext():
            if lock_writers:  # held until the transaction ends; taking it again in the same one is free
                self.run("SELECT pg_advisory_xact_lock($1)", (_WRITE_LOCK,))
            yield


class PostgresStore(PostgresFullText, Store):
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
        self.db = PostgresDatabase(self._conn)
        self._grown = 0  # items written since this store's last ANALYZE (``_wrote_items``)
        self._analyzed_items = 0  # items the last one counted
        super().__init__()

    def default_index_directory(self) -> Path:
        # The vector graph is local to each machine; one directory per database it indexes.
        from platformdirs import user_data_dir

        info = self._conn.info
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{info.host}-{info.port}-{info.dbname}").strip("_.")
        return Path(user_data_dir("paperfeed")) / "index" / name

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
    def write_group(self, cache_mb: int | None = None) -> Iterator[Callable[..., None]]:
        # cache_mb: PostgreSQL's buffers are the server's (shared_buffers), not a connection's.
        conn = self._conn

        def begin() -> None:
            self._tx = conn.transaction()
            self._tx.__enter__()
            self._lock_writers()  # held by the group's transaction: a failed file's savepoint cannot drop it

        def commit_now(load_bytes: int = 0) -> None:  # (a server's store is never held alone)
            tx, self._tx = self._tx, None
            tx.__exit__(None, None, None)
            begin()

        begin()
        try:
            yield commit_now
        except BaseException as error:
            tx, self._tx = self._tx, None
            self._forget_cached_ids()
            if tx is not None:
                tx.__exit__(type(error), error, error.__traceback__)
            raise
        tx, self._tx = self._tx, None
        tx.__exit__(None, None, None)
        self._analyze_if_grown()

    def _analyze_if_grown(self) -> None:
        # Autovacuum analyzes a bulk load only some time after it; until then the planner believes the old
        # row counts and picks plans (whole-table scans per row) that take minutes where seconds would do.
        if self._items_written >= ANALYZE_AFTER_ITEMS:
            self._items_written = 0
            self._conn.execute("ANALYZE items, source_records, identifiers, block_keys, authors, item_authors, "
                               "item_categories, daily_dates")

    def _wrote_items(self, count: int) -> None:
        # Inside a load's transaction too: autovacuum cannot see rows not yet committed, and a statement prepared
        # while the tables were small keeps the plan made then (psycopg prepares a statement run five times):
        # looking up a file's arXiv ids scanned the whole identifiers table, 28 ms a file of the daily listings
        # (docs/benchmarks.md, "Backends"). ANALYZE counts the transaction's own rows and drops those plans; once
        # the items have grown by half since the last one (a few times per tenfold growth), of the columns
        # ingest looks rows up by (the wide ones, a record's raw text, cost the most to analyze and are never
        # looked up). Inside a transaction ANALYZE keeps its lock (SHARE UPDATE EXCLUSIVE) until the commit:
        # readers and writers pass, a VACUUM or another process's ANALYZE of these tables waits for the load's
        # commit (every ``COMMIT_EVERY`` records, or the end of a large file).
        super()._wrote_items(count)
        self._grown += count
        if self._grown >= max(ANALYZE_GROWN_FROM, self._analyzed_items // 2):
            self._conn.execute("ANALYZE items (id, arxiv_id), source_records (fingerprint, item_id), "
                               "identifiers (scheme, value), block_keys (key), authors (name), item_authors (item_id), "
                               "item_categories (item_id), daily_dates (record_id)")
            self._analyzed_items = int(self._conn.execute(
                "SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'items'::regclass").fetchone()[0])
            self._grown = 0

    def _allocate_item_ids(self, count: int) -> list[int]:
        return self._ids_from_sequence("items", count)

    def _allocate_record_ids(self, count: int) -> list[int]:
        # The column takes given ids since migration 0020.
        return self._ids_from_sequence("source_records", count)

    def _allocate_people_ids(self, count: int) -> list[int]:
        return self._ids_from_sequence("people", count)

    def _ids_from_sequence(self, table: str, count: int) -> list[int]:
        # From the identity's sequence, in increasing order: never handed out twice, even to concurrent writers
        # (gaps are fine).
        return self.db.column(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
                              "FROM generate_series(1, $1) ORDER BY 1", (count,))

    # -- syncing ---------------------------------------------------------------------------

    @contextmanager
    def sync_lock(self, owner: str) -> Iterator[None]:
        # A connection of its own: the store's connection commits and rolls back pages under the lock, and a
        # session lock must outlive all of that. Held (idle, in autocommit) until the block ends.
        try:
            lock_conn = self._pool.getconn(timeout=30)
        except PoolTimeout:
            raise StoreError(f"cannot take the sync lock of {self.url}: no free connection in the pool") from None
        lock = PostgresDatabase(lock_conn)
        locked = False
        try:
            if not lock.value("SELECT pg_try_advisory_lock($1)", (_SYNC_LOCK,)):
                holder = lock.value(_SYNC_HOLDER, (_SYNC_LOCK,))
                # No row: the holder has taken the lock but not yet said who it is.
                raise SyncBusyError(holder or "holder unknown")
            locked = True
            lock.run("INSERT INTO sync_lock (id, backend_pid, holder) VALUES (1, pg_backend_pid(), $1) "
                     "ON CONFLICT (id) DO UPDATE SET backend_pid = excluded.backend_pid, holder = excluded.holder",
                     (f"{owner}, pid {os.getpid()}, since {utc_now()}",))
            yield
        finally:
            # Unlock explicitly, also when the block raised: closing the session would release the lock too, but
            # the server notices a closed connection only some time later, so a sync started right after would
            # still find it held. Only a connection that cannot even unlock is closed (the pool then discards it).
            try:
                if locked:
                    lock.run("DELETE FROM sync_lock WHERE backend_pid = pg_backend_pid()")
                    lock.value("SELECT pg_advisory_unlock_all()")
            except BaseException:
                lock_conn.close()
                raise
            finally:
                self._pool.putconn(lock_conn)
