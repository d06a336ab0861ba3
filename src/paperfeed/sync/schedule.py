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
        report = sync_store(store, client, rows, since=since, on_records=on_records, on_source=on_source,
                            settings=settings)
        if report.changed_item_ids:
            _after_sync(store, settings, report.changed_item_ids)
        elif settings.tldr_url:
            _tldr_catch_up(store, settings)
        return report


def _tldr_catch_up(store, settings) -> None:
    """With nothing new, ask the TL;DR endpoint for what is still due (papers submitted on the web, a model
    that was down): the pipeline's model step, bounded by ``tldr_max_items``; failures are logged by it."""
    from ..summaries.service import llm_step

    try:
        llm_step(store, settings)
    except Exception:  # the sync is done; a TL;DR must not fail it or the server's scheduler
        log.exception("TL;DRs not updated after sync")


def _after_sync(store, settings, changed_item_ids: list[int]) -> None:
    """Tag, merge identities, index and date what the sync stored (``pipeline.after_ingest``); a step that
    fails is logged in one line, not raised: the records are stored, and `paperfeed topics tag` and
    `paperfeed index` catch up later."""
    from ..pipeline import after_ingest
    from ..storage import StoreError

    try:
        done = after_ingest(store, settings, changed_item_ids)
    except StoreError as error:
        if error.usage:  # a store that cannot do it (as `paperfeed ingest` says it): one line
            log.warning("search index not updated after sync: %s", error)
        else:
            log.exception("tagging and indexing after sync failed")
        return
    except Exception:  # the records are stored; a bad step must not fail the sync or the server's scheduler
        log.exception("tagging and indexing after sync failed")
        return
    if "tag" in done.errors:
        log.warning("topics not updated after sync: %s", done.errors["tag"])
    for note in done.index.notes if done.index is not None else ():
        log.warning("%s", note)
    if "index" in done.errors:
        # Search not usable for this store (an index built for another model, a held index lock): not a fault
        # of the sync, so one line, as `paperfeed ingest` says it, not a traceback after every round.
        log.warning("search index not updated after sync: %s", done.errors["index"])


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
