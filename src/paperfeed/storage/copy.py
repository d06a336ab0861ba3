"""``paperfeed copy``: move a whole store to another one (SQLite ⇄ PostgreSQL, or two of one kind) without loss.

Every table is copied row by row with its keys as they are (other tables refer to item, author, user … ids),
parents before children by the destination's foreign keys, in batches, inside one transaction on the
destination (a failed or interrupted copy leaves it empty) and one consistent snapshot of the source (a
store in use can be copied). Values are converted per destination column (SQLite's 0/1 to booleans, blobs
to bytea and back). Tables that the destination's own insert triggers fill (the search change log) are
not copied: the triggers re-make them as the rows arrive (on SQLite, inserted items are logged by the
copy's writer instead, ``log_inserted_items``). Nor are each backend's ``Store.local_tables``
(its migration log, a lock's holder, PostgreSQL's full-text index): the destination keeps its own. The
table list comes from the databases themselves, so a table a later migration adds is copied too.
PostgreSQL's identity sequences are then moved past the copied keys, so a new item gets a fresh id.

Before committing, the copy is checked: each table's row count and an order-independent digest of its
rows, and the item, source-record and author counts and a SHA-256 checksum of the portable export
(``Store.iter_items``, ids included, keys sorted) on both sides. Any difference rolls everything back.
"""

from __future__ import annotations

import hashlib
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import orjson

from . import open_store
from .store import Store, StoreError
from .copy_tables import CopyRefused, Table, TableAccess, table_access

__all__ = ["CopyMismatch", "CopyRefused", "CopyReport", "StoreSummary", "copy_store", "summarize_store"]

BATCH_SIZE = 5000

Progress = Callable[[str], AbstractContextManager[Callable[[int], None]]]


class CopyMismatch(StoreError):
    """The destination did not read back as the source: the copy was rolled back."""


@dataclass(slots=True)
class StoreSummary:
    """What ``copy`` compares between the two stores."""

    items: int
    source_records: int
    authors: int
    checksum: str
    """SHA-256 of the export: every item as sorted-key JSON, with its id, one per line, by id."""


@dataclass(slots=True)
class CopyReport:
    source: str
    destination: str
    migrations: list[str]
    """The migrations both stores are at."""
    migrated_now: list[str]
    """The migrations applied to the (empty) destination before copying."""
    tables: dict[str, int] = field(default_factory=dict)
    """Rows copied per table, in the order copied."""
    derived: list[str] = field(default_factory=list)
    """Tables the destination's triggers filled instead."""
    sequences: list[str] = field(default_factory=list)
    """Identity columns whose sequence was moved past the copied keys."""
    source_summary: StoreSummary | None = None
    destination_summary: StoreSummary | None = None
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def summarize_store(store: Store) -> StoreSummary:
    """Counts and the export checksum of ``store`` (read through the store's own connection and transaction)."""
    digest = hashlib.sha256()
    items = 0
    for item in store.iter_items():
        digest.update(orjson.dumps(item, option=orjson.OPT_SORT_KEYS))
        digest.update(b"\n")
        items += 1
    return StoreSummary(items, store.db.value("SELECT count(*) FROM source_records"),
                        store.db.value("SELECT count(*) FROM authors"), digest.hexdigest())


def copy_store(source_url: str, destination_url: str, batch_size: int = BATCH_SIZE,
               progress: Progress | None = None) -> CopyReport:
    """Copy the store at ``source_url`` into the empty store at ``destination_url`` (migrated first if needed).

    Raises ``CopyRefused`` (nothing written) when the destination is not empty, the two are one store, the
    source has migrations pending, or the schemas differ; ``CopyMismatch`` (rolled back) when the
    destination does not read back as the source.
    """
    started = time.perf_counter()
    progress = progress or (lambda description: nullcontext(lambda count: None))
    if _same_store(source_url, destination_url):
        raise CopyRefused(f"source and destination are the same store ({source_url})")
    _require_existing_sqlite(source_url)
    with open_store(source_url, migrate=False) as source:
        pending = source.pending_migrations()
        if pending:
            raise CopyRefused(f"the source store {source.url} has migrations not applied yet ({', '.join(pending)}): "
                              f"run `paperfeed --db {source.url} migrate` first")
        with open_store(destination_url, migrate=False) as destination:
            reading, writing = table_access(source), table_access(destination)
            # Each store's own running state (its migration log, a lock's holder) stays with it.
            local = source.local_tables | destination.local_tables
            _require_empty(writing, destination.url, local, "")
            migrated_now = destination.migrate()
            _require_empty(writing, destination.url, local, " after migrating it (a migration added rows)")
            migrations = source.applied_migrations()
            if destination.applied_migrations() != migrations:
                missing = [name for name in migrations if name not in destination.applied_migrations()]
                raise CopyRefused(
                    f"the destination ({writing.backend}) cannot reach the source's schema: migrations "
                    f"{', '.join(missing) or '(order differs)'} are not available for {writing.backend} in this "
                    "paperfeed")
            report = CopyReport(source.url, destination.url, migrations, migrated_now)
            plan = _plan(reading, writing, local)
            report.derived = plan.derived
            with reading.snapshot():
                with writing.transaction():
                    digests = _copy_tables(plan, reading, writing, batch_size, progress, report)
                    report.sequences = writing.reset_identities(list(report.tables))
                    _verify(plan, writing, digests, batch_size)
                    report.source_summary = summarize_store(source)
                    report.destination_summary = summarize_store(destination)
                    if report.source_summary != report.destination_summary:
                        raise CopyMismatch(
                            "the destination does not read back as the source (rolled back, nothing kept): "
                            f"source {_describe(report.source_summary)}; "
                            f"destination {_describe(report.destination_summary)}")
            writing.after_load()
    report.seconds = time.perf_counter() - started
    return report


def _describe(summary: StoreSummary) -> str:
    return (f"{summary.items} items, {summary.source_records} source records, {summary.authors} authors, "
            f"checksum {summary.checksum}")


# -- preparing ----------------------------------------------------------------------------------------


def _same_store(first: str, second: str) -> bool:
    def identity(url: str) -> str:
        text = str(url)
        if text.startswith(("postgresql://", "postgres://")):
            return text.replace("postgres://", "postgresql://", 1)
        path = text[len("sqlite:///"):] if text.startswith("sqlite:///") else text
        return str(Path(path).expanduser().resolve())

    return identity(first) == identity(second)


def _require_existing_sqlite(url: str) -> None:
    # Opening a SQLite path creates the file: a mistyped source would be an empty store copied "successfully".
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")) or ("://" in text and not text.startswith("sqlite:///")):
        return
    path = Path(text[len("sqlite:///"):] if text.startswith("sqlite:///") else text)
    if not path.is_file():
        raise CopyRefused(f"no store at {path}: the source must be an existing SQLite file")


def _require_empty(writing: TableAccess, url: str, local: frozenset[str], when: str) -> None:
    filled = {}
    for name in writing.tables():
        if name not in local:
            rows = writing.count(name)
            if rows:
                filled[name] = rows
    if filled:
        shown = ", ".join(f"{name} {rows:,} rows" for name, rows in sorted(filled.items())[:6])
        more = f" and {len(filled) - 6} more tables" if len(filled) > 6 else ""
        raise CopyRefused(f"the destination {url} is not empty{when} ({shown}{more}); copy writes only into an "
                          "empty store: give a new SQLite file or an empty PostgreSQL database")


@dataclass(slots=True)
class _Plan:
    order: list[tuple[Table, Table]]
    """(source table, destination table) pairs, parents first."""
    derived: list[str]


def _plan(reading: TableAccess, writing: TableAccess, local: frozenset[str]) -> _Plan:
    """Which tables to copy, in which order, and refuse schemas that differ."""
    source, target = reading.tables(), writing.tables()
    made_by_source, made_by_target = reading.triggers(), writing.triggers()
    derived = sorted((set(target) & made_by_target.inserts_into) - local)
    only_source = sorted(set(source) - set(target) - local - made_by_source.inserts_into)
    only_target = sorted(set(target) - set(source) - local - set(derived))
    if only_source or only_target:
        sides = []
        if only_source:
            sides.append(f"only in the source ({reading.backend}): {', '.join(only_source)}")
        if only_target:
            sides.append(f"only in the destination ({writing.backend}): {', '.join(only_target)}")
        raise CopyRefused(f"the two stores' schemas differ; tables {'; '.join(sides)}")
    copied = sorted(set(source) & set(target) - local - set(derived))
    doubled = sorted(made_by_target.changes & set(copied))
    if doubled:
        raise CopyRefused(f"the destination's insert triggers change tables that are copied ({', '.join(doubled)}): "
                          "their rows would be changed twice")
    differing = []
    for name in copied:
        mine = {column.name for column in source[name].copied_columns()}
        theirs = {column.name for column in target[name].copied_columns()}
        differing += [f"{name}.{column} (source only)" for column in sorted(mine - theirs)]
        differing += [f"{name}.{column} (destination only)" for column in sorted(theirs - mine)]
    if differing:
        raise CopyRefused(f"the two stores' schemas differ; columns {', '.join(differing)}")
    return _Plan([(source[name], target[name]) for name in _parents_first(target, copied)], derived)


def _parents_first(tables: dict[str, Table], names: list[str]) -> list[str]:
    """``names`` ordered so that every table comes after the tables it references (ties by name)."""
    wanted = set(names)
    waiting = {name: tables[name].parents & wanted for name in names}
    order: list[str] = []
    while waiting:
        ready = sorted(name for name, parents in waiting.items() if not parents)
        if not ready:
            raise CopyRefused(f"tables reference each other in a cycle ({', '.join(sorted(waiting))}); "
                              "copy cannot order them")
        for name in ready:
            del waiting[name]
            order.append(name)
        for parents in waiting.values():
            parents.difference_update(ready)
    return order


# -- copying and checking -----------------------------------------------------------------------------


def _row_hasher(source: Table, target: Table, columns: list[str]) -> Callable[[tuple], int]:
    """A row's 128-bit hash over a form both backends give alike (a boolean is 0/1, bytes are bytes)."""
    booleans = [index for index, name in enumerate(columns)
                if "boolean" in (_type(source, name), _type(target, name))]

    def default(value):
        if isinstance(value, (bytes, memoryview)):
            return {"bytes": bytes(value).hex()}
        raise TypeError(f"cannot compare a {type(value).__name__} value")

    def row_hash(row: tuple) -> int:
        if booleans:
            row = list(row)
            for index in booleans:
                if row[index] is not None:
                    row[index] = int(row[index])
        return int.from_bytes(hashlib.blake2b(orjson.dumps(row, default=default), digest_size=16).digest(), "big")

    return row_hash


def _type(table: Table, name: str) -> str:
    return next(column.type for column in table.columns if column.name == name)


_MOD = 1 << 128


def _copy_tables(plan: _Plan, reading: TableAccess, writing: TableAccess, batch_size: int, progress: Progress,
                 report: CopyReport) -> dict[str, tuple[int, int]]:
    """Copy every planned table; return each one's (rows, digest) as read from the source."""
    digests = {}
    for source, target in plan.order:
        columns = [column.name for column in target.copied_columns()]
        converters = [(index, convert) for index, column in enumerate(target.copied_columns())
                      if (convert := writing.converter(target.name, column)) is not None]
        row_hash = _row_hasher(source, target, columns)
        rows, digest = 0, 0
        with progress(f"copying {target.name}") as advance:
            for batch in reading.read(source, columns, batch_size):
                digest = (digest + sum(map(row_hash, batch))) % _MOD
                rows += len(batch)
                if converters:
                    by_column = list(zip(*batch))
                    for index, convert in converters:
                        by_column[index] = convert(list(by_column[index]))
                    batch = list(zip(*by_column))
                writing.write(target, columns, batch)
                advance(len(batch))
        digests[target.name] = (rows, digest)
        report.tables[target.name] = rows
    return digests


def _verify(plan: _Plan, writing: TableAccess, digests: dict[str, tuple[int, int]], batch_size: int) -> None:
    """Read every copied table back from the destination and compare it with what was read from the source."""
    differing = []
    for source, target in plan.order:
        columns = [column.name for column in target.copied_columns()]
        row_hash = _row_hasher(source, target, columns)
        rows, digest = 0, 0
        for batch in writing.read(target, columns, batch_size):
            digest = (digest + sum(map(row_hash, batch))) % _MOD
            rows += len(batch)
        expected_rows, expected_digest = digests[target.name]
        if rows != expected_rows:
            differing.append(f"{target.name} ({expected_rows:,} rows read, {rows:,} stored)")
        elif digest != expected_digest:
            differing.append(f"{target.name} (same {rows:,} rows, different contents)")
    if differing:
        raise CopyMismatch(f"the destination does not read back as the source (rolled back, nothing kept): "
                           f"{', '.join(differing)}")
