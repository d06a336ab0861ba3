"""Run a sync: each source's pages go through the Ingester, each page committed together with its cursor."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Callable

from ..fetch import FetchError, HttpClient
from ..ingest import FileResult, Ingester
from ..inputs import InputFile
from ..normalize import utc_now
from ..records import ParseError
from ..storage import Store
from ..storage import SourceRow
from .fetchers import FetchContext, Page, fetch_pages


@dataclass(slots=True)
class SourceResult:
    """What syncing one source did."""

    name: str
    kind: str
    new: int = 0
    merged: int = 0
    unchanged: int = 0
    skipped: int = 0
    pages: int = 0
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    place: str | None = None
    changed_item_ids: list[int] = field(default_factory=list)
    """The items its stored pages added or merged records into."""

    @property
    def failed(self) -> bool:
        return self.error is not None

    def summary(self) -> dict:
        """The counts and notes, as stored in the source's state."""
        return {"new": self.new, "merged": self.merged, "unchanged": self.unchanged, "skipped": self.skipped,
                "pages": self.pages, "notes": self.notes, "place": self.place}


@dataclass(slots=True)
class SyncReport:
    """Per-source results of one sync."""

    sources: list[SourceResult] = field(default_factory=list)

    @property
    def failed(self) -> list[SourceResult]:
        return [result for result in self.sources if result.failed]

    def total(self, name: str) -> int:
        return sum(getattr(result, name) for result in self.sources)

    @property
    def changed_item_ids(self) -> list[int]:
        """The items the sync added or merged records into, each once (what ``pipeline.after_ingest`` takes)."""
        return list(dict.fromkeys(item_id for result in self.sources for item_id in result.changed_item_ids))


class _PageFailed(Exception):
    def __init__(self, result: FileResult) -> None:
        super().__init__(result.error)
        self.result = result


def lock_owner() -> str:
    """Name this process for the lock's "who holds it" message."""
    return f"paperfeed sync on {socket.gethostname()}"


def sync_store(store: Store, client: HttpClient, sources: list[SourceRow], *, since: str | None = None,
               on_records: Callable[[int], None] | None = None,
               on_source: Callable[[SourceResult], None] | None = None, settings=None) -> SyncReport:
    """Sync ``sources`` one after another under the store's sync lock; one failing source does not stop the rest.

    ``settings``: where the size limits of each fetched page and its record fields come from (as for
    ``paperfeed ingest``; the defaults when None).

    Raises SyncBusyError when another sync holds the lock.
    """
    report = SyncReport()
    with store.sync_lock(lock_owner()):
        for source in sources:
            result = sync_source(store, client, source, since=since, on_records=on_records, settings=settings)
            store.record_sync_result(source.name, utc_now(), _message(result), result.summary())
            report.sources.append(result)
            if on_source:
                on_source(result)
    return report


def _message(result: SourceResult) -> str | None:
    if result.error is None:
        return None
    return f"{result.place}: {result.error}" if result.place else result.error


def sync_source(store: Store, client: HttpClient, source: SourceRow, *, since: str | None = None,
                on_records: Callable[[int], None] | None = None, settings=None) -> SourceResult:
    """Fetch and store one source's pages; a failure stops this source, keeping every page stored before it."""
    result = SourceResult(source.name, source.kind)
    page: Page | None = None
    try:
        context = FetchContext(client, since=since, contact=getattr(settings, "contact", "") or "",
                               semantic_scholar_api_key=getattr(settings, "semantic_scholar_api_key", "") or "")
        for page in fetch_pages(source, context):
            if page.note:
                result.notes.append(page.note)
            if page.data is None:
                store.save_cursor(source.name, page.cursor)
                continue
            _store_page(store, source, page, result, on_records, settings)
    except FetchError as error:
        result.error, result.place = error.message, error.url
    except ParseError as error:
        result.error, result.place = error.message, error.place
    except _PageFailed as failure:
        place = f" {failure.result.place}" if failure.result.place else ""
        result.error, result.place = failure.result.error, f"{page.url if page else source.url}{place}"
    return result


def _store_page(store: Store, source: SourceRow, page: Page, result: SourceResult,
                on_records: Callable[[int], None] | None, settings) -> None:
    data = page.data or b""
    # The name carries the date of a daily page into the parser (InputFile.date_hint) and into fingerprints.
    name = page.origin.rsplit("/", 1)[-1]
    entry = InputFile(page.origin, name, lambda: data, len(data))
    ingester = Ingester(store, format_name=page.format, label=source.label, on_records=on_records,
                        settings=settings)
    with store.write_group():
        stored = ingester.ingest_file(entry)
        if stored.failed:
            raise _PageFailed(stored)  # leaves the group: nothing of this page, and not its cursor, is kept
        store.save_cursor(source.name, page.cursor)
    result.pages += 1
    result.new += stored.new
    result.merged += stored.merged
    result.unchanged += stored.unchanged
    result.skipped += stored.skipped
    result.changed_item_ids += stored.changed_item_ids
