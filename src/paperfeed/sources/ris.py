"""RIS (Research Information Systems), the export of EndNote, Zotero, Mendeley, Scopus and most publishers.

Each line is ``XX  - value`` (a two-character tag, two spaces, a hyphen); a record runs from ``TY`` to ``ER``. A
line without a tag continues the value before it (wrapped abstracts). Read: ``TI``/``T1`` (title), ``AU``/``A1``
(authors, ``Last, First``), ``PY``/``Y1``/``DA`` (``2020/05/01/`` or a year), ``DO`` (DOI), ``UR`` (links),
``AB``/``N2`` (abstract), ``JO``/``JF``/``T2``/``BT`` (venue), ``KW`` (keywords, kept as tags, as BibTeX
keywords are), ``ID`` (the record id), and an arXiv id from a link, an arXiv DOI or an ``arXiv:`` note.

Written by hand rather than with ``rispy``: the format is a few lines of rules, and a parser of our own can
name the line of a fault.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..normalize import arxiv_id, clean_text, clean_title, person_name
from ..records import ParseContext, ParseError, Record
from .common import decode_utf8
from .scholarly import day_and_year, keep, split_doi

FORMAT = "ris"

_LINE = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*))?$")
_TITLE_TAGS = ("TI", "T1", "CT", "BT")
_AUTHOR_TAGS = ("AU", "A1")
_VENUE_TAGS = ("JO", "JF", "T2", "JA", "J2", "BT", "T3")
_DATE_TAGS = ("DA", "PY", "Y1", "Y2")


def sniff(head: bytes, name: str) -> bool:
    """A ``.ris`` name, or a first non-blank line ``TY  - ...``."""
    if name.lower().endswith(".ris"):
        return True
    for line in head.lstrip(b"\xef\xbb\xbf").splitlines():
        if line.strip():
            return bool(re.match(rb"TY  - ", line))
    return False


def parse(data: bytes, context: ParseContext) -> Iterator[Record]:
    """Yield one Record per ``TY`` ... ``ER`` block."""
    text = decode_utf8(data)
    label = context.label or context.name
    fields: list[tuple[str, str]] | None = None
    start = 0
    count = 0
    last_line = 0
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        last_line = number
        match = _LINE.match(line)
        if not match:
            if fields:  # a wrapped value goes on
                tag, value = fields[-1]
                fields[-1] = (tag, f"{value} {line.strip()}")
                continue
            raise ParseError(f"not an RIS line (expected 'XX  - value'): {line[:60]!r}", f"line {number}")
        tag, value = match.group(1), (match.group(2) or "").strip()
        if tag == "TY":
            if fields is not None:
                raise ParseError("a new record (TY) starts before the last one ended (ER)", f"line {number}")
            fields, start = [("TY", value)], number
        elif fields is None:
            raise ParseError(f"{tag} outside a record (every record starts with TY)", f"line {number}")
        elif tag == "ER":
            count += 1
            yield _record(fields, count, start, label)
            fields = None
        else:
            fields.append((tag, value))
    if fields is not None:
        raise ParseError("the last record has no end (ER): the file may be cut short", f"line {last_line}")
    if not count:
        raise ParseError("no RIS records (TY ... ER)", "line 1")


def _record(fields: list[tuple[str, str]], count: int, start: int, label: str) -> Record:
    place = f"record {count} (line {start})"

    def first(tags: tuple[str, ...]) -> str:
        for tag in tags:
            for key, value in fields:
                if key == tag and value.strip():
                    return value
        return ""

    def every(tags: tuple[str, ...]) -> list[str]:
        return [value for key, value in fields if key in tags and value.strip()]

    title = clean_title(first(_TITLE_TAGS))
    if not title:
        raise ParseError("record has no title (TI or T1)", place)
    published, year = None, None
    for tag in _DATE_TAGS:
        published, year = day_and_year(first((tag,)))
        if year:
            break
    doi_value, arxiv = split_doi(first(("DO",)))
    links = [clean_text(link) for link in every(("UR", "L1", "L2"))]
    if not arxiv:
        for value in links + every(("N1", "M3", "SN", "ID", "AN")):
            if "arxiv" in value.lower():
                arxiv = arxiv_id(value)
                if arxiv:
                    break
    venue = clean_text(first(_VENUE_TAGS))
    if venue == title:
        venue = ""
    tags: list[str] = []
    for value in every(("KW",)):
        for tag in re.split(r"[;,]", value) if ";" in value else [value]:
            tag = clean_text(tag)
            if tag and tag not in tags:
                tags.append(tag)
    raw = "\n".join(f"{key}  - {value}" for key, value in fields) + "\nER  - "
    # RIS ids ("1", "smith2020") are unique only inside one file: scoped by the file's label, so that two
    # libraries' record 1 never meet as one work.
    own_id = clean_text(first(("ID",)))
    record_id = f"{label}:{own_id}" if own_id else doi_value or f"{label}:{title[:80]}|{year or ''}"
    return Record(
        format=FORMAT,
        record_id=record_id,
        title=title,
        raw=raw,
        abstract=clean_text(first(("AB", "N2"))),
        authors=[name for name in map(person_name, every(_AUTHOR_TAGS)) if name],
        arxiv_id=arxiv,
        doi=doi_value,
        url=links[0] if links else None,
        published=published,
        year=year,
        label=label,
        extra=keep({"entry_type": clean_text(fields[0][1]).lower() or None, "venue": venue or None, "tags": tags}),
    )
