"""Storage: one interface (``Store``), one backend per database; only this package holds SQL."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from .accounts import LibraryEntry, Subscriber, UserRow
from .comments import CommentRow
from .daily import DailySignals
from .follows import FOLLOW_KINDS, FollowRow
from .ingest_session import BatchWrite, IngestSession, SourceRecordRow
from .items import slugify
from .search import FullTextBatch, FullTextQuery, FullTextStorage, SearchDocument, SearchStorage
from .shared_cache import SharedCache
from .store import Store, StoreError, StoreFullError
from .summaries import TldrInput, abstract_hash
from .sync import SourceExistsError, SourceRow, SyncBusyError, SyncRunRow
from .people import AuthorDecision, AuthorGraph, PersonSlots, Slot
from .topics import (GOLD_ASSIGNERS, TAGGER, StoredModel, TagInput,
                     TagResult, TopicRow)

__all__ = ["AuthorDecision", "CommentRow", "AuthorGraph", "PersonSlots", "Slot", "BatchWrite",
           "DailySignals", "FOLLOW_KINDS", "FollowRow", "FullTextBatch", "FullTextQuery", "FullTextStorage",
           "GOLD_ASSIGNERS", "IngestSession", "LibraryEntry", "SearchDocument", "SearchStorage", "SharedCache",
           "SourceExistsError",
           "SourceRecordRow", "SourceRow", "SyncRunRow", "store_errors", "Store", "StoreError", "StoreFullError", "StoredModel", "Subscriber",
           "SyncBusyError", "TAGGER", "TagInput", "TagResult", "TldrInput", "TopicRow", "UserRow", "abstract_hash", "open_store",
           "slugify"]

_DRIVER_ERRORS: dict[str, str] = {"psycopg": "Error"}
"""Each backend's driver module and its base error: a new backend adds its own here."""


def store_errors() -> tuple[type[BaseException], ...]:
    """What a backend raises for a store it cannot use (locked, corrupt, not a database, disk full): the CLI reports
    these as one line, the web as a 503. A driver's errors are among them once the driver is loaded, which only
    opening a store of its kind does (``open_store``), so none of them can be raised before: a command on SQLite is
    spared importing psycopg (0.2 s on the 2-core machine), and so is the ingest's worker, which bounds how soon a
    bulk load's second core starts (docs/benchmarks.md, "Ingest", session 22)."""
    errors: tuple[type[BaseException], ...] = (StoreError, sqlite3.DatabaseError)
    for module, name in _DRIVER_ERRORS.items():
        loaded = sys.modules.get(module)
        if loaded is not None:
            errors += (getattr(loaded, name),)
    return errors


def open_store(url: str | Path, migrate: bool = True, *, pool_size: int | None = None) -> Store:
    """Open the store at ``url`` (``sqlite:///path.db``, a file path or ``postgresql://…``); apply pending migrations.

    ``pool_size`` caps the server connections a PostgreSQL store may open (its default when None); SQLite ignores it.
    """
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        store: Store = PostgresStore(text) if pool_size is None else PostgresStore(text, pool_size=pool_size)
    else:
        store = _open_sqlite(text)
    if migrate:
        try:
            store.migrate()
        except BaseException:
            store.close()
            raise
    return store


def _open_sqlite(text: str) -> Store:
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///"):]
    elif "://" in text:
        raise StoreError(f"unsupported database URL {text!r}: use sqlite:///path.db or a file path", usage=True)
    from .sqlite import SQLiteStore

    return SQLiteStore(text)
