"""Feeds out: Atom and JSON Feed 1.1 per topic, per search and per person, and under a user's private token per
follow (saved search, topic, person, keyword) and per library tag, with an OPML list of them; BibTeX per item;
the topic trend chart as SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from typing import Annotated, Literal
from urllib.parse import quote, urlencode

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from ...config import DEFAULT_BASE_URL, public_base_url
from ...normalize import to_utc_datetime, xml_text
from .. import queries
from ..security import SVG_CSP, is_loopback
from .deps import Ctx

router = APIRouter()
ATOM = "http://www.w3.org/2005/Atom"
THREAD = "http://purl.org/syndication/thread/1.0"
"""The Atom Threading Extensions (RFC 4685): an entry's comment count as ``thr:count`` on its replies link."""
FEED_SIZE = 50


class AtomResponse(Response):
    """An Atom document (its media type is what OpenAPI documents for the feed routes)."""

    media_type = "application/atom+xml"
    charset = "utf-8"


class JSONFeedResponse(Response):
    """A JSON Feed 1.1 document (https://www.jsonfeed.org/version/1.1/)."""

    media_type = "application/feed+json"
    charset = "utf-8"


class OPMLResponse(Response):
    media_type = "text/x-opml"
    charset = "utf-8"


class BibTeXResponse(Response):
    media_type = "application/x-bibtex"
    charset = "utf-8"


TEXT = {"content": {"text/html": {"schema": {"type": "string"}}}}
FEED_TYPES = {"description": "The feed.", "content": {"application/atom+xml": {"schema": {"type": "string"}},
                                                     "application/feed+json": {"schema": {"type": "object"}}}}
FeedKind = Literal["atom", "json"]
FEED_ERRORS = {404: {"description": "No such topic or item (an HTML page).", **TEXT}}


def atom_feed(title: str, self_url: str, page_url: str, base: str, entries: list[dict]) -> bytes:
    """An Atom 1.0 document (RFC 4287); ElementTree escapes every text, so ingested markup stays text.

    The elements are named without a namespace and the root declares Atom as the default one (``xmlns``), so
    ElementTree writes them as they are: no ``register_namespace``, whose registry is process-wide and would
    change how every parser's ``element_xml`` writes Atom records. Every text and attribute goes through
    ``xml_text``, so a control character in stored data cannot make the document ill-formed.
    """
    feed = ET.Element("feed", {"xmlns": ATOM, "xmlns:thr": THREAD})

    def sub(parent, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
        element = ET.SubElement(parent, tag, {key: xml_text(value) for key, value in attributes.items()})
        if text is not None:
            element.text = xml_text(text)
        return element

    sub(feed, "title", title)
    sub(feed, "id", self_url)
    sub(feed, "link", rel="self", href=self_url)
    sub(feed, "link", rel="alternate", type="text/html", href=page_url)
    # RFC 4287 4.1.1: a feed has an author unless every entry has one; an entry without authors (news often
    # has none) is then attributed to the feed's compiler, this site.
    author = sub(feed, "author")
    sub(author, "name", "paperfeed")
    sub(author, "uri", base)
    sub(feed, "generator", "paperfeed")
    dates = [entry["updated"] for entry in entries]
    sub(feed, "updated", max(dates) if dates else datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    for entry in entries:
        node = sub(feed, "entry")
        sub(node, "title", entry["title"])
        sub(node, "id", f"{base}items/{entry['id']}")
        sub(node, "link", rel="alternate", type="text/html", href=f"{base}items/{entry['id']}")
        sub(node, "updated", entry["updated"])
        if entry.get("published"):
            sub(node, "published", entry["updated"])
        for name in entry.get("authors", [])[:20]:
            sub(sub(node, "author"), "name", name)
        if entry.get("summary"):
            sub(node, "summary", entry["summary"])
        if "comments" in entry:  # RFC 4685: where the entry's discussion is, and how many comments it has
            sub(node, "link", rel="replies", type="text/html", href=f"{base}items/{entry['id']}#comments",
                **{"thr:count": str(entry["comments"])})
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="utf-8", xml_declaration=False)


def json_feed(title: str, self_url: str, page_url: str, base: str, entries: list[dict]) -> bytes:
    """A JSON Feed 1.1 document of the same entries as ``atom_feed`` (orjson escapes every text)."""
    items = []
    for entry in entries:
        url = f"{base}items/{entry['id']}"
        item = {"id": url, "url": url, "title": entry["title"], "date_published": entry["updated"]}
        if entry.get("summary"):
            item["content_text"] = entry["summary"]
        if entry.get("authors"):
            item["authors"] = [{"name": name} for name in entry["authors"][:20]]
        if "comments" in entry:  # JSON Feed has no comment field: an extension, as the spec's "_" keys allow
            item["_paperfeed"] = {"comments": entry["comments"], "comments_url": f"{url}#comments"}
        items.append(item)
    return orjson.dumps({"version": "https://jsonfeed.org/version/1.1", "title": title, "home_page_url": page_url,
                         "feed_url": self_url, "authors": [{"name": "paperfeed", "url": base}], "items": items})


def feed_response(kind: str, title: str, self_url: str, page_url: str, base: str, entries: list[dict]) -> Response:
    """The feed as Atom (``kind`` "atom") or JSON Feed ("json")."""
    if kind == "json":
        return JSONFeedResponse(json_feed(title, self_url, page_url, base, entries))
    return AtomResponse(atom_feed(title, self_url, page_url, base, entries))


def _entries(context, item_ids: list[int]) -> list[dict]:
    """Feed entries of the items that exist among ``item_ids``; ``updated`` is the publication day, or when the
    store first saw an item that has none (never a made-up date)."""
    documents = context.store.item_documents(item_ids)
    undated = [item_id for item_id, document in documents.items() if not document.published]
    first_seen = context.store.items_created(undated) if undated else {}
    comments = context.store.comment_counts(list(documents))
    entries = []
    for item_id in item_ids:
        document = documents.get(item_id)
        if document is None:
            continue
        if document.published:
            updated = f"{document.published}T00:00:00Z"
        else:
            updated = _rfc3339(first_seen.get(item_id))
        entries.append({"id": item_id, "title": document.title, "authors": document.authors,
                        "summary": document.abstract, "published": document.published, "updated": updated,
                        "comments": comments.get(item_id, 0)})
    return entries


def _rfc3339(moment: str | None) -> str:
    """A stored ISO 8601 UTC time as an Atom date (``2026-02-01T09:30:00Z``); now when there is none."""
    parsed = to_utc_datetime(moment) or datetime.now(timezone.utc)
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")


def feed_base(request: Request) -> str:
    """The public URL the feed's links start with, ending in "/" (see the ``base_url`` setting).

    The configured ``base_url`` when set. Otherwise the address the request came to only when it names this
    machine (a local ``paperfeed serve``, where the port may be any); any other Host header is the client's to
    choose, so it never reaches a link: those feeds link to DEFAULT_BASE_URL until ``base_url`` is set.
    """
    settings = request.app.state.settings
    if settings.base_url:
        return public_base_url(settings) + "/"
    host = request.headers.get("host", "")
    if host and is_loopback(host):
        return str(request.base_url)
    return DEFAULT_BASE_URL + "/"



@router.get("/topics/{slug}.{kind}", summary="Feed of a topic's newest items (Atom or JSON Feed)", tags=["feeds"],
            response_class=AtomResponse, responses={**FEED_ERRORS, 200: FEED_TYPES})
def topic_feed(request: Request, slug: str, kind: FeedKind, context: Ctx) -> Response:
    """The newest items of a topic as an Atom feed (``.atom``) or a JSON Feed (``.json``)."""
    row = queries.find_topic(context, slug)
    items = context.store.topic_items(row.id, limit=FEED_SIZE)
    base = feed_base(request)
    return feed_response(kind, f"paperfeed — {row.name}", f"{base}topics/{quote(slug)}.{kind}",
                         f"{base}topics/{quote(slug)}", base, _entries(context, [item["id"] for item in items]))


@router.get("/people/{person_id}.{kind}", summary="Feed of a person's papers (Atom or JSON Feed)", tags=["feeds"],
            response_class=AtomResponse, responses={404: {"description": "No such person.", **TEXT}, 200: FEED_TYPES})
def person_feed(request: Request, person_id: Annotated[int, Path(ge=1, le=queries.MAX_ID)], kind: FeedKind,
                context: Ctx) -> Response:
    """A person's papers, newest first."""
    page = queries.person_page(context, person_id, FEED_SIZE)
    base = feed_base(request)
    return feed_response(kind, f"paperfeed — {page['name']}", f"{base}people/{person_id}.{kind}",
                         f"{base}people/{person_id}", base, _entries(context, [p["id"] for p in page["papers"]]))


@router.get("/search.{kind}", summary="Feed of a search (Atom or JSON Feed)", tags=["feeds"],
            response_class=AtomResponse, responses={200: FEED_TYPES})
def search_feed(request: Request, kind: FeedKind, context: Ctx, q: Annotated[str, Query(min_length=1)],
                mode: str = "keyword") -> Response:
    """The best matches of a search (keyword mode by default: feed readers poll often)."""
    mode = mode if mode in ("keyword", "semantic", "hybrid") else "keyword"
    results = queries.search(context, q, mode, FEED_SIZE, 0)
    base = feed_base(request)
    query = {"q": q, **({"mode": mode} if mode != "keyword" else {})}
    return feed_response(kind, f"paperfeed — search: {q}", f"{base}search.{kind}?{urlencode(query)}",
                         f"{base}search?{urlencode({'q': q})}", base,
                         _entries(context, [hit["id"] for hit in results["hits"]]))


@router.get("/items/{reference}.bib", summary="BibTeX entry of an item", tags=["feeds"],
            response_class=BibTeXResponse, responses=FEED_ERRORS)
def item_bibtex(reference: str, context: Ctx) -> Response:
    """An item's BibTeX entry."""
    item_id = queries.resolve_item(context, reference)
    item = context.store.item(item_id)
    return BibTeXResponse(queries.bibtex(context, item),
                          headers={"Content-Disposition": f'inline; filename="item-{item_id}.bib"'})


@router.get("/topics/{slug}/trend.svg", include_in_schema=False)
def topic_trend(slug: str, context: Ctx, weeks: Annotated[int, Query(ge=1, le=520)] = 26) -> Response:
    """The topic's items-per-week chart (an SVG shown through <img>)."""
    return Response(queries.topic_trend_svg(context, slug, weeks), media_type="image/svg+xml",
                    headers={"Content-Security-Policy": SVG_CSP, "Cache-Control": "max-age=300"})
