"""Crossref: the REST API's ``/works`` JSON, one work (``message``) or a list (``message.items``).

Read: ``DOI``, ``title[0]``, ``container-title[0]`` (the venue), ``author`` (``given``/``family``, or ``name``
for an organization), ``issued`` date-parts (else ``published``, ``published-print``, ``published-online``,
``posted``), ``abstract`` (JATS: tags stripped), ``URL``, ``type``, ``subject``, and ``relation``:
``has-preprint`` and ``is-preprint-of`` with ``id-type`` ``doi`` or ``arxiv``.

Versions of one work carry each other's ids so that merging can bridge them:
- a journal article whose preprint is on arXiv carries the arXiv id as its ``arxiv_id`` (an arXiv id and a
  DOI on one record join the arXiv item and the DOI's item);
- a preprint (``type`` ``posted-content``) whose journal version is known carries the journal DOI as its
  ``doi``, its own DOI kept in ``extra["preprint_doi"]`` (as bioRxiv records do);
- every related id, whatever its scheme, is kept in ``extra["related_ids"]``.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..normalize import arxiv_id, clean_text, clean_title
from ..records import ParseContext, ParseError, Record
from .scholarly import (add_related, csl_author_names, date_parts, each_item, first_text, keep, list_of_text,
                        load_json, raw_json, split_doi, strip_markup, text)

FORMAT = "crossref"

DEFAULT_LABEL = "Crossref"
_DATE_FIELDS = ("issued", "published", "published-print", "published-online", "posted", "created")
_PREPRINT_TYPES = ("posted-content",)


def sniff(head: bytes, name: str) -> bool:
    """A JSON object with Crossref's envelope: ``"message-type"`` and ``"message"``."""
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return body.startswith(b"{") and b'"message-type"' in body and b'"message"' in body


def parse(data: bytes, context: ParseContext) -> Iterator[Record]:
    """Yield one Record per work."""
    top = load_json(data)
    message = top.get("message") if isinstance(top, dict) else None
    if isinstance(message, dict) and isinstance(message.get("items"), list):
        works = message["items"]
    elif isinstance(message, dict):
        works = [message]
    elif isinstance(top, dict) and "DOI" in top:
        works = [top]  # a bare work object, as some tools save it
    elif isinstance(top, list):
        works = top
    else:
        raise ParseError('expected a Crossref response: {"message": {...}} or {"message": {"items": [...]}}',
                         "byte 0")
    label = context.label or DEFAULT_LABEL
    yield from each_item(works, lambda work, place: _record(work, place, label), "work")


def _record(work: dict, place: str, label: str) -> Record:
    own, own_arxiv = split_doi(text(work.get("DOI")))
    if not own and not own_arxiv:
        raise ParseError("work without a DOI", place)
    title = clean_title(strip_markup(first_text(work.get("title"))))
    if not title:
        raise ParseError(f"work {own or own_arxiv} has no title", place)
    kind = clean_text(text(work.get("type")))
    preprint = kind in _PREPRINT_TYPES
    extra: dict = {"crossref_type": kind or None,
                   "subjects": [clean_text(subject) for subject in list_of_text(work.get("subject"))]}
    venue = clean_text(strip_markup(first_text(work.get("container-title"))))
    if venue and not preprint:
        extra["venue"] = venue
    has_preprint_arxiv, journal_doi = None, None
    relation = work.get("relation")
    for name, entries in (relation.items() if isinstance(relation, dict) else ()):
        if name not in ("has-preprint", "is-preprint-of"):
            continue
        for entry in entries if isinstance(entries, list) else [entries]:
            scheme, value = _related_id(entry)
            if not value:
                continue
            add_related(extra, name, scheme, value)
            if name == "has-preprint" and scheme == "arxiv":
                has_preprint_arxiv = has_preprint_arxiv or value
            if name == "is-preprint-of" and scheme == "doi":
                journal_doi = journal_doi or value
    record_doi, arxiv = own, own_arxiv or has_preprint_arxiv
    if preprint and journal_doi and own and journal_doi != own:
        extra["preprint_doi"] = own
        record_doi = journal_doi
    # The first date field that gives a year; a day from a later one (published-online) when it is that year.
    published, year = None, None
    for field in _DATE_FIELDS:
        day, found = date_parts(work.get(field))
        year = year or found
        if day and found == year:
            published = day
            break
    return Record(
        format=FORMAT,
        record_id=own or f"arxiv:{own_arxiv}",
        title=title,
        raw=raw_json(work),
        abstract=strip_markup(text(work.get("abstract"))),
        authors=csl_author_names(work.get("author")),
        arxiv_id=arxiv,
        doi=record_doi,
        url=clean_text(text(work.get("URL"))) or (f"https://doi.org/{own}" if own else None),
        published=published,
        year=year,
        label=label,
        extra=keep(extra),
    )


def _related_id(entry) -> tuple[str, str | None]:
    """(scheme, value) of one ``relation`` entry: ``doi`` (an arXiv-minted DOI becomes ``arxiv``), ``arxiv``,
    or another scheme kept as it is."""
    if not isinstance(entry, dict):
        return "", None
    scheme = (text(entry.get("id-type")) or "").strip().lower()
    value = text(entry.get("id"))
    if scheme == "doi":
        found, arxiv = split_doi(value)
        return ("arxiv", arxiv) if arxiv else ("doi", found)
    if scheme == "arxiv":
        return "arxiv", arxiv_id(value)
    return scheme, clean_text(value) or None


