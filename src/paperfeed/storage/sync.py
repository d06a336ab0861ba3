"""Live sources: their configuration, incremental state, results, and the sync lock.

Written once for both backends on ``self.db`` (``storage.sql``). Only the sync lock differs: SQLite's is an OS
lock on a file beside the store, PostgreSQL's a session advisory lock (``SQLiteStore.sync_lock``,
``PostgresStore.sync_lock``).
"""

from __future__ import annotations

import abc
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from ..normalize import utc_now
from .sql import Database


class SourceExistsError(ValueError):
    """A source name that is already taken."""


class SyncBusyError(RuntimeError):
    """Another sync holds the store's sync lock; ``holder`` says who."""

    def __init__(self, holder: str) -> None:
        super().__init__(f"another sync is running on this store ({holder})")
        self.holder = holder


@dataclass(slots=True)
class SourceRow:
    """A configured source with its last sync outcome and incremental cursor."""

    name: str
    kind: str
    url: str | None = None
    label: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    """Kind-specific settings: categories, set, from/until, api_url, metadata_prefix, ..."""
    created_at: str = ""
    cursor: dict[str, Any] = field(default_factory=dict)
    """Where the next sync starts (datestamp or date, validators, resumptionToken, pending ids)."""
    last_run_at: str | None = None
    last_ok_at: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None
    failures: int = 0
    """Failed syncs in a row (0 after a success)."""
    last_summary: dict[str, Any] = field(default_factory=dict)


SOURCE_COLUMNS = ("s.name, s.kind, s.url, s.label, s.options, s.created_at, st.cursor, st.last_run_at, "
                  "st.last_ok_at, st.last_error, st.last_error_at, st.failures, st.last_summary")
"""What is selected (``sources s LEFT JOIN sync_state st``) to build a ``SourceRow``."""

_SELECT = f"SELECT {SOURCE_COLUMNS} FROM sources s LEFT JOIN sync_state st ON st.source = s.name"


@dataclass(frozen=True, slots=True)
class SyncRunRow:
    """One finished sync of one source."""

    source: str
    finished_at: str
    ok: bool
    error: str | None
    new: int
    merged: int
    unchanged: int
    pages: int


SYNC_RUNS_KEPT_DAYS = 400
"""How long each sync's outcome is kept (the status pages show the last 30 days)."""


def source_row(values: tuple) -> SourceRow:
    """The ``SourceRow`` of one row of ``SOURCE_COLUMNS`` (options, cursor and summary are JSON text)."""
    return SourceRow(name=values[0], kind=values[1], url=values[2], label=values[3],
                     options=orjson.loads(values[4] or "{}"), created_at=values[5],
                     cursor=orjson.loads(values[6] or "{}"), last_run_at=values[7], last_ok_at=values[8],
                     last_error=values[9], last_error_at=values[10], failures=values[11] or 0,
                     last_summary=orjson.loads(values[12] or "{}"))


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class SyncStorage(abc.ABC):
    """Sources, their incremental sync state, and the lock that keeps two syncs apart."""

    db: Database

    def add_source(self, source: SourceRow) -> None:
        """Store a new source; raise SourceExistsError when the name is taken."""
        with self.db.transaction():
            if not self.db.run(
                    "INSERT INTO sources (name, kind, url, label, options, created_at) VALUES ($1, $2, $3, $4, $5, $6) "
                    "ON CONFLICT (name) DO NOTHING",
                    (source.name, source.kind, source.url, source.label, _json(source.options),
                     source.created_at or utc_now())):
                raise SourceExistsError(f"a source named {source.name!r} exists already")
            self.db.run("INSERT INTO sync_state (source, cursor) VALUES ($1, $2)", (source.name, _json(source.cursor)))

    def sources(self) -> list[SourceRow]:
        """Every source, by name (byte order on both backends)."""
        return [source_row(values) for values in self.db.rows(f"{_SELECT} ORDER BY s.name{self.db.dialect.bytewise}")]

    def source(self, name: str) -> SourceRow | None:
        """One source by name, or None."""
        values = self.db.row(f"{_SELECT} WHERE s.name = $1", (name,))
        return source_row(values) if values else None

    def remove_source(self, name: str) -> bool:
        """Forget a source and its state (its records stay); False when there was none."""
        with self.db.transaction():
            self.db.run("DELETE FROM sync_state WHERE source = $1", (name,))
            self.db.run("DELETE FROM sync_runs WHERE source = $1", (name,))
            return self.db.run("DELETE FROM sources WHERE name = $1", (name,)) > 0

    def save_cursor(self, name: str, cursor: dict[str, Any]) -> None:
        """Record where the source's next sync starts.

        Inside ``write_group`` it joins the group's transaction (as a savepoint), so a fetched page and the cursor
        past it commit together: a crash either keeps both or neither.
        """
        with self.db.transaction():
            self.db.run("UPDATE sync_state SET cursor = $1 WHERE source = $2", (_json(cursor), name))

    def record_sync_result(self, name: str, at: str, error: str | None, summary: dict[str, Any]) -> None:
        """Record a sync's outcome: a success clears the failure streak, an error extends it."""
        with self.db.transaction():
            if error is None:
                self.db.run("UPDATE sync_state SET last_run_at = $1, last_ok_at = $1, failures = 0, last_summary = $2 "
                            "WHERE source = $3", (at, _json(summary), name))
            else:
                self.db.run("UPDATE sync_state SET last_run_at = $1, last_error = $2, last_error_at = $1, "
                            "failures = failures + 1, last_summary = $3 WHERE source = $4",
                            (at, error, _json(summary), name))
            counts = [int(summary.get(key) or 0) for key in ("new", "merged", "unchanged", "pages")]
            self.db.run("INSERT INTO sync_runs (source, finished_at, ok, error, new, merged, unchanged, pages) "
                        "SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM sources WHERE name = $1)",
                        (name, at, error is None, error, *counts))
            oldest = (datetime.fromisoformat(at.replace("Z", "+00:00")) - timedelta(days=SYNC_RUNS_KEPT_DAYS))
            self.db.run("DELETE FROM sync_runs WHERE source = $1 AND finished_at < $2",
                        (name, oldest.isoformat(timespec="seconds")))

    def sync_runs(self, name: str, since: str) -> list[SyncRunRow]:
        """The source's syncs that finished at or after ``since`` (ISO time), oldest first."""
        return [SyncRunRow(source, finished_at, bool(ok), error, new, merged, unchanged, pages)
                for source, finished_at, ok, error, new, merged, unchanged, pages in self.db.rows(
                    "SELECT source, finished_at, ok, error, new, merged, unchanged, pages FROM sync_runs "
                    "WHERE source = $1 AND finished_at >= $2 ORDER BY finished_at, id", (name, since))]

    @abc.abstractmethod
    def sync_lock(self, owner: str) -> AbstractContextManager[None]:
        """Hold the store's sync lock for the block, or raise SyncBusyError; a crashed holder never keeps it."""
