"""Periodic sync: a background thread for ``paperfeed serve`` and the ``sync --every`` loop share one routine."""

from __future__ import annotations

import logging
import threading
from typing import Callable

from ..fetch import client_from_settings
from ..storage import SyncBusyError
from .runner import SyncReport, sync_store

log = logging.getLogger("paperfeed.sync")


def sync_once(settings, names: list[str] | None = None, since: str | None = None,
              on_records: Callable[[int], None] | None = None, on_source=None) -> SyncReport:
    """Open the store and a client from ``settings`` and sync the named sources (all when None).

    Raises SyncBusyError when another sync holds the lock, and KeyError for a name that is no source.
    """
    from ..storage import open_store

    with open_store(settings.db) as store, client_from_settings(settings) as client:
        rows = store.sources()
        if names:
            known = {row.name: row for row in rows}
            missing = [name for name in names if name not in known]
            if missing:
                raise KeyError(", ".join(missing))
            rows = [known[name] for name in names]
        report = sync_store(store, client, rows, since=since, on_records=on_records, on_source=on_source)
        if report.total("new") or report.total("merged"):
            _tag_new_items(store, settings)
            _refresh_search(store, settings)
        return report


def _tag_new_items(store, settings) -> None:
    """Put topics on what the sync stored, when a tagger has been trained; a failure is logged, not fatal."""
    from ..topics.tagger import tag_new_items

    try:
        tag_new_items(store, alpha=settings.topic_alpha, topics_file=settings.topics_file or None)
    except Exception:  # the records are stored; `paperfeed topics tag` tags them later
        log.exception("topic tagging after sync failed")


def _refresh_search(store, settings) -> None:
    """Apply what the sync stored to the search indexes; a failure leaves them behind, reported by search."""
    from ..search import SearchIndexError, refresh_indexes
    from ..storage import StoreError

    try:
        refresh_indexes(store, settings)
    except (SearchIndexError, StoreError) as error:
        # Search not usable for this store (an index built for another model, a backend without it): not a
        # fault of the sync, so one line, as `paperfeed ingest` says it, not a traceback after every round.
        if isinstance(error, StoreError) and not error.usage:
            log.exception("search index update after sync failed")
        else:
            log.warning("search index not updated after sync: %s", error)
    except Exception:  # the records are stored; `paperfeed index` catches the indexes up later
        log.exception("search index update after sync failed")


class Scheduler:
    """Run ``sync_once`` every ``minutes`` in a daemon thread until ``stop()``; a round that finds the lock held
    (a cron sync running) is skipped, and an unexpected error is logged, never fatal to the server."""

    def __init__(self, settings, minutes: float, on_report: Callable[[SyncReport], None] | None = None,
                 run: Callable[..., SyncReport] = sync_once) -> None:
        if minutes <= 0:
            raise ValueError("the sync interval must be positive")
        self.settings = settings
        self.interval = minutes * 60
        self.on_report = on_report
        self.run = run
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="paperfeed-sync", daemon=True)

    def start(self) -> "Scheduler":
        """Start the thread; the first sync runs at once."""
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to stop after its current round and wait for it."""
        self._stop.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                report = self.run(self.settings)
                self.rounds += 1
                if self.on_report:
                    self.on_report(report)
                for result in report.failed:
                    log.warning("sync of %s failed at %s: %s", result.name, result.place, result.error)
            except SyncBusyError as busy:
                log.info("periodic sync skipped: %s", busy)
            except Exception:  # a bad round must not kill the server's scheduler
                log.exception("periodic sync failed")
            self._stop.wait(self.interval)


def start_scheduler(settings, on_report: Callable[[SyncReport], None] | None = None) -> Scheduler | None:
    """Start periodic sync when ``settings.sync_interval`` is set (the hook ``paperfeed serve`` calls); else None."""
    if not settings.sync_interval:
        return None
    return Scheduler(settings, settings.sync_interval, on_report).start()
