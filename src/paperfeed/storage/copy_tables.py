"""Table-level access for ``paperfeed copy``: what tables a database holds, and rows out and in.

Everything here is read from the database itself (SQLite's ``sqlite_master`` and pragmas, PostgreSQL's
``pg_catalog``), never from a list of table names: a storage area that adds a table in a migration is
copied without a change here. Statements run on the store's own ``store.db``; what each backend does its own
way is the catalog, streaming a table out (a cursor), PostgreSQL's ``COPY`` in, and a consistent snapshot.
"""

from __future__ import annotations

import abc
import re
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

from .sql import Database
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


def quote(name: str) -> str:
    """A table or column name as an SQL identifier (the same quoting on both backends)."""
    return '"' + name.replace('"', '""') + '"'


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
        self.db: Database = store.db  # the copy runs on the store's own connection and transactions

    @abc.abstractmethod
    def tables(self) -> dict[str, Table]:
        """Every ordinary table of the store, by name (the database's internal tables left out)."""

    @abc.abstractmethod
    def triggers(self) -> Triggers:
        """What the insert triggers write."""

    def count(self, table: str) -> int:
        """Rows in ``table``."""
        return self.db.value(f"SELECT count(*) FROM {quote(table)}")

    @staticmethod
    def _select(table: Table, columns: list[str]) -> str:
        order = f" ORDER BY {', '.join(map(quote, table.key))}" if table.key else ""
        return f"SELECT {', '.join(map(quote, columns))} FROM {quote(table.name)}{order}"

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

    def transaction(self) -> AbstractContextManager[None]:
        """A context whose writes commit together at its end, or roll back on an exception."""
        return self.db.transaction()

    def reset_identities(self, tables: list[str]) -> list[str]:
        """Make generated keys continue after the copied ones; return the sequences moved."""
        return []

    def after_load(self) -> None:
        """Work that makes a freshly loaded store fast to query (statistics), after the commit."""


class SQLiteTables(TableAccess):
    backend = "SQLite"

    def tables(self) -> dict[str, Table]:
        tables = {}
        for name in self.db.column(
                "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' "
                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"):
            columns, key = [], []
            # table_xinfo's hidden: 0 a stored column, 2 or 3 a generated one.
            for _cid, column, declared, _notnull, _default, pk, hidden in self.db.rows(
                    "SELECT * FROM pragma_table_xinfo($1)", (name,)):
                columns.append(Column(column, (declared or "").lower(), generated=hidden in (2, 3)))
                if pk:
                    key.append((pk, column))
            parents = set(self.db.column('SELECT "table" FROM pragma_foreign_key_list($1)', (name,)))
            tables[name] = Table(name, columns, [column for _, column in sorted(key)], parents - {name})
        return tables

    def triggers(self) -> Triggers:
        found = Triggers()
        for text in self.db.column("SELECT sql FROM sqlite_master WHERE type = 'trigger'"):
            # The header says when it fires (``AFTER INSERT ON items``), the body after BEGIN what it writes.
            parts = re.split(r"\bBEGIN\b", text, maxsplit=1, flags=re.IGNORECASE)
            header, body = parts[0], parts[1] if len(parts) > 1 else ""
            if re.search(r"\bINSERT\s+ON\b", header, re.IGNORECASE):
                _read_trigger_body(body, found)
        return found

    def read(self, table: Table, columns: list[str], batch_size: int) -> Iterator[list[tuple]]:
        # The driver's cursor: a table is read in batches, never held in memory at once.
        cursor = self.db.connection.execute(self._select(table, columns))
        while rows := cursor.fetchmany(batch_size):
            yield rows

    def write(self, table: Table, columns: list[str], rows: list[tuple]) -> None:
        # The driver's positional executemany, not ``db.run_many``: binding ``$n`` by name builds a dict per row,
        # which made a whole copy into SQLite about a third slower (88,574 rows: 1.55 s against 1.15 s).
        self.db.connection.executemany(f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, columns))}) "
                                       f"VALUES ({', '.join('?' * len(columns))})", rows)
        if table.name == "items":  # SQLite logs inserted items for search without a trigger (migration 0018)
            position = columns.index("id")
            self.store.log_inserted_items([row[position] for row in rows])

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        # A deferred transaction: the first read fixes what every later read of this connection sees (WAL).
        # Not ``db.transaction()``: that would take the write lock and stop the store's writers for the copy.
        self.db.run("BEGIN")
        try:
            yield
        finally:
            self.db.run("COMMIT")


class PostgresTables(TableAccess):
    backend = "PostgreSQL"

    def tables(self) -> dict[str, Table]:
        tables = {}
        for oid, name in self.db.rows(
                "SELECT c.oid, c.relname FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace "
                "AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname"):
            columns = [Column(column, declared.lower(), generated=bool(generated)) for column, declared, generated in
                       self.db.rows(
                           "SELECT attname, format_type(atttypid, atttypmod), attgenerated <> '' FROM pg_attribute "
                           "WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum", (oid,))]
            key = self.db.column(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                "AND a.attnum = ANY (i.indkey::int2[]) WHERE i.indrelid = $1 AND i.indisprimary "
                "ORDER BY array_position(i.indkey::int2[], a.attnum)", (oid,))
            parents = set(self.db.column(
                "SELECT p.relname FROM pg_constraint f JOIN pg_class p ON p.oid = f.confrelid "
                "WHERE f.conrelid = $1 AND f.contype = 'f'", (oid,)))
            tables[name] = Table(name, columns, key, parents - {name})
        return tables

    def triggers(self) -> Triggers:
        found = Triggers()
        # tgtype bit 2 (4): the trigger fires on INSERT; its function's body says what it writes.
        for body in self.db.column(
                "SELECT p.prosrc FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_proc p ON p.oid = t.tgfoid WHERE NOT t.tgisinternal AND t.tgtype & 4 <> 0 "
                "AND c.relnamespace = current_schema()::regnamespace"):
            _read_trigger_body(body or "", found)
        return found

    def read(self, table: Table, columns: list[str], batch_size: int) -> Iterator[list[tuple]]:
        # A server-side cursor: a table of millions of rows is never held in memory at once.
        with self.db.connection.cursor(name=f"paperfeed_copy_{table.name}") as cursor:
            cursor.itersize = batch_size
            cursor.execute(self._select(table, columns))
            while rows := cursor.fetchmany(batch_size):
                yield rows

    def write(self, table: Table, columns: list[str], rows: list[tuple]) -> None:
        # COPY writes the given values into identity columns, GENERATED ALWAYS ones included, and fires the
        # row triggers as INSERT does.
        statement = f"COPY {quote(table.name)} ({', '.join(map(quote, columns))}) FROM STDIN"
        with self.db.connection.cursor() as cursor, cursor.copy(statement) as copy:
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
        with self.db.transaction():
            self.db.run("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield

    def reset_identities(self, tables: list[str]) -> list[str]:
        moved = []
        for table, column, sequence in self.db.rows(
                "SELECT c.relname, a.attname, pg_get_serial_sequence(quote_ident(c.relname), a.attname) "
                "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE c.relname = ANY($1) "
                "AND c.relnamespace = current_schema()::regnamespace AND a.attnum > 0 AND NOT a.attisdropped",
                (tables,)):
            if sequence is None:
                continue
            highest = self.db.value(f"SELECT max({quote(column)}) FROM {quote(table)}")
            if highest is not None:
                # The next nextval() (a new item, author, user …) returns highest + 1.
                self.db.value("SELECT setval($1, $2)", (sequence, highest))
                moved.append(f"{table}.{column}")
        return moved

    def after_load(self) -> None:
        # Fresh planner statistics: without them the first queries on a just-loaded store plan as if it were empty.
        self.db.run("ANALYZE")


def table_access(store: Store) -> TableAccess:
    """The table-level view of a store's backend."""
    kind = {"sqlite": SQLiteTables, "postgresql": PostgresTables}.get(store.db.dialect.name)
    if kind is None:
        raise TypeError(f"no table access for {type(store).__name__}")
    return kind(store)
