"""arXiv OAI-PMH responses (ListRecords, GetRecord) in the ``arXiv``, ``arXivRaw`` and ``oai_dc`` formats."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from xml.etree.ElementTree import Element

from ..normalize import (
    arxiv_id,
    clean_text,
    clean_title,
    doi,
    person_name,
    split_arxiv_id,
    split_authors,
    to_utc_date,
)
from ..records import ParseContext, ParseError, Record
from .common import element_xml, local_name, parse_xml, parse_xml_keeping, root_local_name, text_of

FORMAT = "arxiv-oai"

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
ARXIV_NS = "http://arxiv.org/OAI/arXiv/"
ARXIV_RAW_NS = "http://arxiv.org/OAI/arXivRaw/"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"
_O = f"{{{OAI_NS}}}"
DEFAULT_LABEL = "arXiv OAI-PMH"

# Optional arXiv / arXivRaw fields kept in Record.extra, keyed as the arXiv API module keys them.
_EXTRA_FIELDS = {
    "comments": "comment",
    "journal-ref": "journal_ref",
    "license": "license",
    "submitter": "submitter",
    "msc-class": "msc_class",
    "acm-class": "acm_class",
    "report-no": "report_no",
    "proxy": "proxy",
}
# arXivRaw authors put affiliations in parentheses, sometimes with commas inside: "A (MIT, USA), B".
_PARENTHESES = re.compile(r"\s*\([^()]*\)")


def _field(metadata: Element, namespace: str, name: str) -> str:
    """Return the whitespace-collapsed text of the first ``{namespace}name`` child, or ''."""
    return clean_text(text_of(metadata.find(f"{{{namespace}}}{name}")))


def _fields_of(metadata: Element, namespace: str) -> Callable[[str], str]:
    """Return a reader of ``metadata``'s fields by name: one pass over its children instead of a ``find`` each."""
    first: dict[str, Element] = {}
    for child in metadata:
        first.setdefault(child.tag, child)
    prefix = f"{{{namespace}}}"

    def field(name: str) -> str:
        return clean_text(text_of(first.get(prefix + name)))

    return field


def _extra(field: Callable[[str], str]) -> dict[str, Any]:
    """Collect the optional descriptive fields of an arXiv or arXivRaw record."""
    extra: dict[str, Any] = {}
    for tag, key in _EXTRA_FIELDS.items():
        value = field(tag)
        if value:
            extra[key] = value
    if "submitter" in extra:
        extra["submitter"] = person_name(extra["submitter"])
    dois = field("doi").split()
    if len(dois) > 1:
        # arXiv lists every DOI (e.g. paper and erratum) space-separated; the record's doi is the first.
        extra["dois"] = [d for d in (doi(part) for part in dois) if d]
    return extra


def _raw_authors(text: str) -> list[str]:
    """Split an arXivRaw ``<authors>`` line into display names, dropping affiliations in parentheses."""
    previous = None
    while previous != text:
        previous, text = text, _PARENTHESES.sub("", text)
    return split_authors(text)


def _structured_authors(metadata: Element) -> tuple[list[str], dict[str, list[str]]]:
    """Read display names from ``<authors><author><keyname><forenames>``, and affiliations where given."""
    names: list[str] = []
    affiliations: dict[str, list[str]] = {}
    for author in metadata.iter(f"{{{ARXIV_NS}}}author"):
        keyname = _field(author, ARXIV_NS, "keyname")
        forenames = _field(author, ARXIV_NS, "forenames")
        suffix = _field(author, ARXIV_NS, "suffix")
        name = person_name(f"{keyname}, {forenames}" if forenames else keyname)
        if suffix:
            name = f"{name} {suffix}"
        if not name:
            continue
        names.append(name)
        places = [clean_text(text_of(place)) for place in author.findall(f"{{{ARXIV_NS}}}affiliation")]
        if any(places):
            affiliations[name] = [place for place in places if place]
    return names, affiliations


def _arxiv_fields(metadata: Element) -> dict[str, Any]:
    """Read the record fields of an ``arXiv`` (structured) metadata element."""
    field = _fields_of(metadata, ARXIV_NS)
    authors, affiliations = _structured_authors(metadata)
    extra = _extra(field)
    if affiliations:
        extra["affiliations"] = affiliations
    created = to_utc_date(field("created"))
    return {
        "id": field("id"),
        "title": field("title"),
        "abstract": field("abstract"),
        "authors": authors,
        "categories": field("categories").split(),
        "doi": doi(field("doi")),
        "published": created,
        "updated": to_utc_date(field("updated")) or created,
        "extra": extra,
    }


def _raw_fields(metadata: Element) -> dict[str, Any]:
    """Read the record fields of an ``arXivRaw`` metadata element (author line, version history)."""
    versions = metadata.findall(f"{{{ARXIV_RAW_NS}}}version")
    dates = [to_utc_date(_field(version, ARXIV_RAW_NS, "date")) for version in versions]
    dates = [day for day in dates if day]
    field = _fields_of(metadata, ARXIV_RAW_NS)
    extra = _extra(field)
    if versions:
        last = (versions[-1].get("version") or "").lstrip("v")
        if last.isdigit():
            extra["version"] = int(last)
    return {
        "id": field("id"),
        "title": field("title"),
        "abstract": field("abstract"),
        "authors": _raw_authors(field("authors")),
        "categories": field("categories").split(),
        "doi": doi(field("doi")),
        "published": dates[0] if dates else None,
        "updated": dates[-1] if dates else None,
        "extra": extra,
    }


def _dc_fields(metadata: Element) -> dict[str, Any]:
    """Read the record fields of an ``oai_dc`` metadata element (Dublin Core as arXiv fills it)."""

    def values(name: str) -> list[str]:
        return [v for v in (clean_text(text_of(e)) for e in metadata.findall(f"{{{DC_NS}}}{name}")) if v]

    extra: dict[str, Any] = {}
    abstract = ""
    for description in values("description"):
        if description.startswith("Comment:"):
            extra["comment"] = description.removeprefix("Comment:").strip()
        elif not abstract:
            abstract = description
    record_id, record_doi, references = "", None, []
    for identifier in values("identifier"):
        lowered = identifier.lower()
        if lowered.startswith(("doi:", "10.")) or "doi.org/10." in lowered:
            record_doi = record_doi or doi(identifier)
        elif "arxiv.org/abs/" in lowered and arxiv_id(identifier):
            record_id = record_id or identifier
        elif not lowered.startswith("http"):
            references.append(identifier)
    if references:
        extra["journal_ref"] = "; ".join(references)
    subjects = values("subject")
    if subjects:
        # oai_dc gives subject names ("Computer Science - Machine Learning"), not category codes.
        extra["subjects"] = subjects
    rights = values("rights")
    if rights:
        extra["license"] = rights[0]
    dates = [day for day in (to_utc_date(value) for value in values("date")) if day]
    return {
        "id": record_id,
        "title": " ".join(values("title")),
        "abstract": abstract,
        "authors": [name for name in (person_name(creator) for creator in values("creator")) if name],
        "categories": [],
        "doi": record_doi,
        "published": dates[0] if dates else None,
        "updated": dates[-1] if dates else None,
        "extra": extra,
    }


_READERS = {
    f"{{{ARXIV_NS}}}arXiv": _arxiv_fields,
    f"{{{ARXIV_RAW_NS}}}arXivRaw": _raw_fields,
    f"{{{OAI_DC_NS}}}dc": _dc_fields,
}


def _header(header: Element) -> tuple[str, dict[str, Any]]:
    """Return a header's OAI identifier and the harvest facts worth keeping (datestamp, sets)."""
    identifier = clean_text(text_of(header.find(f"{_O}identifier")))
    facts: dict[str, Any] = {}
    datestamp = clean_text(text_of(header.find(f"{_O}datestamp")))
    if datestamp:
        facts["datestamp"] = datestamp
    sets = [clean_text(text_of(spec)) for spec in header.findall(f"{_O}setSpec")]
    if any(sets):
        facts["sets"] = [spec for spec in sets if spec]
    return identifier, facts


def _tombstone(header: Element, raw: str, label: str) -> Record:
    """Build a deleted-record tombstone: the source withdrew this id."""
    identifier, facts = _header(header)
    canonical = arxiv_id(identifier)
    return Record(format=FORMAT, record_id=canonical or identifier, title="", raw=raw, arxiv_id=canonical,
                  label=label, deleted=True, extra=facts)


def _record(record: Element, index: int, label: str, raw: str) -> Record | None:
    """Build the record (or tombstone) of one OAI ``<record>``, ``raw`` its source text; None for a bare header."""
    place = f"<record> {index}"
    header = record.find(f"{_O}header")
    if header is None:
        raise ParseError("record has no <header>", place)
    if header.get("status") == "deleted":
        return _tombstone(header, raw, label)
    identifier, facts = _header(header)
    metadata = record.find(f"{_O}metadata")
    if metadata is None or len(metadata) == 0:
        return None
    payload = metadata[0]
    reader = _READERS.get(payload.tag)
    if reader is None:
        raise ParseError(f"unsupported metadata format <{local_name(payload.tag)}> "
                         "(known: arXiv, arXivRaw, oai_dc)", place)
    fields = reader(payload)
    found = split_arxiv_id(fields["id"]) or split_arxiv_id(identifier)
    canonical = found[0] if found else None
    record_id = canonical or identifier
    if not record_id:
        raise ParseError("record has neither an arXiv id nor an OAI identifier", place)
    extra = {**fields["extra"], **facts}
    return Record(
        format=FORMAT,
        record_id=record_id,
        title=clean_title(fields["title"]),
        raw=raw,
        abstract=clean_text(fields["abstract"]),
        authors=fields["authors"],
        arxiv_id=canonical,
        doi=fields["doi"],
        url=f"https://arxiv.org/abs/{canonical}" if canonical else None,
        published=fields["published"],
        updated=fields["updated"],
        categories=list(dict.fromkeys(fields["categories"])),
        label=label,
        extra=extra,
    )


def _check_errors(root: Element) -> bool:
    """Raise ParseError for an OAI error response; return True when the only error is ``noRecordsMatch``."""
    errors = root.findall(f"{_O}error")
    if not errors:
        return False
    for error in errors:
        code = error.get("code") or "unknown"
        if code != "noRecordsMatch":
            message = clean_text(text_of(error))
            raise ParseError(f"OAI-PMH error {code}" + (f": {message}" if message else ""), "<error>")
    return True


# OAI-PMH puts the resumptionToken last in the list, so a page ends with it and two end tags. Only that
# shape is read from the tail; anything else (no token, a comment after it, entities in it) takes a full parse.
_TAIL_TOKEN = re.compile(
    rb"<(?:[\w.-]+:)?resumptionToken(?:\s[^<>]*)?(?:/>|>([^<&]*)</(?:[\w.-]+:)?resumptionToken\s*>)"
    rb"\s*</(?:[\w.-]+:)?List(?:Records|Identifiers|Sets|MetadataFormats)\s*>\s*</(?:[\w.-]+:)?OAI-PMH\s*>\s*$"
)
_TAIL_BYTES = 4096


def resumption_token(data: bytes) -> str | None:
    """Return the resumptionToken of a list response, or None on its last (or only) page."""
    tail = _TAIL_TOKEN.search(data, max(len(data) - _TAIL_BYTES, 0))
    if tail is not None:
        # Read without a second parse of the page; the page itself is parsed (and rejected if malformed) on ingest.
        return clean_text((tail.group(1) or b"").decode("utf-8", "replace")) or None
    root = parse_xml(data)
    token = root.find(f".//{_O}resumptionToken")
    value = clean_text(text_of(token)) if token is not None else ""
    return value or None


def sniff(head: bytes, name: str) -> bool:
    """Claim an ``<OAI-PMH>`` response."""
    return root_local_name(head) == "OAI-PMH"


# The elements whose source text is kept as a record's raw: records, and the bare headers of ListIdentifiers.
_KEPT = (f"{_O}record", f"{_O}header")


def parse(data: bytes, context: ParseContext) -> Iterator[Record]:
    """Yield the records of a ListRecords/GetRecord response; tombstones for deleted headers."""
    root, sources = parse_xml_keeping(data, _KEPT)
    if root.tag != f"{_O}OAI-PMH":
        raise ParseError(f"not an OAI-PMH response: the root element is <{local_name(root.tag)}>",
                         f"<{local_name(root.tag)}>")
    if _check_errors(root):
        return
    label = context.label or DEFAULT_LABEL
    for index, record in enumerate(root.iter(f"{_O}record"), start=1):
        built = _record(record, index, label, sources.get(record) or element_xml(record))
        if built is not None:
            yield built
    # ListIdentifiers carries bare headers: only the deleted ones say something (a withdrawal).
    for header in root.findall(f"{_O}ListIdentifiers/{_O}header"):
        if header.get("status") == "deleted":
            yield _tombstone(header, sources.get(header) or element_xml(header), label)
