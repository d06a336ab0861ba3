"""DBLP: the search API JSON (``https://dblp.org/search/publ/api?format=json``) and DBLP XML records.

JSON: ``result.hits.hit[].info`` with ``title``, ``authors.author`` (one object or a list, each ``{"text":
name}``), ``venue`` (text or a list), ``year``, ``doi``, ``ee`` (text or a list), ``key`` and ``url``.
XML: the per-record export (``https://dblp.org/rec/<key>.xml``: ``<dblp><article key=...>``), one or many
``<article>``/``<inproceedings>``/... elements with ``author``, ``title``, ``year``, ``booktitle`` or
``journal`` and ``ee``. The full ``dblp.xml`` dump needs its DTD's entities (``&uuml;``), which are refused
like every DTD: it fails with the place of the first one.

DBLP adds a four-digit number to tell people of one name apart (``Wei Wang 0001``): dropped from the names.
``CoRR`` is DBLP's name for arXiv: a CoRR record is the arXiv preprint, with no venue of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from xml.etree.ElementTree import Element

from ..normalize import arxiv_id, clean_text, clean_title, person_name
from ..records import ParseContext, ParseError, Record
from .common import element_xml, parse_xml, root_local_name, text_of
from .scholarly import each_item, keep, list_of_text, load_json, raw_json, split_doi, text

FORMAT = "dblp"

DEFAULT_LABEL = "DBLP"
RECORD_URL = "https://dblp.org/rec/"
RECORD_TAGS = ("article", "inproceedings", "proceedings", "book", "incollection", "phdthesis", "mastersthesis",
               "data")
_HOMONYM_NUMBER = re.compile(r"\s+\d{4}$")
_YEAR = re.compile(r"\b(\d{4})\b")


def sniff(head: bytes, name: str) -> bool:
    """The search API's ``{"result": {... "hits"``, or XML whose root is ``dblp`` or a dblp record with ``key``
    and ``mdate``."""
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if body.startswith(b"{"):
        return b'"result"' in body and b'"hits"' in body
    root = root_local_name(head)
    return root == "dblp" or (root in RECORD_TAGS and b"mdate=" in body and b"key=" in body)


def parse(data: bytes, context: ParseContext) -> Iterator[Record]:
    """Yield one Record per search hit or XML record."""
    label = context.label or DEFAULT_LABEL
    body = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if body.startswith(b"<"):
        yield from _parse_xml(data, label)
    else:
        yield from _parse_json(data, label)


def _parse_json(data: bytes, label: str) -> Iterator[Record]:
    top = load_json(data)
    if isinstance(top, dict) and isinstance(top.get("info"), dict):
        top = {"result": {"hits": {"hit": [top]}}}  # one hit alone, as a stored record's raw text holds it
    result = top.get("result") if isinstance(top, dict) else None
    hits = result.get("hits") if isinstance(result, dict) else None
    if not isinstance(hits, dict):
        raise ParseError('expected {"result": {"hits": ...}} (the DBLP search API JSON)', "byte 0")
    found = hits.get("hit", [])
    found = [found] if isinstance(found, dict) else found
    if not isinstance(found, list):
        raise ParseError('"result.hits.hit" is not a list', "byte 0")

    def build(hit: dict, place: str) -> Record:
        info = hit.get("info")
        if not isinstance(info, dict):
            raise ParseError('hit without an "info" object', place)
        authors = info.get("authors")
        people = authors.get("author") if isinstance(authors, dict) else None
        people = [people] if isinstance(people, (dict, str)) else people if isinstance(people, list) else []
        names = [person.get("text") if isinstance(person, dict) else person for person in people]
        return _record(place, key=text(info.get("key")), title=text(info.get("title")),
                       authors=[text(name) for name in names], venue=list_of_text(info.get("venue")),
                       year=text(info.get("year")), doi_text=text(info.get("doi")), ee=list_of_text(info.get("ee")),
                       url=text(info.get("url")), kind=text(info.get("type")), raw=raw_json(hit), label=label)

    yield from each_item(found, build, "hit")


def _parse_xml(data: bytes, label: str) -> Iterator[Record]:
    root = parse_xml(data)
    elements = [root] if root.tag in RECORD_TAGS else [child for child in root if child.tag in RECORD_TAGS]
    for number, element in enumerate(elements, 1):
        yield _xml_record(element, f"<{element.tag}> {number}", label)


def _xml_record(element: Element, place: str, label: str) -> Record:
    def all_of(tag: str) -> list[str]:
        return [clean_text(text_of(child)) for child in element.findall(tag)]

    venue = all_of("journal") or all_of("booktitle") or all_of("series")
    return _record(place, key=element.get("key"), title=text_of(element.find("title")), authors=all_of("author"),
                   venue=venue, year=text_of(element.find("year")), doi_text=None, ee=all_of("ee"),
                   url=None, kind=element.tag, raw=element_xml(element), label=label)


def _record(place: str, *, key: str | None, title: str | None, authors: list[str | None], venue: list[str],
            year: str | None, doi_text: str | None, ee: list[str], url: str | None, kind: str | None, raw: str,
            label: str) -> Record:
    title = clean_title(title).removesuffix(".")  # DBLP ends every title with a period
    if not title:
        raise ParseError(f"record {key or '(no key)'} has no title", place)
    key = (key or "").strip()
    if not key:
        raise ParseError(f"record {title!r} has no dblp key", place)
    doi_value, arxiv = split_doi(doi_text)
    for link in ee:
        if not doi_value and "doi.org/" in link:
            doi_value, from_doi = split_doi(link)
            arxiv = arxiv or from_doi
        if not arxiv and "arxiv.org/" in link:
            arxiv = arxiv_id(link)
    venue_text = clean_text(venue[0]) if venue else ""
    is_corr = venue_text.lower() == "corr"
    if is_corr and not arxiv and key.startswith("journals/corr/abs-"):
        # CoRR keys spell the arXiv id: journals/corr/abs-2005-14165 -> 2005.14165
        arxiv = arxiv_id(key.removeprefix("journals/corr/abs-").replace("-", ".", 1))
    year_match = _YEAR.search(year or "")
    names = (person_name(_HOMONYM_NUMBER.sub("", clean_text(name))) for name in authors if name)
    extra = {"venue": None if is_corr else venue_text or None, "dblp_key": key,
             "dblp_type": clean_text(kind) or None, "ee": ee}
    return Record(
        format=FORMAT,
        record_id=key,
        title=title,
        raw=raw,
        authors=[name for name in names if name],
        arxiv_id=arxiv,
        doi=doi_value,
        url=url or RECORD_URL + key,
        year=int(year_match.group(1)) if year_match else None,
        label=label,
        extra=keep(extra),
    )
