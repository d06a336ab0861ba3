"""Turn a source into pages to store: each page carries the cursor that is saved with it, in one transaction.

Fetchers are generators: the runner stores (and commits) a page before asking for the next one, so an
interrupted sync resumes from the last committed cursor and never stores a page twice.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any, Callable, Iterator
from urllib.parse import urlencode

import orjson

from ..normalize import to_utc_date
from ..records import ParseContext, ParseError
from ..sources import arxiv_rss
from ..sources.arxiv_oai import resumption_token
from ..storage import SourceRow
from .checks import (check_feed, oai_error, oai_list_url, oai_token_url, quiet_day_note,
                     response_day)
from .pages import FetchContext, Page, get_checked
from .scholarly import SCHOLARLY_FETCHERS
from .kinds import API_BATCH, BIORXIV_PAGE, DEFAULT_API_URL, DEFAULT_METADATA_PREFIX, base_url

_CHANNEL_DATE = re.compile(rb"<(?:pubDate|lastBuildDate|updated)>([^<]+)<")
MAX_TOKEN_RESTARTS = 2
"""Restarts of one window after badResumptionToken before the source fails (a server that keeps expiring them)."""


def fetch_pages(source: SourceRow, context: FetchContext) -> Iterator[Page]:
    """Yield the pages of one sync of ``source``."""
    return _FETCHERS[source.kind](source, context)


def _arxiv(source: SourceRow, context: FetchContext) -> Iterator[Page]:
    cursor = dict(source.cursor)
    pending: list[str] = list(cursor.get("pending") or [])
    if not pending:
        url = f"{base_url(source)}/{'+'.join(source.options['categories'])}"
        response = get_checked(context, url, "arxiv", "an arXiv RSS feed", cursor, check_feed)
        if response.not_modified:
            yield Page(url, url, "arxiv-rss", None, cursor, "feed not modified since the last sync")
            return
        try:
            records = list(arxiv_rss.parse(response.content, ParseContext(url)))
        except ParseError as error:
            raise ParseError(error.message, f"{url} {error.place or ''}".strip()) from None
        pending = list(dict.fromkeys(record.arxiv_id for record in records if record.arxiv_id))
        day = _channel_day(response.content) or context.today.isoformat()
        note = None if records else quiet_day_note(day, "arXiv announcements")
        cursor.update(etag=response.etag, last_modified=response.last_modified, pending=pending, announced=day)
        yield Page(url, url, "arxiv-rss", response.content, dict(cursor), note)
    api = str(source.options.get("api_url") or DEFAULT_API_URL).rstrip("/")
    while pending:
        batch, pending = pending[:API_BATCH], pending[API_BATCH:]
        url = f"{api}?{urlencode({'id_list': ','.join(batch), 'max_results': len(batch)})}"
        response = get_checked(context, url, "arxiv", "an arXiv API Atom feed", check=check_feed)
        cursor["pending"] = pending
        yield Page(url, url, "arxiv-atom", response.content, dict(cursor))


def _channel_day(body: bytes) -> str | None:
    match = _CHANNEL_DATE.search(body[:8192])
    return to_utc_date(match.group(1).decode("utf-8", "replace")) if match else None


def _arxiv_oai(source: SourceRow, context: FetchContext) -> Iterator[Page]:
    base, options, cursor = base_url(source), source.options, source.cursor
    prefix, set_spec, until = options.get("metadata_prefix") or DEFAULT_METADATA_PREFIX, options.get("set"), \
        options.get("until")
    origin = oai_list_url(base, prefix, set_spec)
    token = None if context.since else cursor.get("token")
    if token:
        window_from, started = cursor.get("window_from"), cursor.get("window_started")
    else:
        window_from = (context.since or cursor.get("next_from") or options.get("from")
                       or (context.today - timedelta(days=1)).isoformat())
        started = None
        if until and window_from > until:
            yield Page(origin, origin, "arxiv-oai", None, cursor, f"harvest complete up to {until}")
            return
    restarts = 0
    while True:
        url = oai_token_url(base, token) if token else oai_list_url(base, prefix, set_spec, window_from, until)
        response = get_checked(context, url, "arxiv-oai", "OAI-PMH XML")
        started = started or response_day(response.content) or context.today.isoformat()
        error = oai_error(response.content)
        if error and error[0] == "badResumptionToken" and token and restarts < MAX_TOKEN_RESTARTS:
            # The token expired (arXiv's live for hours): records stored before it are recognised and skipped.
            restarts += 1
            token = None
            continue
        if error and error[0] == "noRecordsMatch":
            yield Page(url, origin, "arxiv-oai", None, {"next_from": started},
                       f"no records changed since {window_from}")
            return
        if error:
            raise ParseError(f"OAI-PMH error {error[0]}" + (f": {error[1]}" if error[1] else ""), f"{url} <error>")
        try:
            token = resumption_token(response.content)
        except ParseError as failure:
            raise ParseError(failure.message, f"{url} {failure.place}") from None
        note = f"restarted the window from {window_from} after an expired resumptionToken" \
            if restarts and not token else None
        next_cursor = ({"token": token, "window_from": window_from, "window_started": started} if token
                       else {"next_from": started})
        yield Page(url, origin, "arxiv-oai", response.content, next_cursor, note)
        if not token:
            return


def _hf_daily(source: SourceRow, context: FetchContext) -> Iterator[Page]:
    base, cursor = base_url(source), source.cursor
    first = context.since or cursor.get("next_date") or source.options.get("since") or context.today.isoformat()
    day = date.fromisoformat(first)
    while day <= context.today:
        url = f"{base}?{urlencode({'date': day.isoformat()})}"
        validators = cursor.get("validators") if cursor.get("validators_url") == url else None
        response = get_checked(context, url, "hf-daily", "Hugging Face daily-papers JSON", validators)
        # The latest day fills up (and upvotes move) during the day: fetch it again next time.
        next_cursor: dict[str, Any] = {"next_date": day.isoformat() if day == context.today
                                       else (day + timedelta(days=1)).isoformat()}
        if day == context.today and (response.etag or response.last_modified):
            next_cursor.update(validators_url=url, validators={"etag": response.etag,
                                                               "last_modified": response.last_modified})
        if response.not_modified:
            yield Page(url, url, "hf-daily", None, next_cursor, f"{day}: not modified since the last sync")
        elif response.content.strip() in (b"[]", b"{}"):
            yield Page(url, url, "hf-daily", None, next_cursor, quiet_day_note(day.isoformat(), "daily papers"))
        else:
            yield Page(url, url, "hf-daily", response.content, next_cursor)
        day += timedelta(days=1)


def _biorxiv(source: SourceRow, context: FetchContext) -> Iterator[Page]:
    """Each day from the cursor (or ``--since``) to today: ``<base>/<day>/<day>/<offset>``, page by page until a
    page holds fewer than ``BIORXIV_PAGE`` records. Today is fetched again next time (it fills up during the day)."""
    base, cursor = base_url(source), source.cursor
    first = (context.since or cursor.get("next_date") or source.options.get("since")
             or (context.today - timedelta(days=1)).isoformat())
    day = date.fromisoformat(first)
    offset = int(cursor.get("offset") or 0) if not context.since and cursor.get("next_date") == first else 0
    while day <= context.today:
        url = f"{base}/{day.isoformat()}/{day.isoformat()}/{offset}"
        response = get_checked(context, url, "biorxiv", "bioRxiv details JSON")
        try:
            count = _biorxiv_count(response.content)
        except ParseError as error:
            raise ParseError(error.message, f"{url} {error.place}") from None
        full = count >= BIORXIV_PAGE
        if full:
            next_cursor: dict[str, Any] = {"next_date": day.isoformat(), "offset": offset + count}
        elif day == context.today:
            next_cursor = {"next_date": day.isoformat(), "offset": 0}
        else:
            next_cursor = {"next_date": (day + timedelta(days=1)).isoformat(), "offset": 0}
        if count:
            yield Page(url, url, "biorxiv", response.content, next_cursor)
        else:
            # bioRxiv posts every day of the week: an empty day is only that (no weekend or holiday reading).
            yield Page(url, url, "biorxiv", None, next_cursor, f"{day.isoformat()}: nothing posted" if offset == 0
                       else None)
        if full:
            offset += count
        else:
            day, offset = day + timedelta(days=1), 0


def _biorxiv_count(body: bytes) -> int:
    """The records of a details response: a JSON object with a ``collection`` array (empty when nothing was
    posted, with ``messages[0].status`` "no posts found")."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ParseError(f"not JSON: {error.msg}", f"line {error.lineno}, column {error.colno}") from None
    collection = document.get("collection") if isinstance(document, dict) else None
    if not isinstance(collection, list):
        raise ParseError('not a bioRxiv details response (no "collection" array)', "byte 0")
    return len(collection)


def _feed(source: SourceRow, context: FetchContext) -> Iterator[Page]:
    url, cursor = source.url or "", source.cursor
    response = get_checked(context, url, "feed", "an RSS or Atom feed", cursor, check_feed)
    if response.not_modified:
        yield Page(url, url, "feed", None, cursor, "feed not modified since the last sync")
        return
    yield Page(url, url, "feed", response.content, {"etag": response.etag, "last_modified": response.last_modified})


_FETCHERS: dict[str, Callable[[SourceRow, FetchContext], Iterator[Page]]] = {
    "arxiv": _arxiv, "arxiv-oai": _arxiv_oai, "hf-daily": _hf_daily, "feed": _feed, "biorxiv": _biorxiv,
    **SCHOLARLY_FETCHERS,
}
