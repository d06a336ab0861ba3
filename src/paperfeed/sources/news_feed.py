"""News RSS 2.0, RSS 1.0 (RDF) and Atom feeds: one news record per item or entry.

Also home of the small feed helpers the arXiv RSS module shares: pairing feedparser's
entries with their XML elements, and turning feed HTML into plain text.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from xml.etree.ElementTree import Element

import feedparser

from ..normalize import clean_text, split_authors, to_utc_date, valid_day
from ..records import ParseContext, ParseError, Record
from .common import element_xml, local_name, parse_xml, root_local_name

FORMAT = "feed"

ATOM_NS = "http://www.w3.org/2005/Atom"
_FEED_ROOTS = {"rss", "RDF", "feed"}

# Tags that separate words; inline tags (a, em, span) must not, or "<a>word</a>." reads "word .".
_BREAKING_TAGS = {
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure",
    "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "img", "li", "ol", "p", "pre",
    "section", "table", "td", "th", "tr", "ul",
}


class _TextCollector(HTMLParser):
    """Collect the text of an HTML fragment, with a space wherever a block-level tag was."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        if tag in _BREAKING_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        if tag in _BREAKING_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str | None) -> str:
    """Return an HTML fragment as plain text: tags removed, entities unescaped, whitespace collapsed."""
    if not html:
        return ""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    return clean_text("".join(collector.parts))


def detail_text(entry: Any, key: str) -> str:
    """Return a feedparser text construct (``title``, ``summary``) as plain text, stripping HTML when it is HTML."""
    value = entry.get(key) or ""
    detail = entry.get(f"{key}_detail") or {}
    if "html" in (detail.get("type") or ""):
        return html_to_text(value)
    return clean_text(value)


def entry_date(entry: Any, *keys: str) -> str | None:
    """Return the first of the entry's dates that parses, as ``YYYY-MM-DD`` in UTC."""
    for key in keys:
        # dict.get: FeedParserDict.get("updated") falls back to "published" (with a warning), which
        # would report an entry as updated when the feed never said so.
        day = to_utc_date(dict.get(entry, key))
        if day:
            return day
        # feedparser understands more date formats than to_utc_date; its *_parsed are UTC already.
        parsed = dict.get(entry, f"{key}_parsed")
        if parsed:
            # Its year may be 0 (a time before year 1 in UTC), which strftime writes as "0-12-31".
            day = valid_day(f"{parsed.tm_year:04d}-{parsed.tm_mon:02d}-{parsed.tm_mday:02d}")
            if day:
                return day
    return None


def read_feed(data: bytes) -> tuple[Any, list[tuple[Any, Element]]]:
    """Parse a feed safely: return feedparser's feed metadata and (entry, XML element) pairs.

    ``parse_xml`` runs first so that entity bombs and external entities are refused and
    malformed XML is reported with its line and column; feedparser is lenient and would
    silently return zero entries for both.
    """
    root = parse_xml(data)
    root_local = local_name(root.tag)
    if root_local not in _FEED_ROOTS:
        raise ParseError(f"not an RSS or Atom feed: the root element is <{root_local}>", f"<{root_local}>")
    elements = [element for element in root.iter() if local_name(element.tag) in ("item", "entry")]
    # A file object, not bytes: feedparser treats a bytes argument as a possible URL or file name.
    # No HTML sanitising or URI rewriting inside content: html_to_text keeps only the text (script and style
    # dropped), and feedparser's sanitiser takes over 150 times a long tag's size in memory (found by the fuzz
    # suite: 250 MB for one 1.5 MB attribute).
    try:
        parsed = feedparser.parse(io.BytesIO(data.lstrip()), sanitize_html=False, resolve_relative_uris=False)
    except ValueError as error:
        # feedparser's SAX handler splits namespaced names on whitespace, so a namespace URI holding
        # U+0085 (which str.split treats as a space) unpacks into too many parts (found by the fuzz suite).
        raise ParseError(f"feed could not be read: {error}", f"<{root_local}>") from None
    entries = list(parsed.entries)
    if len(entries) != len(elements):
        raise ParseError(f"feed has {len(elements)} items but only {len(entries)} could be read",
                         f"<{root_local}>")
    return parsed.feed, list(zip(entries, elements))


# Newspaper bylines name where the reporter filed from: "Ashifa Kassam in Stanstead, Quebec",
# "Sam Jones in Madrid and Stephen Burgen in Barcelona". The place is not part of the name, and its
# comma would otherwise split off "Quebec" as an author. A region after the comma is taken to be one
# word, so that "Jon Henley in Paris, Kate Connolly" keeps its second author.
_FILED_FROM = re.compile(
    r"\s+in\s+[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*)*(?:,\s*[A-Z][\w.'-]*)?(?=\s*,|,?\s+and\s+|\s*$)"
)
# Notes in parentheses ("Nick Ames (now)") are not names either, nor "... and agencies".
_NOTE = re.compile(r"\s*\([^()]*\)")
_NOT_PEOPLE = {"agencies", "staff"}


def byline_names(byline: str | None) -> list[str]:
    """Split a news byline into display names, dropping "in <place>", notes and "agencies"."""
    text = _FILED_FROM.sub("", _NOTE.sub("", clean_text(byline)))
    return [name for name in split_authors(text) if name.lower() not in _NOT_PEOPLE]


def _authors(entry: Any) -> list[str]:
    """Return display names from the entry's author / dc:creator elements, in order."""
    names: list[str] = []
    for author in entry.get("authors") or []:
        names.extend(byline_names(author.get("name")))
    if not names and entry.get("author"):
        names = byline_names(entry.get("author"))
    return names


def _record(entry: Any, element: Element, label: str | None) -> Record | None:
    """Build the news record for one feed entry, or None for an entry with nothing to identify it."""
    # News titles are plain text: clean_title's LaTeX handling would eat "$11" in a headline.
    title = detail_text(entry, "title")
    link = entry.get("link") or None
    record_id = clean_text(entry.get("id")) or link or title
    if not record_id:
        return None
    # FeedBurner rewrites links to feedproxy redirects; the original link identifies the story.
    url = entry.get("feedburner_origlink") or link
    extra: dict[str, Any] = {}
    tags = [clean_text(tag.get("term")) for tag in entry.get("tags") or [] if clean_text(tag.get("term"))]
    if tags:
        extra["tags"] = tags
    if url != link and link:
        extra["feed_link"] = link
    return Record(
        format=FORMAT,
        record_id=record_id,
        title=title,
        raw=element_xml(element),
        kind="news",
        abstract=detail_text(entry, "summary"),
        authors=_authors(entry),
        url=url,
        published=entry_date(entry, "published", "updated"),
        updated=entry_date(entry, "updated"),
        label=label,
        extra=extra,
    )


def sniff(head: bytes, name: str) -> bool:
    """Claim XML whose root is ``<rss>``, ``<rdf:RDF>`` or an Atom ``<feed>``."""
    local = root_local_name(head)
    if local == "feed":
        return ATOM_NS.encode() in head
    return local in ("rss", "RDF")


def parse(data: bytes, context: ParseContext) -> Iterator[Record]:
    """Yield one news record per feed item or entry."""
    feed, pairs = read_feed(data)
    label = context.label or clean_text(feed.get("title")) or None
    for entry, element in pairs:
        record = _record(entry, element, label)
        if record is not None:
            yield record
