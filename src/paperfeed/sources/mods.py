"""MODS XML (Library of Congress), as the ACL Anthology exports it (``<modsCollection>`` of ``<mods>``).

Read per ``<mods>``: ``titleInfo/title`` (+ ``subTitle``), personal ``name``s whose role is ``author`` (given and
family ``namePart``s), ``originInfo/dateIssued`` (else ``part/date``), ``abstract``, ``identifier`` (``doi``,
``citekey``), ``location/url``, and the host's ``titleInfo/title`` (the proceedings or journal: the venue).
An ACL Anthology URL (``https://aclanthology.org/2020.acl-main.1``) gives the anthology id.
"""

from __future__ import annotations

from collections.abc import Iterator
from xml.etree.ElementTree import Element

from ..normalize import arxiv_id, clean_text, clean_title, person_name
from ..records import ParseContext, ParseError, Record
from .common import element_xml, local_name, parse_xml, root_local_name, text_of
from .scholarly import anthology_id as acl_id, day_and_year, keep, split_doi

FORMAT = "mods"

DEFAULT_LABEL = "ACL Anthology"



def sniff(head: bytes, name: str) -> bool:
    """XML whose root element is ``modsCollection`` or ``mods``."""
    return root_local_name(head) in ("modsCollection", "mods")


def parse(data: bytes, context: ParseContext) -> Iterator[Record]:
    """Yield one Record per ``<mods>`` element."""
    root = parse_xml(data)
    if local_name(root.tag) == "mods":
        records = [root]
    elif local_name(root.tag) == "modsCollection":
        records = [child for child in root if local_name(child.tag) == "mods"]
    else:
        raise ParseError(f"the root element is <{local_name(root.tag)}>, not <modsCollection> or <mods>", "line 1")
    default_label = context.label or None
    for number, element in enumerate(records, 1):
        yield _record(element, f"<mods> {number}", default_label)


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element if local_name(child.tag) == name]


def _child(element: Element | None, *path: str) -> Element | None:
    for name in path:
        if element is None:
            return None
        element = next((child for child in element if local_name(child.tag) == name), None)
    return element


def _title(element: Element) -> str:
    info = _child(element, "titleInfo")
    title = clean_text(text_of(_child(info, "title")))
    subtitle = clean_text(text_of(_child(info, "subTitle")))
    return f"{title}: {subtitle}" if title and subtitle else title


def _record(element: Element, place: str, label: str | None) -> Record:
    title = clean_title(_title(element))
    if not title:
        raise ParseError("record has no titleInfo/title", place)
    authors = []
    for name in _children(element, "name"):
        roles = [clean_text(text_of(term)).lower() for role in _children(name, "role")
                 for term in _children(role, "roleTerm")]
        if roles and "author" not in roles and "aut" not in roles:
            continue  # an editor or another contributor
        parts = {part.get("type"): clean_text(text_of(part)) for part in _children(name, "namePart")}
        given, family = parts.get("given", ""), parts.get("family", "")
        whole = f"{given} {family}".strip() if family or given else parts.get(None, "")
        found = person_name(whole)
        if found:
            authors.append(found)
    identifiers = {(ident.get("type") or "").lower(): clean_text(text_of(ident))
                   for ident in _children(element, "identifier")}
    doi_value, arxiv = split_doi(identifiers.get("doi"))
    urls = [text for location in _children(element, "location") for url in _children(location, "url")
            if (text := clean_text(text_of(url)))]
    anthology_id = None
    for url in urls:
        anthology_id = anthology_id or acl_id(url)
        if not arxiv and "arxiv.org" in url:
            arxiv = arxiv_id(url)
    issued = clean_text(text_of(_child(element, "originInfo", "dateIssued"))) or clean_text(
        text_of(_child(element, "part", "date")))
    published, year = day_and_year(issued)
    host = next((item for item in _children(element, "relatedItem") if item.get("type") == "host"), None)
    venue = clean_text(_title(host)) if host is not None else ""
    label = label or (DEFAULT_LABEL if anthology_id else "MODS library")
    # An anthology id or a DOI names the paper anywhere; a citation key only inside its file (scoped by label).
    local_id = element.get("ID") or identifiers.get("citekey")
    record_id = anthology_id or doi_value or (f"{label}:{local_id}" if local_id else None)
    if not record_id:
        raise ParseError(f"record {title[:60]!r} has no ID, identifier or URL", place)
    extra = {"venue": venue or None, "anthology_id": anthology_id, "citekey": identifiers.get("citekey"),
             "genre": clean_text(text_of(_child(host, "genre"))) if host is not None else None}
    return Record(
        format=FORMAT,
        record_id=record_id,
        title=title,
        raw=element_xml(element),
        abstract=clean_text(text_of(_child(element, "abstract"))),
        authors=authors,
        arxiv_id=arxiv,
        doi=doi_value,
        url=urls[0] if urls else None,
        published=published,
        year=year,
        label=label,
        extra=keep(extra),
    )
