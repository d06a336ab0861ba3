"""The storage interface for live sources: their configuration, incremental state, results and the sync lock."""

from __future__ import annotations

import abc
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import orjson


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
"""What both backends select (``sources s LEFT JOIN sync_state st``) to build a ``SourceRow``."""


def source_row(values: tuple) -> SourceRow:
    """The ``SourceRow`` of one row of ``SOURCE_COLUMNS`` (options, cursor and summary are JSON text)."""
    return SourceRow(name=values[0], kind=values[1], url=values[2], label=values[3],
                     options=orjson.loads(values[4] or "{}"), created_at=values[5],
                     cursor=orjson.loads(values[6] or "{}"), last_run_at=values[7], last_ok_at=values[8],
                     last_error=values[9], last_error_at=values[10], failures=values[11] or 0,
                     last_summary=orjson.loads(values[12] or "{}"))


class SyncStorage(abc.ABC):
    """Sources, their incremental sync state, and the lock that keeps two syncs apart."""

    @abc.abstractmethod
    def add_source(self, source: SourceRow) -> None:
        """Store a new source; raise SourceExistsError when the name is taken."""

    @abc.abstractmethod
    def sources(self) -> list[SourceRow]:
        """Every source, by name."""

    @abc.abstractmethod
    def source(self, name: str) -> SourceRow | None:
        """One source by name, or None."""

    @abc.abstractmethod
    def remove_source(self, name: str) -> bool:
        """Forget a source and its state (its records stay); False when there was none."""

    @abc.abstractmethod
    def save_cursor(self, name: str, cursor: dict[str, Any]) -> None:
        """Record where the source's next sync starts.

        Inside ``write_group`` it joins the group's transaction, so a fetched page and the cursor
        past it commit together: a crash either keeps both or neither.
        """

    @abc.abstractmethod
    def record_sync_result(self, name: str, at: str, error: str | None, summary: dict[str, Any]) -> None:
        """Record a sync's outcome: a success clears the failure streak, an error extends it."""

    @abc.abstractmethod
    def sync_lock(self, owner: str) -> AbstractContextManager[None]:
        """Hold the store's sync lock for the block, or raise SyncBusyError; a crashed holder never keeps it."""
