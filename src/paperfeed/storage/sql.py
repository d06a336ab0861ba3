"""What every storage area runs its SQL on: one ``Database`` per store, with the backend's ``Dialect``.

Each statement is written once, for both backends. Placeholders are numbered, ``$1``, ``$2``…, which both
databases read (PostgreSQL's own parameters through psycopg's raw cursor, never rewritten; SQLite's backend turns
``$n`` into its positional ``?n`` once per statement, as binding ``$n`` by name costs more per row), so a literal
``%`` means itself.
The few spellings the two databases do not share (a list of ids as one parameter, byte-order collation,
a field of a JSON text column) come from the dialect, as fragments an area puts into its statement.
"""

from __future__ import annotations

import abc
from contextlib import AbstractContextManager
from typing import Any, Iterable, Sequence

Params = Sequence[Any]


class Dialect(abc.ABC):
    """The spellings that differ between the backends; everything else is standard SQL both accept."""

    name: str
    bytewise: str
    """Appended to an ``ORDER BY`` term on text: the same byte order on both backends, whatever the locale."""
    key_share: str
    """Appended to a ``SELECT`` inside a transaction, of rows the transaction's writes will reference: none of them
    can be deleted until it ends (PostgreSQL ``FOR KEY SHARE``; SQLite's write transaction excludes writers already)."""

    log_inserted_items: str | None
    """The statement that logs the items in ``array`` parameter ``$1`` to the search change log, in that order
    (``SearchStorage.log_inserted_items``); None where a trigger logs them (PostgreSQL's, at commit)."""

    @abc.abstractmethod
    def in_array(self, number: int) -> str:
        """``IN …`` over parameter ``$number``, which holds ``array(values)``: any number of values, one parameter."""

    @abc.abstractmethod
    def array(self, values: Iterable[Any]) -> Any:
        """The parameter value for ``in_array``."""

    @abc.abstractmethod
    def json_text(self, column: str, *keys: str) -> str:
        """The text at ``keys`` inside the JSON text of ``column`` (NULL when absent)."""

    @abc.abstractmethod
    def nocase_equals(self, column: str, number: int) -> str:
        """``column`` equals parameter ``$number`` with ASCII letters folded (SQLite's ``NOCASE``), by the
        column's case-insensitive unique index."""


class SQLiteDialect(Dialect):
    name = "sqlite"
    bytewise = ""  # SQLite compares text byte by byte (BINARY) unless told otherwise
    key_share = ""  # BEGIN IMMEDIATE: no other connection writes until this transaction ends
    # One statement per batch: the rows and numbering the per-row insert trigger it replaced (migration 0018) gave.
    log_inserted_items = "INSERT OR REPLACE INTO search_changes (item_id) SELECT value FROM json_each($1)"

    def in_array(self, number: int) -> str:
        return f"IN (SELECT value FROM json_each(${number}))"

    def array(self, values: Iterable[Any]) -> Any:
        import orjson

        return orjson.dumps(list(values)).decode()

    def json_text(self, column: str, *keys: str) -> str:
        return f"json_extract({column}, '$.{'.'.join(keys)}')"

    def nocase_equals(self, column: str, number: int) -> str:
        return f"{column} = ${number} COLLATE NOCASE"


class PostgresDialect(Dialect):
    name = "postgresql"
    bytewise = ' COLLATE "C"'
    key_share = " FOR KEY SHARE"
    log_inserted_items = None  # the deferred trigger numbers changes in commit order (storage/search.py)

    def in_array(self, number: int) -> str:
        return f"= ANY(${number})"

    def array(self, values: Iterable[Any]) -> Any:
        return list(values)

    def json_text(self, column: str, *keys: str) -> str:
        return f"({column}::jsonb #>> '{{{','.join(keys)}}}')"

    def nocase_equals(self, column: str, number: int) -> str:
        # lower() under "C" folds ASCII letters only, as NOCASE does; the unique index is on this expression.
        return f'lower({column} COLLATE "C") = lower(${number}::text COLLATE "C")'


class Database(abc.ABC):
    """One store's connection, as the storage areas see it: statements, batches and write transactions.

    Outside a transaction each statement commits on its own (reads never hold a transaction open).
    """

    dialect: Dialect

    @abc.abstractmethod
    def rows(self, sql: str, params: Params = ()) -> list[tuple]:
        """Run one statement; the rows it returns (none for a write without ``RETURNING``)."""

    def row(self, sql: str, params: Params = ()) -> tuple | None:
        """The first row a statement returns, or None."""
        found = self.rows(sql, params)
        return found[0] if found else None

    def value(self, sql: str, params: Params = (), default: Any = None) -> Any:
        """The first column of the first row, or ``default`` when there is no row."""
        found = self.row(sql, params)
        return found[0] if found else default

    def column(self, sql: str, params: Params = ()) -> list[Any]:
        """The first column of every row."""
        return [row[0] for row in self.rows(sql, params)]

    @abc.abstractmethod
    def run(self, sql: str, params: Params = ()) -> int:
        """Run one write statement; the number of rows it changed."""

    @abc.abstractmethod
    def run_many(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement once per parameter row (batched by the driver)."""

    @abc.abstractmethod
    def transaction(self, lock_writers: bool = False) -> AbstractContextManager[None]:
        """One write transaction; inside another it is a savepoint that rolls back alone.

        ``lock_writers``: also wait for the store's writers' lock, for writes that decide from what they read
        (merging, slugs). SQLite's write transaction is that lock already; PostgreSQL takes an advisory lock.
        """

    @property
    @abc.abstractmethod
    def in_transaction(self) -> bool:
        """Whether a transaction is open on this connection."""
