"""Fetchers of the scholarly APIs: OpenReview, Crossref, dblp and Semantic Scholar.

Each yields one page per request with the cursor that holds once that page is stored, so an interrupted sync
resumes after the last stored page and a rerun asks only for what comes after it. How fast each service may be
asked is not decided here: the HTTP client paces each service as its own politeness group (``fetch.politeness``,
intervals from Settings, whose help cites each service's documentation).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable, Iterator
from urllib.parse import urlencode

import orjson

from ..fetch import FetchError
from ..records import ParseError
from ..storage import SourceRow
from .kinds import PAGE_SIZE_MAX, base_url
from .pages import FetchContext, Page, get_checked

SEMANTIC_SCHOLAR_FIELDS = ("externalIds,url,title,abstract,venue,year,publicationDate,fieldsOfStudy,authors")
"""The paper fields asked of bulk search: what the semantic-scholar parser reads."""
MAX_CURSOR_RESTARTS = 1
"""Restarts of a window after the service refused a stored paging cursor (Crossref's expire after 5 minutes)."""


def _json_document(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ParseError(f"not JSON: {error.msg}", f"line {error.lineno}, column {error.colno}") from None


def _checked(reader: Callable[[Any], Any]) -> Callable[[bytes], None]:
    return lambda body: reader(_json_document(body)) and None


def _openreview_notes(document: Any) -> list:
    notes = document.get("notes") if isinstance(document, dict) else None
    if not isinstance(notes, list):
        raise ParseError('not an OpenReview notes response (no "notes" array)', "byte 0")
    return notes


def _crossref_message(document: Any) -> tuple[list, str | None]:
    message = document.get("message") if isinstance(document, dict) else None
    items = message.get("items") if isinstance(message, dict) else None
    if not isinstance(items, list):
        raise ParseError('not a Crossref work list (no "message.items" array)', "byte 0")
    next_cursor = message.get("next-cursor")
    return items, next_cursor if isinstance(next_cursor, str) and next_cursor else None


def _dblp_hits(document: Any) -> tuple[int, int]:
    """(hits on this page, total hits) of a search API response."""
    result = document.get("result") if isinstance(document, dict) else None
    hits = result.get("hits") if isinstance(result, dict) else None
    if not isinstance(hits, dict):
        raise ParseError('not a dblp search response (no "result.hits" object)', "byte 0")
    hit = hits.get("hit") or []
    try:
        total = int(hits.get("@total", 0))
    except (TypeError, ValueError):
        raise ParseError(f'dblp "@total" {hits.get("@total")!r} is not a number', "result.hits.@total") from None
    return (len(hit) if isinstance(hit, list) else 1), total


def _semantic_scholar_page(document: Any) -> tuple[list, str | None]:
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, list):
        raise ParseError('not a Semantic Scholar bulk search response (no "data" array)', "byte 0")
    token = document.get("token")
    return data, token if isinstance(token, str) and token else None


def _openreview(source: SourceRow, context: FetchContext) -> Iterator[Page]:
    """``notes?content.venueid=<venue>&limit=&offset=`` from the stored offset; a page shorter than ``limit`` is
    the last. The offset stays there, so the next sync asks only for notes added to the venue since."""
    base, venue = base_url(source), source.options["venue"]
    limit = int(source.options.get("page_size") or PAGE_SIZE_MAX["openreview"])
    offset = 0 if context.since else int(source.cursor.get("offset") or 0)
    origin = f"{base}?{urlencode({'content.venueid': venue})}"
    while True:
        url = f"{base}?{urlencode({'content.venueid': venue, 'limit': limit, 'offset': offset})}"
        response = get_checked(context, url, "openreview", "OpenReview notes JSON",
                               check=_checked(_openreview_notes))
        count = len(_openreview_notes(_json_document(response.content)))
        cursor = {"offset": offset + count}
        if count:
            yield Page(url, origin, "openreview", response.content, cursor)
        else:
            yield Page(url, origin, "openreview", None, cursor, f"no notes of {venue} past the {offset} stored")
        if count < limit:
            return
        offset += count


def _dblp(source: SourceRow, context: FetchContext) -> Iterator[Page]:
    """``search/publ/api?q=&format=json&h=&f=`` from the stored first hit; stops at a short page or the total."""
    base, query = base_url(source), source.options["query"]
    hits_per_page = int(source.options.get("page_size") or PAGE_SIZE_MAX["dblp"])
    first = 0 if context.since else int(source.cursor.get("first") or 0)
    origin = f"{base}?{urlencode({'q': query, 'format': 'json'})}"
    while True:
        url = f"{base}?{urlencode({'q': query, 'format': 'json', 'h': hits_per_page, 'f': first})}"
        response = get_checked(context, url, "dblp", "dblp search JSON", check=_checked(_dblp_hits))
        count, total = _dblp_hits(_json_document(response.content))
        cursor = {"first": first + count}
        if count:
            yield Page(url, origin, "dblp", response.content, cursor)
        else:
            yield Page(url, origin, "dblp", None, cursor, f"no hits for {query!r} past the {first} stored")
        if count < hits_per_page or first + count >= total:
            return
        first += count


def _crossref(source: SourceRow, context: FetchContext) -> Iterator[Page]:
    """``works?filter=<--filter>,from-index-date:<day>[,until-index-date:]&rows=&cursor=*`` then each page's
    ``next-cursor`` until a page comes back empty (the end, as Crossref documents deep paging). The next window
    starts on the day this one started: works indexed again in between are recognised, not stored twice."""
    options, cursor = source.options, source.cursor
    base, until = base_url(source), options.get("until")
    rows = int(options.get("page_size") or PAGE_SIZE_MAX["crossref"])
    token = None if context.since else cursor.get("next_cursor")
    if token:
        window_from, started = cursor.get("window_from"), cursor.get("window_started")
    else:
        window_from = (context.since or cursor.get("next_from") or options.get("from")
                       or (context.today - timedelta(days=1)).isoformat())
        started = context.today.isoformat()
        if until and window_from > until:
            yield Page(base, base, "crossref", None, dict(cursor), f"harvest complete up to {until}")
            return
    filters = [part.strip() for part in str(options.get("filter") or "").split(",") if part.strip()]
    filters.append(f"from-index-date:{window_from}")
    if until:
        filters.append(f"until-index-date:{until}")
    params: dict[str, Any] = {"filter": ",".join(filters), "rows": rows}
    if options.get("query"):
        params["query"] = options["query"]
    mailto = _mailto(context.contact)
    if mailto:
        params["mailto"] = mailto  # Crossref's polite pool: requests that say who to contact
    # The origin leaves out the window and the mailto: the same work fetched by a later window is recognised.
    origin = f"{base}?{urlencode({'filter': options.get('filter') or '', 'query': options.get('query') or ''})}"
    restarts = 0
    while True:
        url = f"{base}?{urlencode({**params, 'cursor': token or '*'})}"
        try:
            response = get_checked(context, url, "crossref", "Crossref works JSON", check=_checked(_crossref_message))
        except FetchError as error:
            if token and restarts < MAX_CURSOR_RESTARTS and _refused_cursor(error):
                restarts, token = restarts + 1, None
                continue
            raise
        items, next_token = _crossref_message(_json_document(response.content))
        note = (f"restarted the window from {window_from}: Crossref no longer knew the stored cursor"
                if restarts and not token else None)  # said once, on the restarted window's first page
        if items and next_token:
            yield Page(url, origin, "crossref", response.content,
                       {"next_cursor": next_token, "window_from": window_from, "window_started": started}, note)
            token = next_token
            continue
        done: dict[str, Any] = {"next_from": started}
        if items:
            yield Page(url, origin, "crossref", response.content, done, note)
        else:
            yield Page(url, origin, "crossref", None, done, note or (
                None if token else f"no works indexed since {window_from}"))
        return


def _semantic_scholar(source: SourceRow, context: FetchContext) -> Iterator[Page]:
    """Bulk search ``paper/search/bulk?query=&fields=&sort=publicationDate:asc[&publicationDateOrYear=<day>:]``
    then each response's ``token`` until none comes. The next window asks for publication dates from the day this
    one started (a paper indexed late with an older date needs ``--since``)."""
    options, cursor = source.options, source.cursor
    base = base_url(source)
    token = None if context.since else cursor.get("token")
    if token:
        window_from, started = cursor.get("window_from"), cursor.get("window_started")
    else:
        window_from = context.since or cursor.get("next_from") or options.get("from")
        started = context.today.isoformat()
    params: dict[str, Any] = {"query": options["query"], "fields": SEMANTIC_SCHOLAR_FIELDS,
                              "sort": "publicationDate:asc"}
    if window_from:
        params["publicationDateOrYear"] = f"{window_from}:"
    headers = {"x-api-key": context.semantic_scholar_api_key} if context.semantic_scholar_api_key else None
    origin = f"{base}?{urlencode({'query': options['query']})}"  # the same for every window: refetches recognised
    restarts = 0
    while True:
        url = f"{base}?{urlencode({**params, 'token': token} if token else params)}"
        try:
            response = get_checked(context, url, "semantic-scholar", "Semantic Scholar bulk search JSON",
                                   check=_checked(_semantic_scholar_page), headers=headers)
        except FetchError as error:
            if token and restarts < MAX_CURSOR_RESTARTS and _refused_cursor(error):
                restarts, token = restarts + 1, None
                continue
            raise
        papers, next_token = _semantic_scholar_page(_json_document(response.content))
        next_cursor: dict[str, Any] = ({"token": next_token, "window_from": window_from, "window_started": started}
                                       if next_token else {"next_from": started})
        if papers:
            yield Page(url, origin, "semantic-scholar", response.content, next_cursor)
        else:
            yield Page(url, origin, "semantic-scholar", None, next_cursor,
                       f"no papers published since {window_from}" if window_from else "no papers match")
        if not next_token:
            return
        token = next_token


def _mailto(contact: str) -> str | None:
    """The e-mail address in PAPERFEED_CONTACT, if it holds one (it may be a URL)."""
    contact = contact.strip().removeprefix("mailto:")
    return contact if "@" in contact and "/" not in contact and " " not in contact else None


def _refused_cursor(error: FetchError) -> bool:
    """A 4xx other than 429 on a resumed request: the stored paging cursor is no longer known to the service."""
    return error.message.startswith("HTTP 4") and not error.message.startswith("HTTP 429")


SCHOLARLY_FETCHERS: dict[str, Callable[[SourceRow, FetchContext], Iterator[Page]]] = {
    "openreview": _openreview, "crossref": _crossref, "dblp": _dblp, "semantic-scholar": _semantic_scholar,
}
