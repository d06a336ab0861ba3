"""arXiv API responses (``export.arxiv.org/api/query``): Atom 1.0 with ``opensearch:`` and ``arxiv:`` extensions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element

from ..normalize import clean_text, clean_title, doi, person_name, split_arxiv_id, to_utc_date
from ..records import ParseContext, ParseError, Record
from .common import element_xml, local_name, parse_xml, root_local_name, text_of
from .news_feed import ATOM_NS

FORMAT = "arxiv-atom"

ARXIV_NS = "http://arxiv.org/schemas/atom"
_A = f"{{{ATOM_NS}}}"
_X = f"{{{ARXIV_NS}}}"
_ERROR_ID = "arxiv.org/api/errors"
DEFAULT_LABEL = "arXiv API"

# UTF-8 read as Latin-1 and re-encoded ("WÃ¼bben" for "Wübben"): one whole UTF-8 sequence (lead byte,
# then its continuation bytes 80-BF), each byte shown as one Latin-1 character. Recorded arXiv API
# responses carry it; real text almost never has a Latin-1 letter followed by C1 controls or symbols.
_MOJIBAKE = re.compile(
    "[\u00c2-\u00df][\u0080-\u00bf]|[\u00e0-\u00ef][\u0080-\u00bf]{2}|[\u00f0-\u00f4][\u0080-\u00bf]{3}"
)


def _repair(match: re.Match[str]) -> str:
    """Decode one mis-decoded UTF-8 sequence back to the character meant, or leave it if it is not one."""
    try:
        return match.group(0).encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        return match.group(0)


def fix_double_utf8(text: str) -> str:
    """Undo UTF-8 that was decoded as Latin-1 (``JosÃ©`` -> ``José``); other text is returned unchanged."""
    return _MOJIBAKE.sub(_repair, text) if text else text


def _text(element: Element | None) -> str:
    """Return the element's text with double-encoded UTF-8 repaired, whitespace untouched."""
    return fix_double_utf8(text_of(element))


def _error_message(entry: Element) -> str | None:
    """Return the message of an arXiv API error entry, or None for an ordinary entry."""
    entry_id = _text(entry.find(f"{_A}id"))
    if _ERROR_ID not in entry_id:
        return None
    summary = clean_text(_text(entry.find(f"{_A}summary")))
    return summary or entry_id.rsplit("#", 1)[-1].replace("_", " ")


def _categories(entry: Element) -> list[str]:
    """List the primary category first, then the other ``<category term>`` values, without repeats."""
    primary = entry.find(f"{_X}primary_category")
    terms = [primary.get("term", "")] if primary is not None else []
    terms += [category.get("term", "") for category in entry.findall(f"{_A}category")]
    return list(dict.fromkeys(term.strip() for term in terms if term and term.strip()))


def _authors(entry: Element) -> tuple[list[str], dict[str, list[str]]]:
    """Return the author display names in order, and the affiliations of those that have any."""
    names: list[str] = []
    affiliations: dict[str, list[str]] = {}
    for author in entry.findall(f"{_A}author"):
        name = person_name(_text(author.find(f"{_A}name")))
        if not name:
            continue
        names.append(name)
        places = [clean_text(_text(place)) for place in author.findall(f"{_X}affiliation")]
        if any(places):
            affiliations[name] = [place for place in places if place]
    return names, affiliations


def _pdf_url(entry: Element) -> str | None:
    """Return the href of the ``<link title="pdf">``, or None."""
    for link in entry.findall(f"{_A}link"):
        if link.get("title") == "pdf" and link.get("href"):
            return link.get("href")
    return None


def _record(entry: Element, index: int, label: str) -> Record:
    """Build the record for one ordinary ``<entry>``."""
    entry_id = clean_text(_text(entry.find(f"{_A}id")))
    found = split_arxiv_id(entry_id)
    if found is None:
        raise ParseError(f"entry id {entry_id!r} is not an arXiv id", f"<entry> {index}")
    canonical, version = found
    authors, affiliations = _authors(entry)
    doi_text = clean_text(_text(entry.find(f"{_X}doi")))
    extra: dict[str, Any] = {}
    for key, tag in (("comment", "comment"), ("journal_ref", "journal_ref")):
        value = clean_text(_text(entry.find(f"{_X}{tag}")))
        if value:
            extra[key] = value
    if len(doi_text.split()) > 1:
        # arXiv lists every DOI (e.g. paper and erratum); the record's doi is the first.
        extra["dois"] = [d for d in (doi(part) for part in doi_text.split()) if d]
    pdf = _pdf_url(entry)
    if pdf:
        extra["pdf_url"] = pdf
    if affiliations:
        extra["affiliations"] = affiliations
    if version is not None:
        extra["version"] = version
    return Record(
        format=FORMAT,
        record_id=f"{canonical}v{version}" if version is not None else canonical,
        title=clean_title(_text(entry.find(f"{_A}title"))),
        raw=element_xml(entry),
        abstract=clean_text(_text(entry.find(f"{_A}summary"))),
        authors=authors,
        arxiv_id=canonical,
        doi=doi(doi_text),
        url=f"https://arxiv.org/abs/{canonical}",
        published=to_utc_date(_text(entry.find(f"{_A}published"))),
        updated=to_utc_date(_text(entry.find(f"{_A}updated"))),
        categories=_categories(entry),
        label=label,
        extra=extra,
    )


def sniff(head: bytes, name: str) -> bool:
    """Claim an Atom ``<feed>`` from the arXiv API (its namespace, or OpenSearch plus an arxiv.org/api id)."""
    if root_local_name(head) != "feed":
        return False
    # rss.arxiv.org/atom announcement feeds use the same namespace; arxiv_rss reads those.
    if b"rss.arxiv.org" in head or b"announce_type" in head:
        return False
    return ARXIV_NS.encode() in head or (b"opensearch" in head and b"arxiv.org/api" in head)


def parse(data: bytes, context: ParseContext) -> Iterator[Record]:
    """Yield one record per ``<entry>``; raise ParseError for an arXiv API error feed."""
    root = parse_xml(data)
    if root.tag != f"{_A}feed":
        raise ParseError(f"not an Atom feed: the root element is <{local_name(root.tag)}>",
                         f"<{local_name(root.tag)}>")
    label = context.label or DEFAULT_LABEL
    for index, entry in enumerate(root.findall(f"{_A}entry"), start=1):
        message = _error_message(entry)
        if message is not None:
            raise ParseError(f"arXiv API error: {message}", f"<entry> {index}")
        yield _record(entry, index, label)
