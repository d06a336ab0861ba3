"""The store: every storage area's methods on one object, over one ``Database`` (``storage.sql``).

Each area (``items``, ``topics``, ``people``, ``search``, ``daily``, ``accounts``, ``sync``, ``limits``, ``summaries``…) is a class holding
its SQL once; ``Store`` combines them. A backend (``sqlite``, ``postgres``) adds only what truly differs:
connecting, migrations in its dialect, write groups and locks, id allocation. Callers never see SQL.
"""

from __future__ import annotations

import abc
import shutil
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Callable, Iterator

from .accounts import AccountStorage
from .comments import CommentStorage
from .daily import DailyStorage
from .follows import FollowStorage
from .ingest_session import IngestSession
from .items import ItemStorage
from .limits import RateLimitStorage
from .search import SearchStorage
from .sql import Database
from .summaries import SummaryStorage
from .sync import SyncStorage
from .people import PeopleStorage
from .topics import TopicStorage


class StoreError(RuntimeError):
    """A store that cannot be opened or used (bad URL, unreadable file, newer schema).

    ``usage`` is True when the user asked for something unsupported (a URL scheme), not a fault.
    """

    def __init__(self, message: str, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


class StoreFullError(StoreError):
    """The database or the disk it is on is full: the write was rolled back, what was committed before stays,
    and the same work run again once there is room completes it."""


class Store(ItemStorage, SearchStorage, SyncStorage, TopicStorage, PeopleStorage, DailyStorage, AccountStorage,
            RateLimitStorage, FollowStorage, CommentStorage, SummaryStorage, abc.ABC):
    """A paperfeed store: items, their source records, identifiers, authors, categories and topics."""

    url: str
    path: Path | None = None
    """The store's file where it is one (SQLite), else None (a database server): a local file's reads cost less
    than a thread hop (the web answers them on the event loop), and its disk is this machine's."""
    db: Database
    local_tables: frozenset[str] = frozenset({"schema_migrations"})
    """Tables of one database's own state, never copied to another store (``paperfeed copy``): its migration log,
    a lock's holder, an index the destination rebuilds from the store."""

    def __init__(self) -> None:
        self._author_ids: dict[str, int] = {}
        self._topic_ids: dict[str, int] = {}
        self._items_written = 0

    def _forget_cached_ids(self) -> None:
        # Ids cached during a failed transaction may not exist any more.
        self._author_ids.clear()
        self._topic_ids.clear()

    @abc.abstractmethod
    def migrate(self) -> list[str]:
        """Apply pending named migrations; return the names applied now."""

    @abc.abstractmethod
    def applied_migrations(self) -> list[str]:
        """Names of the migrations recorded in the database, in order."""

    @abc.abstractmethod
    def known_migrations(self) -> list[str]:
        """Names of every migration this paperfeed has for the backend, in the order applied."""

    def pending_migrations(self) -> list[str]:
        """Names of the known migrations not applied yet; a newer paperfeed's store is a StoreError."""
        applied, known = self.applied_migrations(), self.known_migrations()
        unknown = [name for name in applied if name not in known]
        if unknown:
            raise StoreError(f"{self.url} was written by a newer paperfeed (migrations {', '.join(unknown)})")
        return [name for name in known if name not in applied]

    @contextmanager
    def ingest_session(self, savepoint: bool = True) -> Iterator[IngestSession]:
        """Open one write transaction for an ingest batch (inside a write group: a savepoint).

        Each batch adds its records' Daily Papers dates (``IngestSession.write`` calls ``add_daily_dates``), so the
        calendar commits with the records that carry it and no reader ever has to write it.
        ``savepoint=False``: inside a write group, the session's writes are the group's own, and an error rolls the
        group back (for a file whose records are all in hand, which cannot fail alone: ``Ingester.ingest_file``).
        """
        try:
            # Any error rolls the session's transaction (or savepoint) back whole, so no statement is undone alone.
            with self.db.transaction(lock_writers=True, savepoint=savepoint), self.db.inserts_undone_together():
                session = IngestSession(self)
                yield session
                session.finish()  # indexes a bulk load deferred, built inside the same transaction
        except BaseException:
            self._forget_cached_ids()
            raise

    @abc.abstractmethod
    def write_group(self, cache_mb: int | None = None) -> AbstractContextManager[Callable[..., None]]:
        """Group many ingest sessions into one transaction; yields ``commit_now()`` to commit what is done.

        Sessions inside a group stay atomic one by one (a failed file rolls back alone), but
        share commits: index pages touched by many small files are written once, not per file.
        ``cache_mb``: a larger page cache for the group where the backend keeps one per connection (SQLite;
        the setting ``ingest_cache_mb``). ``commit_now(load_bytes=N)`` once the group's files add up to N
        bytes: where the backend can write a load larger than the store was at the group's start faster by
        holding the store alone (SQLite, when no other connection has it open), the rest of the group does;
        others wait for its commits meanwhile.
        """

    def reading_much(self) -> AbstractContextManager[None]:
        """Around one long read of much of the store on this connection (a search index built from it): where
        the backend keeps a page cache per connection (SQLite), a larger one for the block."""
        return nullcontext()

    def free_disk_bytes(self) -> int | None:
        """Free bytes on the disk the store's files grow on (beside its file: its write-ahead log and SQLite's
        temporary files too); None where this process cannot know (a database server's disk)."""
        if self.path is None:
            return None
        try:
            return shutil.disk_usage(self.path.parent).free
        except OSError:
            return None

    @abc.abstractmethod
    def check_integrity(self) -> list[str]:
        """Problems found by the backend's own consistency check; empty when healthy."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
