"""arXiv announcement feeds (``rss.arxiv.org/rss/<cats>``, and the same listing as Atom from ``/atom/``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element

from ..normalize import clean_text, clean_title, split_arxiv_id, split_authors
from ..records import ParseContext, ParseError, Record
from .common import element_xml, root_local_name
from .news_feed import detail_text, entry_date, read_feed

FORMAT = "arxiv-rss"

ARXIV_NS = "http://arxiv.org/schemas/atom"
DC_NS = "http://purl.org/dc/elements/1.1/"

# "arXiv:2401.01234v1 Announce Type: new \nAbstract: ..." -- the abstract is what follows "Abstract:".
_ABSTRACT = re.compile(r"\bAbstract:\s*")
_ANNOUNCE = re.compile(r"Announce Type:\s*([\w-]+)", re.IGNORECASE)


def _child_text(element: Element, namespace: str, name: str) -> str:
    """Return the text of the first direct child ``{namespace}name``, or ''."""
    child = element.find(f"{{{namespace}}}{name}")
    return clean_text("".join(child.itertext())) if child is not None else ""


def _arxiv_id(entry: Any, description: str) -> tuple[str, int | None] | None:
    """Find the (id, version) of an announcement in its guid, link or description, in that order of trust."""
    for candidate in (entry.get("id"), entry.get("link"), description[:80]):
        found = split_arxiv_id(candidate)
        if found:
            return found
    return None


def _authors(entry: Any, element: Element) -> list[str]:
    """Split the authors out of dc:creator, where arXiv puts every name, comma-separated."""
    creators = [clean_text("".join(child.itertext())) for child in element.findall(f"{{{DC_NS}}}creator")]
    if not creators:
        creators = [author.get("name") or "" for author in entry.get("authors") or []]
    names: list[str] = []
    for creator in creators:
        names.extend(split_authors(creator))
    return names


def _record(entry: Any, element: Element, index: int, label: str | None) -> Record:
    """Build the record for one announcement."""
    description = detail_text(entry, "summary")
    found = _arxiv_id(entry, description)
    if found is None:
        raise ParseError("item carries no arXiv id (guid, link and description tried)", f"<item> {index}")
    canonical, version = found
    marker = _ABSTRACT.search(description)
    # An item without the "Abstract:" marker holds the abstract alone.
    head, abstract = (description[:marker.start()], description[marker.end():]) if marker else ("", description)
    announce = _child_text(element, ARXIV_NS, "announce_type")
    if not announce:
        match = _ANNOUNCE.search(head)
        announce = match.group(1) if match else ""
    extra: dict[str, Any] = {}
    if announce:
        extra["announce_type"] = announce
    if version is not None:
        extra["version"] = version
    rights = _child_text(element, DC_NS, "rights")
    if rights:
        extra["license"] = rights
    categories = [clean_text(tag.get("term")) for tag in entry.get("tags") or [] if clean_text(tag.get("term"))]
    announced = entry_date(entry, "published", "updated")
    if announced:
        extra["announced"] = announced
    # A replacement is announced long after the paper appeared: its date is a new version's, not the paper's.
    replaced = announce.startswith("replace")
    return Record(
        format=FORMAT,
        record_id=f"{canonical}v{version}" if version is not None else canonical,
        title=clean_title(detail_text(entry, "title")),
        raw=element_xml(element),
        abstract=clean_text(abstract),
        authors=_authors(entry, element),
        arxiv_id=canonical,
        url=f"https://arxiv.org/abs/{canonical}",
        published=None if replaced else announced,
        updated=announced if replaced else None,
        categories=list(dict.fromkeys(categories)),
        label=label,
        extra=extra,
    )


def sniff(head: bytes, name: str) -> bool:
    """Claim an RSS (or Atom) feed served by rss.arxiv.org, not the arXiv API's Atom."""
    local = root_local_name(head)
    if local == "rss":
        return b"rss.arxiv.org" in head or ARXIV_NS.encode() in head
    if local == "feed":
        return b"rss.arxiv.org" in head or b"announce_type" in head
    return False


def parse(data: bytes, context: ParseContext) -> Iterator[Record]:
    """Yield one record per announced paper (new, cross-list or replacement)."""
    feed, pairs = read_feed(data)
    label = context.label or clean_text(feed.get("title")) or None
    for index, (entry, element) in enumerate(pairs, start=1):
        yield _record(entry, element, index, label)
