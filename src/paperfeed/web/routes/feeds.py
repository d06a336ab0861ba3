"""Feeds out: Atom per topic and per search, BibTeX per item, the topic trend chart as SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from .. import queries
from ..security import SVG_CSP
from .deps import Ctx

router = APIRouter()
ATOM = "http://www.w3.org/2005/Atom"
FEED_SIZE = 50


def atom_feed(title: str, self_url: str, page_url: str, base: str, entries: list[dict]) -> bytes:
    """An Atom 1.0 document; ElementTree escapes every text, so ingested markup stays text."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")

    def sub(parent, tag: str, text: str | None = None, **attributes) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
        if text is not None:
            element.text = text
        return element

    sub(feed, "title", title)
    sub(feed, "id", self_url)
    sub(feed, "link", rel="self", href=self_url)
    sub(feed, "link", rel="alternate", type="text/html", href=page_url)
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
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="utf-8", xml_declaration=False)


def _entries(context, item_ids: list[int]) -> list[dict]:
    documents = context.store.item_documents(item_ids)
    entries = []
    for item_id in item_ids:
        document = documents.get(item_id)
        if document is None:
            continue
        day = document.published or "1970-01-01"
        entries.append({"id": item_id, "title": document.title, "authors": document.authors,
                        "summary": document.abstract, "published": document.published,
                        "updated": f"{day}T00:00:00Z"})
    return entries


def _atom(body: bytes) -> Response:
    return Response(body, media_type="application/atom+xml; charset=utf-8")


@router.get("/topics/{slug}.atom", summary="Atom feed of a topic's newest items", tags=["feeds"])
def topic_atom(request: Request, slug: str, context: Ctx) -> Response:
    """The newest items of a topic as an Atom feed."""
    row = queries.find_topic(context, slug)
    items = context.store.topic_items(row.id, limit=FEED_SIZE)
    base = str(request.base_url)
    return _atom(atom_feed(f"paperfeed — {row.name}", str(request.url), f"{base}topics/{slug}", base,
                           _entries(context, [item["id"] for item in items])))


@router.get("/search.atom", summary="Atom feed of a search", tags=["feeds"])
def search_atom(request: Request, context: Ctx, q: Annotated[str, Query(min_length=1)],
                mode: str = "keyword") -> Response:
    """The best matches of a search as an Atom feed (keyword mode by default: feed readers poll often)."""
    results = queries.search(context, q, mode if mode in ("keyword", "semantic", "hybrid") else "keyword",
                             FEED_SIZE, 0)
    base = str(request.base_url)
    return _atom(atom_feed(f"paperfeed — search: {q}", str(request.url), f"{base}search?{urlencode({'q': q})}", base,
                           _entries(context, [hit["id"] for hit in results["hits"]])))


@router.get("/items/{reference}.bib", summary="BibTeX entry of an item", tags=["feeds"])
def item_bibtex(reference: str, context: Ctx) -> Response:
    """An item's BibTeX entry."""
    item_id = queries.resolve_item(context, reference)
    item = context.store.item(item_id)
    return Response(queries.bibtex(item), media_type="application/x-bibtex; charset=utf-8",
                    headers={"Content-Disposition": f'inline; filename="item-{item_id}.bib"'})


@router.get("/topics/{slug}/trend.svg", include_in_schema=False)
def topic_trend(slug: str, context: Ctx, weeks: Annotated[int, Query(ge=1, le=520)] = 26) -> Response:
    """The topic's items-per-week chart (an SVG shown through <img>)."""
    return Response(queries.topic_trend_svg(context, slug, weeks), media_type="image/svg+xml",
                    headers={"Content-Security-Policy": SVG_CSP, "Cache-Control": "max-age=300"})
