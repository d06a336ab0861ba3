"""Table-level access for ``paperfeed copy``: what tables a database holds, and rows out and in, per backend.

Everything here is read from the database itself (SQLite's ``sqlite_master`` and pragmas, PostgreSQL's
``pg_catalog``), never from a list of table names: a storage area that adds a table in a migration is
copied without a change here.
"""

from __future__ import annotations

import abc
import re
import sqlite3
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

import psycopg
from psycopg import sql

from .store import Store, StoreError


@dataclass(slots=True)
class Column:
    name: str
    type: str
    """The declared type, lowercased (``integer``, ``text``, ``boolean``, ``bytea``, ``blob`` …)."""
    generated: bool = False
    """Computed by the database from other columns: never copied, never compared."""


@dataclass(slots=True)
class Table:
    name: str
    columns: list[Column]
    key: list[str]
    """Primary key columns, in key order (empty when the table has none)."""
    parents: set[str] = field(default_factory=set)
    """Tables this one references by foreign key (itself excluded)."""

    def copied_columns(self) -> list[Column]:
        return [column for column in self.columns if not column.generated]


@dataclass(slots=True)
class Triggers:
    """What the database's own triggers write when a row is inserted (copying inserts every row)."""

    inserts_into: set[str] = field(default_factory=set)
    """Tables filled by triggers: derived data (the search change log), re-made by the destination."""
    changes: set[str] = field(default_factory=set)
    """Tables a trigger updates or deletes from: copying into them would count twice."""


# Trigger bodies are read for the statements they run; the names may be quoted or schema-qualified.
_NAME = r"(?:\w+\.)?[\"`\[]?(\w+)"
_INSERT = re.compile(r"\b(?:INSERT(?:\s+OR\s+\w+)?|REPLACE)\s+INTO\s+" + _NAME, re.IGNORECASE)
_UPDATE = re.compile(r"\bUPDATE\s+(?:OR\s+\w+\s+)?(?:ONLY\s+)?" + _NAME + r"[\"`\]]?\s+SET\b", re.IGNORECASE)
_DELETE = re.compile(r"\bDELETE\s+FROM\s+(?:ONLY\s+)?" + _NAME, re.IGNORECASE)


def _read_trigger_body(body: str, into: Triggers) -> None:
    into.inserts_into.update(match.group(1) for match in _INSERT.finditer(body))
    into.changes.update(match.group(1) for match in _UPDATE.finditer(body))
    into.changes.update(match.group(1) for match in _DELETE.finditer(body))


class CopyRefused(StoreError):
    """A copy that cannot be done as asked (destination not empty, schemas differ): nothing was written."""

    def __init__(self, message: str) -> None:
        super().__init__(message, usage=True)


class TableAccess(abc.ABC):
    """One side of a copy: a store's connection seen as tables of rows."""

    backend: str

    def __init__(self, store: Store) -> None:
        self.store = store

    @abc.abstractmethod
    def tables(self) -> dict[str, Table]:
        """Every ordinary table of the store, by name (the database's internal tables left out)."""

    @abc.abstractmethod
    def triggers(self) -> Triggers:
        """What the insert triggers write."""

    @abc.abstractmethod
    def count(self, table: str) -> int:
        """Rows in ``table``."""

    @abc.abstractmethod
    def read(self, table: Table, columns: list[str], batch_size: int) -> Iterator[list[tuple]]:
        """Every row of ``columns``, in batches, in primary-key order."""

    @abc.abstractmethod
    def write(self, table: Table, columns: list[str], rows: list[tuple]) -> None:
        """Insert rows (values already converted by ``converter``) with their keys as given."""

    def converter(self, table: str, column: Column) -> Callable[[list], list] | None:
        """How a batch of one column's values from the other backend becomes this column's (None: as they are)."""
        return None

    @abc.abstractmethod
    def snapshot(self) -> AbstractContextManager[None]:
        """A context in which every read sees one consistent state of the store."""

    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """A context whose writes commit together at its end, or roll back on an exception."""

    def reset_identities(self, tables: list[str]) -> list[str]:
        """Make generated keys continue after the copied ones; return the sequences moved."""
        return []

    def after_load(self) -> None:
        """Work that makes a freshly loaded store fast to query (statistics), after the commit."""


class SQLiteTables(TableAccess):
    backend = "SQLite"

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.db: sqlite3.Connection = store._db  # the copy runs on the store's own connection and transactions

    @staticmethod
    def _quote(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def tables(self) -> dict[str, Table]:
        tables = {}
        names = [row[0] for row in self.db.execute(
            "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")]
        for name in names:
            columns, key = [], []
            # table_xinfo's hidden: 0 a stored column, 2 or 3 a generated one.
            for _cid, column, declared, _notnull, _default, pk, hidden in self.db.execute(
                    "SELECT * FROM pragma_table_xinfo(?)", (name,)):
                columns.append(Column(column, (declared or "").lower(), generated=hidden in (2, 3)))
                if pk:
                    key.append((pk, column))
            parents = {row[0] for row in self.db.execute('SELECT "table" FROM pragma_foreign_key_list(?)', (name,))}
            tables[name] = Table(name, columns, [column for _, column in sorted(key)], parents - {name})
        return tables

    def triggers(self) -> Triggers:
        found = Triggers()
        for (text,) in self.db.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger'"):
            # The header says when it fires (``AFTER INSERT ON items``), the body after BEGIN what it writes.
            parts = re.split(r"\bBEGIN\b", text, maxsplit=1, flags=re.IGNORECASE)
            header, body = parts[0], parts[1] if len(parts) > 1 else ""
            if re.search(r"\bINSERT\s+ON\b", header, re.IGNORECASE):
                _read_trigger_body(body, found)
        return found

    def count(self, table: str) -> int:
        return self.db.execute(f"SELECT count(*) FROM {self._quote(table)}").fetchone()[0]

    def read(self, table: Table, columns: list[str], batch_size: int) -> Iterator[list[tuple]]:
        order = f" ORDER BY {', '.join(map(self._quote, table.key))}" if table.key else ""
        cursor = self.db.execute(f"SELECT {', '.join(map(self._quote, columns))} FROM {self._quote(table.name)}{order}")
        while rows := cursor.fetchmany(batch_size):
            yield rows

    def write(self, table: Table, columns: list[str], rows: list[tuple]) -> None:
        self.db.executemany(f"INSERT INTO {self._quote(table.name)} ({', '.join(map(self._quote, columns))}) "
                            f"VALUES ({', '.join('?' * len(columns))})", rows)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        # A deferred transaction: the first read fixes what every later read of this connection sees (WAL).
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.db.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")


class PostgresTables(TableAccess):
    backend = "PostgreSQL"

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.conn: psycopg.Connection = store._conn  # the store's held connection (autocommit between transactions)

    def tables(self) -> dict[str, Table]:
        tables = {}
        relations = self.conn.execute(
            "SELECT c.oid, c.relname FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace "
            "AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname").fetchall()
        for oid, name in relations:
            columns = [Column(column, declared.lower(), generated=bool(generated)) for column, declared, generated in
                       self.conn.execute(
                           "SELECT attname, format_type(atttypid, atttypmod), attgenerated <> '' FROM pg_attribute "
                           "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum", (oid,))]
            key = [row[0] for row in self.conn.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                "AND a.attnum = ANY (i.indkey::int2[]) WHERE i.indrelid = %s AND i.indisprimary "
                "ORDER BY array_position(i.indkey::int2[], a.attnum)", (oid,))]
            parents = {row[0] for row in self.conn.execute(
                "SELECT p.relname FROM pg_constraint f JOIN pg_class p ON p.oid = f.confrelid "
                "WHERE f.conrelid = %s AND f.contype = 'f'", (oid,))}
            tables[name] = Table(name, columns, key, parents - {name})
        return tables

    def triggers(self) -> Triggers:
        found = Triggers()
        # tgtype bit 2 (4): the trigger fires on INSERT; its function's body says what it writes.
        for (body,) in self.conn.execute(
                "SELECT p.prosrc FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_proc p ON p.oid = t.tgfoid WHERE NOT t.tgisinternal AND t.tgtype & 4 <> 0 "
                "AND c.relnamespace = current_schema()::regnamespace"):
            _read_trigger_body(body or "", found)
        return found

    def count(self, table: str) -> int:
        return self.conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]

    def read(self, table: Table, columns: list[str], batch_size: int) -> Iterator[list[tuple]]:
        query = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(map(sql.Identifier, columns)),
                                                    sql.Identifier(table.name))
        if table.key:
            query += sql.SQL(" ORDER BY {}").format(sql.SQL(", ").join(map(sql.Identifier, table.key)))
        # A server-side cursor: a table of millions of rows is never held in memory at once.
        with self.conn.cursor(name=f"paperfeed_copy_{table.name}") as cursor:
            cursor.itersize = batch_size
            cursor.execute(query)
            while rows := cursor.fetchmany(batch_size):
                yield rows

    def write(self, table: Table, columns: list[str], rows: list[tuple]) -> None:
        # COPY writes the given values into identity columns, GENERATED ALWAYS ones included, and fires the
        # row triggers as INSERT does.
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table.name),
                                                               sql.SQL(", ").join(map(sql.Identifier, columns)))
        with self.conn.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    def converter(self, table: str, column: Column) -> Callable[[list], list] | None:
        if column.type == "boolean":  # SQLite keeps booleans as 0/1
            return lambda values: [value if value is None else bool(value) for value in values]
        if column.type == "bytea":  # SQLite may hand back a memoryview
            return lambda values: [value if value is None else bytes(value) for value in values]
        if column.type == "text" or column.type.startswith(("character", "varchar")):
            def refuse_nul(values: list) -> list:
                # PostgreSQL text cannot hold NUL (SQLite can). Ingest drops it; a copy must not change data.
                if any(isinstance(value, str) and "\x00" in value for value in values):
                    raise CopyRefused(f"{table}.{column.name} holds text with a NUL character, which PostgreSQL "
                                      "cannot store; nothing was copied")
                return values

            return refuse_nul
        return None

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        conn = self.conn
        isolation, read_only = conn.isolation_level, conn.read_only
        conn.isolation_level, conn.read_only = psycopg.IsolationLevel.REPEATABLE_READ, True
        try:
            with conn.transaction():
                yield
        finally:
            conn.isolation_level, conn.read_only = isolation, read_only

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    def reset_identities(self, tables: list[str]) -> list[str]:
        moved = []
        for table, column, sequence in self.conn.execute(
                "SELECT c.relname, a.attname, pg_get_serial_sequence(quote_ident(c.relname), a.attname) "
                "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE c.relname = ANY(%s) "
                "AND c.relnamespace = current_schema()::regnamespace AND a.attnum > 0 AND NOT a.attisdropped",
                (tables,)).fetchall():
            if sequence is None:
                continue
            highest = self.conn.execute(sql.SQL("SELECT max({}) FROM {}").format(
                sql.Identifier(column), sql.Identifier(table))).fetchone()[0]
            if highest is not None:
                # The next nextval() (a new item, author, user …) returns highest + 1.
                self.conn.execute("SELECT setval(%s, %s)", (sequence, highest))
                moved.append(f"{table}.{column}")
        return moved

    def after_load(self) -> None:
        # Fresh planner statistics: without them the first queries on a just-loaded store plan as if it were empty.
        self.conn.execute("ANALYZE")


def table_access(store: Store) -> TableAccess:
    """The table-level view of a store's backend."""
    from .postgres import PostgresStore
    from .sqlite import SQLiteStore

    if isinstance(store, SQLiteStore):
        return SQLiteTables(store)
    if isinstance(store, PostgresStore):
        return PostgresTables(store)
    raise TypeError(f"no table access for {type(store).__name__}")
