"""CSL-JSON: the citation format of Zotero, Mendeley, pandoc and citeproc (a JSON array of items).

Read per item: ``id``, ``type``, ``title``, ``author`` (``family``/``given``, or ``literal``), ``issued``
(``date-parts``, else ``raw``/``literal``), ``DOI``, ``URL``, ``container-title`` (the venue), ``abstract``,
``keyword`` (tags, as BibTeX keywords are), and an arXiv id from an arXiv DOI or URL, ``number``
(``arXiv:2005.14165`` on Zotero's preprints) or ``note``. Item ids are unique only inside one file: they are
scoped by the file's label.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..normalize import arxiv_id, clean_text, clean_title
from ..records import ParseContext, ParseError, Record
from .scholarly import (csl_author_names, date_parts, each_item, keep, load_json, raw_json, split_doi,
                        strip_markup, text)

FORMAT = "csl-json"


def sniff(head: bytes, name: str) -> bool:
    """A JSON array of objects with CSL's fields (``"type"`` and ``"issued"``, ``"container-title"`` or
    ``"family"``)."""
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not body.startswith(b"["):
        return False
    rest = body[1:].lstrip()
    return (rest.startswith(b"{") and b'"type"' in body and b'"title"' in body
            and any(key in body for key in (b'"issued"', b'"container-title"', b'"family"', b'"citation-key"')))


def parse(data: bytes, context: ParseContext) -> Iterator[Record]:
    """Yield one Record per item."""
    top = load_json(data)
    if isinstance(top, dict) and isinstance(top.get("items"), list):
        items = top["items"]
    elif isinstance(top, dict) and "title" in top:
        items = [top]
    elif isinstance(top, list):
        items = top
    else:
        raise ParseError("expected a JSON array of CSL items", "byte 0")
    label = context.label or context.name
    yield from each_item(items, lambda item, place: _record(item, place, label), "item")


def _record(item: dict, place: str, label: str) -> Record:
    title = clean_title(strip_markup(text(item.get("title"))))
    if not title:
        raise ParseError("item has no title", place)
    own_id = clean_text(text(item.get("id")) or text(item.get("citation-key")))
    doi_value, arxiv = split_doi(text(item.get("DOI")))
    url = clean_text(text(item.get("URL"))) or None
    if not arxiv:
        for value in (url, text(item.get("number")), text(item.get("archive_location")), text(item.get("note"))):
            if value and "arxiv" in value.lower():
                arxiv = arxiv_id(value)
                if arxiv:
                    break
    published, year = date_parts(item.get("issued"))
    kind = clean_text(text(item.get("type")))
    venue = clean_text(strip_markup(text(item.get("container-title"))))
    if venue.lower() in ("arxiv", "arxiv.org", "arxiv preprint") or (arxiv and not doi_value and not venue):
        venue = ""
    tags: list[str] = []
    for tag in (text(item.get("keyword")) or "").replace(";", ",").split(","):
        tag = clean_text(tag)
        if tag and tag not in tags:
            tags.append(tag)
    return Record(
        format=FORMAT,
        record_id=f"{label}:{own_id}" if own_id else doi_value or f"{label}:{place}",
        title=title,
        raw=raw_json(item),
        abstract=strip_markup(text(item.get("abstract"))),
        authors=csl_author_names(item.get("author")),
        arxiv_id=arxiv,
        doi=doi_value,
        url=url,
        published=published,
        year=year,
        label=label,
        extra=keep({"entry_type": kind or None, "venue": venue or None, "tags": tags}),
    )


