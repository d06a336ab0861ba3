"""BibTeX libraries (Zotero, Mendeley, JabRef exports), parsed with bibtexparser 2."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import bibtexparser
from bibtexparser.middlewares.names import InvalidNameError, parse_single_name_into_parts, split_multiple_persons_names
from bibtexparser.model import Entry

from ..normalize import arxiv_id, clean_text, clean_title, doi, latex_to_text, person_name, valid_day
from ..records import ParseContext, ParseError, Record
from .common import decode_utf8
from .scholarly import anthology_id

FORMAT = "bibtex"

_TAG_SEPARATORS = re.compile(r"[,;]")
_YEAR = re.compile(r"\b(\d{4})\b")
_ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.", re.IGNORECASE)

# bibtexparser logs every block it cannot parse (and duplicate fields) as warnings; with no handler
# configured they reach stderr through logging's last resort. parse() reports the first failed block itself.
logging.getLogger("bibtexparser").addHandler(logging.NullHandler())


def sniff(head: bytes, name: str) -> bool:
    """Say whether the input is BibTeX: a .bib name, or ``@`` first after %-comment lines."""
    if name.lower().endswith(".bib"):
        return True
    for line in head.lstrip(b"\xef\xbb\xbf").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(b"%"):
            continue
        return stripped.startswith(b"@")
    return False


def parse(data: bytes, context: ParseContext) -> Iterator[Record]:
    """Yield one Record per entry; any block bibtexparser could not parse fails the file."""
    text = decode_utf8(data)
    library = bibtexparser.parse_string(text)
    if library.failed_blocks:
        block = min(library.failed_blocks, key=lambda failed: failed.start_line or 0)
        reason = getattr(block.error, "abort_reason", None) or str(block.error) or type(block.error).__name__
        raise ParseError(f"malformed BibTeX block: {clean_text(reason)}", _place(block.start_line))
    label = context.label or context.name
    for entry in library.entries:
        yield _record(entry, label)


def _place(start_line: int | None) -> str:
    """bibtexparser counts lines from 0; people count from 1."""
    return f"line {start_line + 1}" if start_line is not None else "line ?"


def _record(entry: Entry, label: str) -> Record:
    """Turn one entry into a Record."""
    fields = {field.key.lower(): _value(field.value) for field in entry.fields}
    place = _place(entry.start_line)
    title = clean_title(fields.get("title"))
    if not title:
        raise ParseError(f"entry {entry.key!r} has no title", place)
    url = clean_text(fields.get("url")) or None
    venue = _latex(fields.get("journal") or fields.get("booktitle") or fields.get("journaltitle"))
    extra: dict = {"entry_type": entry.entry_type.lower()}
    if venue:
        extra["venue"] = venue
    anthology = anthology_id(url) if url else None
    if anthology:
        extra["anthology_id"] = anthology
    tags = _tags(fields.get("keywords"), fields.get("mendeley-tags"), fields.get("tags"))
    if tags:
        extra["tags"] = tags
    published = valid_day(fields.get("date", "").strip()[:10]) if fields.get("date") else None
    year_match = _YEAR.search(fields.get("year") or fields.get("date") or "")
    return Record(
        format=FORMAT,
        record_id=entry.key,
        title=title,
        raw=entry.raw or "",
        abstract=_latex(fields.get("abstract")),
        authors=_authors(fields.get("author")),
        arxiv_id=_arxiv(fields, url),
        doi=doi(fields.get("doi")),
        url=url,
        published=published,
        year=int(year_match.group(1)) if year_match else None,
        label=label,
        extra=extra,
    )


def _value(value) -> str:
    """Field values are strings after bibtexparser's default stack; numbers stay numbers: make them text."""
    return value if isinstance(value, str) else str(value)


def _latex(value: str | None) -> str:
    """Return LaTeX-decoded, whitespace-collapsed text."""
    text = clean_text(value)
    return clean_text(latex_to_text(text)) if text else ""


def _authors(value: str | None) -> list[str]:
    """Split a BibTeX author list on `` and `` outside braces; each name may be ``Last, First``."""
    names = []
    for raw_name in split_multiple_persons_names(value or ""):
        try:
            # Handles "von Last, Jr, First" and "First von Last" the way BibTeX does.
            ordered = parse_single_name_into_parts(raw_name, strict=False).merge_first_name_first
        except InvalidNameError:
            ordered = raw_name
        name = person_name(ordered)
        if name and name.lower() != "others":  # "and others" is BibTeX for "et al."
            names.append(name)
    return names


def _arxiv(fields: dict[str, str], url: str | None) -> str | None:
    """Return the arXiv id from ``eprint`` (arXiv prefix), an arXiv DOI, URL or ``arXiv:`` journal note."""
    prefix = (fields.get("archiveprefix") or fields.get("eprinttype") or "").strip().lower()
    if fields.get("eprint") and prefix in ("arxiv", ""):
        found = arxiv_id(fields["eprint"])
        if found:
            return found
    arxiv_doi = _ARXIV_DOI.match((fields.get("doi") or "").strip())
    if arxiv_doi:
        # normalize.arxiv_id does not take "10.48550/arXiv.2005.14165" (the id follows a dot): cut the prefix.
        return arxiv_id(arxiv_doi.string[arxiv_doi.end():])
    if url and "arxiv.org" in url:
        return arxiv_id(url)
    for key in ("journal", "note", "howpublished"):
        text = fields.get(key) or ""
        if "arxiv" in text.lower():
            found = arxiv_id(text)
            if found:
                return found
    return None


def _tags(*values: str | None) -> list[str]:
    """Return the distinct tags of Zotero ``keywords`` / Mendeley ``mendeley-tags``, in order."""
    tags: list[str] = []
    for value in values:
        for tag in _TAG_SEPARATORS.split(value or ""):
            tag = _latex(tag)
            if tag and tag not in tags:
                tags.append(tag)
    return tags
