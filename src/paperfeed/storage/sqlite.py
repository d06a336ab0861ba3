"""The SQLite backend: one file, WAL, foreign keys on, one writer at a time.

What is SQLite's own: the connection and its pragmas, ``BEGIN IMMEDIATE`` as the writers' lock, savepoints for
a transaction inside another, migrations in SQLite's dialect, ids from ``max(id)``, the sync lock (an OS lock on a
file beside the store). Every query is in the areas.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..normalize import utc_now
from .sql import (Database, Params, SQLiteDialect, insert_by_rows, insert_returning_by_rows, insert_shape,
                  rows_per_insert)
from .migrations.sqlite import MIGRATIONS
from .store import Store, StoreError, StoreFullError
from .sync import SyncBusyError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks in this version
    fcntl = None  # type: ignore[assignment]


_PLACEHOLDER = re.compile(r"\$(\d+)")

READING_CACHE_KB = 2048
"""SQLite's page cache of a connection between writes (SQLite's own default). A web process keeps 16 pooled
connections, and with 16 MB each their caches filled to 200 MB of its resident set while serving searches at
1,000,000 items (docs/benchmarks.md, "Search at 1M"); reads of item rows miss into the OS page cache at no
measurable cost."""
READING_MUCH_CACHE_KB = 65536
"""The page cache while one connection reads much of the store (``Store.reading_much``: the keyword index built
from it). An item's search document joins each of its authors' rows, in no order, and with the reading cache
(2 MB) each such row was a read from the OS: reading 200,000 items' documents from the 2.7-million-item bench
store took 23.7 µs an item, 19 with this cache (docs/benchmarks.md, "Bootstrap")."""
WRITING_CACHE_KB = 16384
"""The page cache while a connection writes: ingest inserts into several random-key indexes, which a 2 MB cache
would thrash; 16 MB ingests as fast as 128 MB did (bench/ingest.py, back to back) and keeps a long sync's memory
flat. Set for each outermost write transaction and given back when it ends."""

PAGE_BYTES = 16384
"""The page size a new store is made with (SQLite's default is 4,096; an existing store keeps its own, as WAL
mode cannot change it). A source record (raw line plus parsed data) is 2–3 KB, so a 4 KB page held one and
left the rest empty: the Kaggle snapshot's records filled 4 KB pages about 65 %. With 16 KB pages the listings
store is 274 MB instead of 363 MB, the first 400,000 snapshot lines 2.1 GB instead of 2.7 GB, and both ingest
about 15–20 % faster (fewer bytes through the write-ahead log and its checkpoint); reading 10 random items costs
about 20 % more (0.04 ms; docs/benchmarks.md, "Page size")."""

BUSY_TIMEOUT_MS = 30_000
"""How long a statement waits for another connection's lock (another process's write) before it fails."""

WAL_KEPT_BYTES = 64 * 1024 * 1024
"""The write-ahead log is cut back to this size when it starts over (``PRAGMA journal_size_limit``). Without a
limit SQLite keeps the file at its largest: after a whole-arXiv ingest, 14 GB or more beside the store for as
long as any connection stays open (a running ``paperfeed serve``), though every page of it was copied in."""

SORT_HELPER_THREADS = max(0, min(3, (os.cpu_count() or 1) - 1))
"""Threads SQLite may start beside the caller's to sort what outgrows the cache (``PRAGMA threads``): the index
builds at the end of a bulk load (``BULK_DEFERRED_INDEXES``) and a migration's. Building the item-author index of
the 2.7-million-line bench store (16 million rows) took 22.9–23.7 s with none, 14.7–17.7 s with one on the 2-core
machine (docs/benchmarks.md, "Ingest", session 14). A sort that fits the cache starts none."""

SORTING_CACHE_KB = 16384
"""Page cache while a bulk load builds its deferred indexes (``SQLiteStore._build_deferred_indexes``)."""

TRIM_AFTER_CACHE_KB = 65536
"""After a write with a page cache this large (an ingest's ``ingest_cache_mb``) the freed pages are given back to
the system (``give_back_freed_memory``): the allocator keeps them otherwise, and the keyword index built next
in the same process (a bootstrap) then stands on top of them."""


def give_back_freed_memory() -> None:
    """Return the C heap's free pages to the system (glibc's ``malloc_trim``; nothing elsewhere)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        import ctypes
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError, ImportError):  # not glibc
        return None


BULK_DEFERRED_INDEXES = ("items_published", "authors_key", "item_authors_author", "item_categories_category",
                         "item_topics_topic", "item_topics_by_topic", "daily_dates_day")
"""Indexes no statement of an ingest transaction reads (its lookups go by fingerprint, identifier, blocking key,
item id, author and topic name; its deletes by item id), dropped during a bulk load into a small store
(``ingest_session.BULK_LOAD_MIN_ITEMS``) and built once at the file's end. A random-key index larger than the page cache
costs a page read per insert: the item-author index by author, 6 rows a Kaggle record, is the largest."""


@lru_cache(maxsize=4096)
def _positional(sql: str) -> str:
    """``$1``, ``$2``… as SQLite's numbered positional parameters ``?1``, ``?2``…, read once per statement.

    SQLite reads ``$1`` as a parameter *named* "1", which must be bound from a dict: 1.4 µs a row more than a
    tuple on an 11-column insert (bench/ingest.py). ``?NNN`` keeps the numbering (a number used twice is one
    value), so the areas' statements stay as written. A ``$`` followed by a digit inside a string literal would
    be rewritten too: no statement has one (a literal such as JSON path ``'$.a'`` has none).
    """
    return _PLACEHOLDER.sub(r"?\1", sql)


_PLAIN_INSERT = re.compile(r"(?i)^(\s*)INSERT\s+INTO(\s+\"?(\w+))")


@lru_cache(maxsize=1024)
def _failing(statement: str, triggered: frozenset[str]) -> str:
    """A plain ``INSERT INTO`` as ``INSERT OR FAIL INTO`` (``SQLiteDatabase.inserts_undone_together``); any other
    statement, and an insert into a table with triggers (``triggered``: lower-case names), as it is: the outer
    statement's conflict action would replace the one of each statement of its triggers (``INSERT OR REPLACE INTO
    search_changes`` would fail on an item already listed)."""
    found = _PLAIN_INSERT.match(statement)
    if found is None or found.group(3).lower() in triggered:
        return statement
    return f"{found.group(1)}INSERT OR FAIL INTO{statement[found.start(2):]}"


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


class SQLiteDatabase(Database):
    """A SQLite connection in autocommit mode; ``transaction`` opens ``BEGIN IMMEDIATE`` or a savepoint.

    A full database or disk (``SQLITE_FULL``: the file system, or ``PRAGMA max_page_count``) leaves a
    transaction as a ``StoreFullError`` naming the file. SQLite may have rolled the whole transaction back by
    itself on such an error (and on ``SQLITE_IOERR``, ``SQLITE_NOMEM``, ``SQLITE_BUSY``), so a rollback is only
    attempted while a transaction is still open, and a rollback that fails never hides the error that caused it.
    """

    dialect = SQLiteDialect()

    def __init__(self, connection: sqlite3.Connection, path: Path | None = None) -> None:
        self.connection = connection
        self._variable_limit = connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self.path = path
        self._savepoints = 0
        self._undone_together = 0
        self._triggered: frozenset[str] = frozenset()  # tables with triggers, read on entering the first

    @contextmanager
    def writing_cache(self, kilobytes: int | None = None) -> Iterator[None]:
        """The larger page cache for one outermost write (``kilobytes``, else ``WRITING_CACHE_KB``), the small one
        after it (SQLite frees the pages over the smaller size)."""
        size = max(kilobytes or 0, WRITING_CACHE_KB)
        self.connection.execute(f"PRAGMA cache_size = -{size}")
        try:
            yield
        finally:
            try:
                self.connection.execute(f"PRAGMA cache_size = -{READING_CACHE_KB}")
            except sqlite3.Error:  # a closed connection has no cache to shrink; the write's own error goes on
                pass
            if size >= TRIM_AFTER_CACHE_KB:
                give_back_freed_memory()

    def rows(self, sql: str, params: Params = ()) -> list[tuple]:
        return self.connection.execute(_positional(sql), params).fetchall()

    def run(self, sql: str, params: Params = ()) -> int:
        return self.connection.execute(_positional(sql), params).rowcount

    def run_many(self, sql: str, rows: Iterable[Params]) -> None:
        statement = _positional(sql)
        shape = insert_shape(statement, "?", upserts=self.dialect.many_row_upserts)
        if shape is None:
            self.connection.executemany(statement, rows)
            return
        statement = self._as_undone_together(statement)
        # A plain insert: ROWS_PER_INSERT rows a statement, fewer where SQLite's limit on a statement's parameters
        # (32,766 by default) would be passed (``sql.insert_by_rows``).
        insert_by_rows(statement, rows if isinstance(rows, list) else list(rows), shape, "?",
                       rows_per_insert(shape[3], self._variable_limit), self.connection.execute,
                       self.connection.executemany)

    def insert_returning(self, sql: str, rows: list[Params]) -> list[tuple]:
        return insert_returning_by_rows(self._as_undone_together(_positional(sql)), rows, "?", self._variable_limit,
                                        lambda text, params: self.connection.execute(text, params).fetchall())

    def _as_undone_together(self, statement: str) -> str:
        """A plain insert as ``inserts_undone_together`` runs it while inside one, else as it is."""
        return _failing(statement, self._triggered) if self._undone_together else statement

    @contextmanager
    def inserts_undone_together(self) -> Iterator[None]:
        """Plain inserts run as ``INSERT OR FAIL``: a failing one stops at its bad row and keeps the rows before it,
        for the caller's transaction to undo (``Database.inserts_undone_together``).

        Why: under SQLite's default conflict action (ABORT) a statement that writes several rows and could fail
        on a constraint (NOT NULL, UNIQUE, CHECK, an enforced foreign key) must be undone alone, so before it
        first changes a page that existed when it began, SQLite copies the page to a statement journal: a
        temporary file once it passes 64 KB. A bulk load's multi-row inserts into its random-key indexes
        (authors by name, blocking keys, fingerprints) change a page for nearly every row: with the savepoints of
        its files, the journals of a year of daily listings took 357,708 ``pwrite`` calls and 2.9 GB in /var/tmp,
        for a 274 MB store (docs/benchmarks.md, "Ingest", session 23). With ``OR FAIL`` no statement needs
        undoing alone, and SQLite opens no statement journal, except for rows checked by an enforced foreign key
        (a load holding the store alone enforces none: ``_hold_alone``). A savepoint still journals a page once
        (``transaction`` inside another). An insert into a table with triggers runs as written (``_failing``)."""
        if not self._undone_together:  # the schema as it is now (migrations run before any write)
            self._triggered = frozenset(name.lower() for name, in self.connection.execute(
                "SELECT DISTINCT tbl_name FROM sqlite_master WHERE type = 'trigger'"))
        self._undone_together += 1
        try:
            yield
        finally:
            self._undone_together -= 1

    @property
    def in_transaction(self) -> bool:
        return self.connection.in_transaction

    @contextmanager
    def transaction(self, lock_writers: bool = False, savepoint: bool = True,
                    references_checked: bool = False) -> Iterator[None]:
        # BEGIN IMMEDIATE takes SQLite's one write lock at once: it is the writers' lock.
        execute = self.connection.execute
        if not self.connection.in_transaction:
            # (SQLite takes the setting only between transactions; a load holding the store alone has it off already.)
            unchecked = references_checked and execute("PRAGMA foreign_keys").fetchone()[0]
            if unchecked:
                execute("PRAGMA foreign_keys = OFF")
            try:
                with self.writing_cache():
                    execute("BEGIN IMMEDIATE")
                    try:
                        yield
                        execute("COMMIT")
                    except BaseException as error:
                        self.rollback()
                        raise self.full_error(error) or error
            finally:
                if unchecked:
                    try:
                        execute("PRAGMA foreign_keys = ON")
                    except sqlite3.Error:  # a closed connection writes nothing more; the write's own error goes on
                        pass
            return
        if not savepoint:
            yield
            return
        self._savepoints += 1
        name = f"nested_{self._savepoints}"
        execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException as error:
            if self.connection.in_transaction:  # else SQLite ended the whole transaction, savepoints and all
                try:
                    execute(f"ROLLBACK TO {name}")
                    execute(f"RELEASE {name}")
                except sqlite3.Error:
                    self.rollback()
            raise self.full_error(error) or error
        finally:
            self._savepoints -= 1
        try:
            execute(f"RELEASE {name}")
        except sqlite3.Error as error:
            self.rollback()
            raise self.full_error(error) or error

    def rollback(self) -> None:
        """Roll back the open transaction, if SQLite has not already; a failing rollback is left to the error
        being raised (SQLite undoes an unfinished transaction from its journal when next opened)."""
        if self.connection.in_transaction:
            try:
                self.connection.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def full_error(self, error: BaseException) -> StoreFullError | None:
        """A StoreFullError for SQLite's ``SQLITE_FULL``, naming the store's file and the space left; else None."""
        if not isinstance(error, sqlite3.Error) or getattr(error, "sqlite_errorcode", None) != sqlite3.SQLITE_FULL:
            return None
        where = str(self.path) if self.path else "the SQLite store"
        try:
            free = f"{shutil.disk_usage(self.path.parent).free:,} bytes free on its disk; " if self.path else ""
        except OSError:
            free = ""
        full = StoreFullError(f"{where}: the database or the disk it is on is full ({free}SQLite: {error})")
        full.__cause__ = error
        return full


class SQLiteStore(Store):
    """A store in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            # Before WAL mode is set, which writes the file's first page: a store that exists already ignores it.
            self._db.execute(f"PRAGMA page_size = {PAGE_BYTES}")
            self._db.execute("PRAGMA journal_mode = WAL")
        except (OSError, sqlite3.Error) as error:
            why = str(error)
            if isinstance(error, sqlite3.OperationalError) and "locked" in why:  # (``_hold_alone``)
                why += (" by another process (a large load into a smaller store holds it alone until the load "
                        "is stored); try again then")
            raise StoreError(f"cannot open SQLite store {self.path}: {why}") from None
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._db.execute(f"PRAGMA journal_size_limit = {WAL_KEPT_BYTES}")
        self._db.execute(f"PRAGMA threads = {SORT_HELPER_THREADS}")
        # Small between writes, larger while writing (READING_CACHE_KB, WRITING_CACHE_KB).
        self._db.execute(f"PRAGMA cache_size = -{READING_CACHE_KB}")
        self.db = SQLiteDatabase(self._db, self.path)
        self._references: dict[str, list[tuple[str, tuple[str, ...], tuple[str, ...], str]]] | None = None
        super().__init__()

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
            with self.db.writing_cache():  # an index built on a large table sorts within the page cache's size
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _statements(script):
                        self._db.execute(statement)
                    self._db.execute("INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                                     (name, utc_now()))
                    self._db.execute("COMMIT")
                except BaseException as error:
                    self.db.rollback()
                    raise self.db.full_error(error) or error
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

    def reading_much(self) -> contextlib.AbstractContextManager[None]:
        return self.db.writing_cache(READING_MUCH_CACHE_KB)

    @contextmanager
    def write_group(self, cache_mb: int | None = None) -> Iterator[Callable[..., None]]:
        with self.db.writing_cache(cache_mb * 1024 if cache_mb else None):
            with self._write_group() as commit_now:
                yield commit_now

    @contextmanager
    def _write_group(self) -> Iterator[Callable[..., None]]:
        # Each ingest session inside the group is a savepoint: it rolls back alone, and commits with the group.
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            raise self.db.full_error(error) or error
        alone = False
        size_before = self._size_bytes()  # what a load is compared with (_hold_alone)

        def commit_now(load_bytes: int = 0) -> None:
            nonlocal alone
            self._db.execute("COMMIT")
            if load_bytes and not alone:
                alone = self._hold_alone(load_bytes, size_before)
            self._db.execute("BEGIN IMMEDIATE")

        try:
            yield commit_now
            self._db.execute("COMMIT")
        except BaseException as error:
            self.db.rollback()
            self._forget_cached_ids()
            raise self.db.full_error(error) or error
        finally:
            if alone:
                self._share_again()

    def _size_bytes(self) -> int:
        return self.db.value("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")

    def _hold_alone(self, load_bytes: int, size_before: int) -> bool:
        """Once a write group has read ``load_bytes`` of input and the store was smaller than that at the group's
        start (``size_before``: a first load, in one large file or many small ones), outside a transaction:
        write with a rollback journal until the write group ends (``_share_again``), if no other connection has
        the store open. In WAL mode every page is written twice, to the log and then by the checkpoint into the
        store (the commit of the first 400,000 snapshot lines spent 7 of its 50 s copying 2.3 GB); a rollback
        journal keeps only the pages the store had before, and a page past the store's old end is written once.
        A kill -9 leaves the journal, which the next opening plays back: the store is as before the load. Other
        processes cannot read while the load's pages go to the store: they wait, or are told it is busy."""
        if size_before >= load_bytes:
            return False
        self._db.execute("PRAGMA busy_timeout = 0")  # an open reader is a no, not a wait
        try:
            mode = self._db.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
        except sqlite3.OperationalError:  # another connection has the store open: it keeps reading, via the WAL
            return False
        finally:
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if mode != "delete":
            return False
        # NORMAL is safe on a power cut in WAL mode only; a rollback journal needs FULL's syncs.
        self._db.execute("PRAGMA synchronous = FULL")
        # Foreign key enforcement looks up the referenced row of every row written: about 20 lookups a Kaggle
        # record (an item-author row alone makes two), 10% of the storing process's time. A load's rows refer to
        # what the load itself wrote or read, and the one delete of an ingest (an item joined into another) does
        # what the schema's cascades would (``_delete_item``).
        self._db.execute("PRAGMA foreign_keys = OFF")
        return True

    def _share_again(self) -> None:
        """Back to the write-ahead log after ``_hold_alone``. Should a process that opened the store meanwhile
        hold it, the store stays as it is until that process (or the next) sets WAL mode on opening."""
        try:
            self._db.execute("PRAGMA journal_mode = WAL")
        except sqlite3.Error:
            pass
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA foreign_keys = ON")

    def _delete_item(self, item_id: int) -> None:
        if self.db.value("PRAGMA foreign_keys"):  # enforced: SQLite cascades
            super()._delete_item(item_id)
        else:
            self._delete_cascading("items", "id = ?1", (item_id,))

    def _delete_cascading(self, table: str, where: str, params: tuple) -> None:
        """``DELETE FROM table WHERE where`` and what the schema's foreign keys would do with SQLite's
        enforcement on, while it is off (``_hold_alone``): rows referring to the deleted ones are deleted, theirs
        first (``ON DELETE CASCADE``), or their references set to NULL (``SET NULL``); a reference that forbids
        the delete (``NO ACTION``, ``RESTRICT``) fails it as enforcement would. Triggers fire as they would."""
        for child, columns, parents, action in self._references_to(table):
            match = f"({', '.join(columns)}) IN (SELECT {', '.join(parents)} FROM {table} WHERE {where})"
            if action == "CASCADE":
                self._delete_cascading(child, match, params)
            elif action == "SET NULL":
                self._db.execute(f"UPDATE {child} SET {', '.join(f'{c} = NULL' for c in columns)} WHERE {match}",
                                 params)
            elif self._db.execute(f"SELECT 1 FROM {child} WHERE {match} LIMIT 1", params).fetchone():
                raise sqlite3.IntegrityError(f"FOREIGN KEY constraint failed ({child} refers to {table})")
        self._db.execute(f"DELETE FROM {table} WHERE {where}", params)

    def _references_to(self, table: str) -> list[tuple[str, tuple[str, ...], tuple[str, ...], str]]:
        """(referring table, its columns, the referred columns of ``table``, ON DELETE action) of each foreign
        key to ``table``, read from the schema once (migrations run before any load)."""
        if self._references is None:
            found: dict[str, list[tuple[str, tuple[str, ...], tuple[str, ...], str]]] = {}
            for (child,) in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
                keys: dict[int, list[tuple]] = {}
                for key, _, parent, column, referred, _, on_delete, _ in self._db.execute(
                        "SELECT * FROM pragma_foreign_key_list(?)", (child,)).fetchall():
                    keys.setdefault(key, []).append((parent, column, referred, on_delete))
                # Every reference of the schema names its columns (a bare ``REFERENCES parent`` would read
                # None here and fail the delete's statement).
                for parts in keys.values():
                    found.setdefault(parts[0][0], []).append((child, tuple(part[1] for part in parts),
                                                              tuple(part[2] for part in parts), parts[0][3].upper()))
            self._references = found
        return self._references.get(table, [])

    def _allocate_item_ids(self, count: int) -> list[int]:
        return self._ids_after_max("items", count)

    def _allocate_record_ids(self, count: int) -> list[int]:
        return self._ids_after_max("source_records", count)

    def _allocate_people_ids(self, count: int) -> list[int]:
        return self._ids_after_max("people", count)

    def _ids_after_max(self, table: str, count: int) -> list[int]:
        # Safe under BEGIN IMMEDIATE: this connection is the only writer until COMMIT.
        start = (self.db.value(f"SELECT max(id) FROM {table}") or 0) + 1
        return list(range(start, start + count))

    def _build_deferred_indexes(self, statements: list[str]) -> None:
        # SQLite's sorter hands a run to its helper thread (SORT_HELPER_THREADS) only when the run outgrows the page
        # cache; a bulk load's 512 MB cache held the item-author index of a million lines in one run, sorted on
        # one core while the other idled. With a small cache the runs sort beside the caller: 6 million rows in
        # 6.0 s instead of 10.3, the same CPU; the index builds of 400,000 snapshot lines in 3.6–3.9 s instead of
        # 4.6–4.7 (docs/benchmarks.md "Ingest", session 17).
        size = self._db.execute("PRAGMA cache_size").fetchone()[0]
        self._db.execute(f"PRAGMA cache_size = -{SORTING_CACHE_KB}")
        try:
            super()._build_deferred_indexes(statements)
        finally:
            self._db.execute(f"PRAGMA cache_size = {size}")

    def _drop_deferred_indexes(self) -> list[str]:
        # Their exact definitions as the migrations left them, read back before dropping.
        statements = []
        for name, sql in self._db.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND name IN "
                f"({', '.join('?' * len(BULK_DEFERRED_INDEXES))}) ORDER BY name", BULK_DEFERRED_INDEXES).fetchall():
            self._db.execute(f'DROP INDEX "{name}"')
            statements.append(sql)
        return statements

    # -- syncing ---------------------------------------------------------------------------

    @contextmanager
    def sync_lock(self, owner: str) -> Iterator[None]:
        # An OS lock on a file beside the store: it dies with its process, so a sync killed with -9 cannot leave
        # the store locked. The file names the holder.
        handle = open(Path(f"{self.path}.sync-lock"), "a+", encoding="utf-8")
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.seek(0)
                    raise SyncBusyError(handle.read().strip() or "holder unknown") from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"{owner}, pid {os.getpid()}, since {utc_now()}\n")
            handle.flush()
            yield
        finally:
            handle.close()  # closing the descriptor releases the lock
