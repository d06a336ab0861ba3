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
import itertools
import re
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache, partial
from typing import Any, Callable, Iterable, Sequence

Params = Sequence[Any]


class Dialect(abc.ABC):
    """The spellings that differ between the backends; everything else is standard SQL both accept."""

    name: str
    bytewise: str
    """Appended to an ``ORDER BY`` term on text: the same byte order on both backends, whatever the locale."""
    key_share: str
    """Appended to a ``SELECT`` inside a transaction, of rows the transaction's writes will reference: none of them
    can be deleted until it ends (PostgreSQL ``FOR KEY SHARE``; SQLite's write transaction excludes writers already)."""
    dated_items: str
    """``items`` in a ``FROM`` that reads only ``id``, ``published`` and ``year`` (or only ``id``): on SQLite through
    the narrow index kept for that read (migration 0023), which its planner would pass over for the table's rowid."""

    many_row_upserts: bool
    """Whether ``Database.run_many`` (and ``insert_returning``) send an ``INSERT … ON CONFLICT … DO UPDATE`` many rows a
    statement (SQLite), or a statement a row (PostgreSQL, which refuses a statement that updates one row twice): the
    backends' ``insert_shape`` calls read it."""

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
    # The planner reads a row by its rowid from the table even where a covering index would serve (migration 0023).
    dated_items = "items INDEXED BY items_dates"
    many_row_upserts = True
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
    dated_items = "items"
    many_row_upserts = False
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
    def insert_returning(self, sql: str, rows: list[Params]) -> list[tuple]:
        """Run a plain insert with a RETURNING clause for each of ``rows``, many rows a statement as ``run_many``
        does; every row the statements return, in no set order (a row an ``ON CONFLICT … DO NOTHING`` skips
        returns nothing)."""

    @abc.abstractmethod
    def transaction(self, lock_writers: bool = False, savepoint: bool = True,
                    references_checked: bool = False) -> AbstractContextManager[None]:
        """One write transaction; inside another it is a savepoint that rolls back alone.

        ``lock_writers``: also wait for the store's writers' lock, for writes that decide from what they read
        (merging, slugs). SQLite's write transaction is that lock already; PostgreSQL takes an advisory lock.
        ``savepoint=False``: inside another transaction, no savepoint: the block's writes are the outer
        transaction's, and an error leaves them for its caller to roll back (a block that cannot fail alone).
        ``references_checked``: every row the block writes refers to rows it has read or written inside this
        transaction, or that are never deleted, and it deletes no row another row still refers to (it deletes the
        referring rows first). SQLite then does not
        enforce foreign keys for the transaction (they would not cascade either); inside another transaction, and
        on PostgreSQL, whose check reads a narrow key index, nothing changes. (SQLite finds the row a key refers to
        in its table: a wide page of titles and abstracts for every row referring to an item.)
        """

    def inserts_undone_together(self) -> AbstractContextManager[None]:
        """Inside, a plain insert that fails may leave the rows it wrote before the bad one: the caller's
        transaction (or savepoint), which rolls back on any error, is what undoes them. For a writer that never
        goes on after a failed statement in the same transaction (``Store.ingest_session``). SQLite then keeps no
        statement journal (``SQLiteDatabase``); elsewhere nothing changes."""
        return nullcontext()

    @property
    @abc.abstractmethod
    def in_transaction(self) -> bool:
        """Whether a transaction is open on this connection."""


# -- plain inserts, many rows a statement ----------------------------------------------------------------------------

ROWS_PER_INSERT = 256
"""Rows of one multi-row ``INSERT … VALUES (…), (…)`` that ``run_many`` sends for a plain insert, on both backends.
A driver's ``executemany`` runs the statement once per row. In SQLite each run costs about 1.4 µs beside the row's
own work, and a constant ``IN`` list of three or more values in a CHECK constraint (``daily_dates.kind``) is built
into a lookup table once per run, 5.4 µs more a row (SQLite 3.40; bench/sqlite_rows.py). In PostgreSQL each run is
a statement the server binds and executes (psycopg pipelines them, but the server still takes them one by one):
about 30 µs a row of server CPU on the 2-core machine, where a row of a 256-row statement costs a few
(docs/benchmarks.md, "Backends"). A bulk load writes about 15 rows a record."""


@lru_cache(maxsize=4)
def _insert_patterns(mark: str) -> tuple[re.Pattern, re.Pattern]:
    """For placeholders ``{mark}N``: a plain INSERT whose one VALUES row holds only placeholders and simple
    literals, and what follows it (an ON CONFLICT clause, a RETURNING clause); and a placeholder's number (group 1)
    or a string literal, passed over whole."""
    value = rf"(?:{re.escape(mark)}\d+|'[^']*'|-?\d+(?:\.\d+)?|NULL|TRUE|FALSE)"
    plain = re.compile(rf"(?is)^(\s*INSERT\s.*?\bVALUES\s*)"  # head
                       rf"(\(\s*{value}(?:\s*,\s*{value})*\s*\))"  # one row
                       r"(\s*(?:(?:ON\s+CONFLICT|RETURNING)\b.*)?)$")  # tail
    return plain, re.compile(rf"'[^']*'|{re.escape(mark)}(\d+)")


_DO_UPDATE = re.compile(r"(?i)\bDO\s+UPDATE\b")


@lru_cache(maxsize=512)
def insert_shape(statement: str, mark: str, upserts: bool = True,
                 returning: bool = False) -> tuple[str, str, str, int] | None:
    """(head, one row, tail, values a row takes) of a plain insert whose placeholders are ``{mark}N``, else None.
    A number used twice is one value. ``upserts=False``: None for ``ON CONFLICT … DO UPDATE`` too (PostgreSQL
    refuses to update a row twice in one statement, where one statement per row would). ``returning``: a RETURNING
    clause is allowed (its rows are read by ``Database.insert_returning``; ``run_many`` would drop them)."""
    plain, numbered = _insert_patterns(mark)
    found = plain.match(statement)
    # A placeholder after the row (``DO UPDATE SET a = $3``) would be the first row's value for every row.
    if (found is None or (not returning and "RETURNING" in found.group(3).upper())
            or any(numbered.findall(found.group(3)))):
        return None
    if not upserts and _DO_UPDATE.search(found.group(3)):
        return None
    numbers = [int(number) for number in numbered.findall(found.group(2)) if number]
    if not numbers:
        return None
    return found.group(1), found.group(2), found.group(3), max(numbers)


@lru_cache(maxsize=1024)
def many_rows(statement: str, count: int, mark: str) -> str:
    """``statement`` (a plain insert, its caller's ``insert_shape`` checked) with ``count`` rows, the placeholders of
    row k numbered after row k-1's."""
    head, row, tail, width = insert_shape(statement, mark, returning=True)
    numbered = _insert_patterns(mark)[1]

    def renumbered(k: int, found: re.Match) -> str:
        return f"{mark}{int(found.group(1)) + k * width}" if found.group(1) else found.group(0)

    rows = ", ".join(numbered.sub(partial(renumbered, k), row) for k in range(count))
    return f"{head}{rows}{tail}"


def rows_per_insert(width: int, parameter_limit: int) -> int:
    """Rows of ``width`` values one statement may take: ROWS_PER_INSERT, fewer where the database's limit on a
    statement's parameters would be passed; a power of two."""
    most = min(ROWS_PER_INSERT, parameter_limit // max(width, 1))
    return 1 << (max(most, 1).bit_length() - 1)


def insert_by_rows(statement: str, rows: list[Params], shape: tuple[str, str, str, int], mark: str, limit: int,
                   execute: Callable[[str, Params], Any], execute_each: Callable[[str, list[Params]], Any]) -> None:
    """Run a plain insert (``shape``: ``insert_shape``) for ``rows``: ``limit`` rows a statement, the rest in
    statements of 128, 64… rows (a few statement texts, each prepared once and kept by the driver). Rows of the
    wrong size go to ``execute_each`` (one statement per row), for the driver's own message."""
    width, flat, done = shape[3], itertools.chain.from_iterable, 0
    while done < len(rows):
        count = min(limit, 1 << ((len(rows) - done).bit_length() - 1))
        part = rows[done:done + count]
        if any(len(row) != width for row in part):
            execute_each(statement, rows[done:])
            return
        execute(many_rows(statement, count, mark) if count > 1 else statement, tuple(flat(part)))
        done += count


def insert_returning_by_rows(statement: str, rows: list[Params], mark: str, parameter_limit: int,
                             fetch: Callable[[str, Params], list[tuple]], upserts: bool = True) -> list[tuple]:
    """``Database.insert_returning`` for a backend whose ``fetch`` runs one statement and returns its rows: many rows
    a statement as ``insert_by_rows`` sends them (``upserts`` as ``insert_shape`` takes it)."""
    shape = insert_shape(statement, mark, upserts=upserts, returning=True)
    if shape is None:
        raise ValueError(f"not a plain insert: {statement}")
    found: list[tuple] = []

    def execute(text: str, params: Params) -> None:
        found.extend(fetch(text, params))

    insert_by_rows(statement, rows, shape, mark, rows_per_insert(shape[3], parameter_limit), execute,
                   lambda text, each: [execute(text, params) for params in each])
    return found
