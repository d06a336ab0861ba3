"""CSV and TSV tables of bibliographic records, with column names detected case-insensitively."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterator

from ..normalize import arxiv_id, clean_text, clean_title, doi, split_authors, to_utc_date
from ..records import ParseContext, ParseError, Record
from .common import decode_utf8

FORMAT = "csv"

# Record field -> accepted column names (lower-case), in order of preference.
COLUMNS = {
    "id": ("id", "key", "record_id", "arxiv_id"),
    "arxiv": ("arxiv_id", "arxiv", "eprint"),
    "title": ("title",),
    "authors": ("authors", "author"),
    "venue": ("venue", "journal", "booktitle", "journal-ref", "journal_ref"),
    "year": ("year",),
    "date": ("published", "date"),
    "doi": ("doi",),
    "abstract": ("abstract", "summary"),
    "url": ("url", "link"),
}


def sniff(head: bytes, name: str) -> bool:
    """Say whether the input is a CSV/TSV table: by name, or a comma-separated header with a title column."""
    if name.lower().endswith((".csv", ".tsv")):
        return True
    first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0]
    if b"," not in first or first.lstrip().startswith((b"{", b"[", b"<", b"@")):
        return False
    cells = [cell.strip(b' "\'\r').lower() for cell in first.split(b",")]
    return b"title" in cells


def parse(data: bytes, context: ParseContext) -> Iterator[Record]:
    """Yield one Record per data row; a missing title column or a ragged row fails the file."""
    text = decode_utf8(data)
    delimiter = "\t" if context.name.lower().endswith(".tsv") else ","
    consumed: list[str] = []  # the physical lines of the row being read, kept as its raw text

    def lines() -> Iterator[str]:
        for line in io.StringIO(text, newline=""):
            consumed.append(line)
            yield line

    reader = csv.reader(lines(), delimiter=delimiter, strict=True)
    header = _next_row(reader)
    if not header:
        raise ParseError("empty file: no header row", "line 1")
    columns = _column_map(header)
    if "title" not in columns:
        raise ParseError("no title column; columns are: " + ", ".join(header), "line 1")
    label = context.label or context.name
    width = len(header)
    count = 0
    while True:
        consumed.clear()
        row = _next_row(reader)
        if row is None:
            return
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        count += 1
        # line_num counts physical lines, so a row with a multi-line cell is placed at its last line.
        place = f"line {reader.line_num}"
        if len(row) != width:
            raise ParseError(f"{len(row)} fields where the header has {width}", place)
        raw = "".join(consumed).rstrip("\r\n")
        yield _record(row, columns, count, place, label, raw)


def _next_row(reader) -> list[str] | None:
    """Return the next row, None at the end, or raise a ParseError for malformed quoting."""
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as error:
        raise ParseError(f"malformed CSV: {error}", f"line {reader.line_num}") from None


def _column_map(header: list[str]) -> dict[str, int]:
    """Map record fields to column indexes, matching header names case-insensitively."""
    names = [cell.strip().lower() for cell in header]
    found = {}
    for field, candidates in COLUMNS.items():
        for candidate in candidates:
            if candidate in names:
                found[field] = names.index(candidate)
                break
    return found


def _cell(row: list[str], columns: dict[str, int], field: str) -> str:
    """Return a cell's text with HTML entities decoded (ACM exports write ``Mart&#237;nez``)."""
    index = columns.get(field)
    if index is None:
        return ""
    value = row[index]
    if "&" in value:
        # "&;" is a mangled "&amp;" in the same exports.
        value = html.unescape(value).replace("&;", "&")
    return value


def _record(row: list[str], columns: dict[str, int], count: int, place: str, label: str, raw: str) -> Record:
    """Turn one data row into a Record."""
    title = clean_title(_cell(row, columns, "title"))
    if not title:
        raise ParseError("empty title", place)
    record_id = clean_text(_cell(row, columns, "id")) or f"row {count}"
    year_text = clean_text(_cell(row, columns, "year"))
    url = clean_text(_cell(row, columns, "url")) or None
    venue = clean_text(_cell(row, columns, "venue"))
    return Record(
        format=FORMAT,
        record_id=record_id,
        title=title,
        raw=raw,
        abstract=clean_text(_cell(row, columns, "abstract")),
        authors=split_authors(_cell(row, columns, "authors")),
        arxiv_id=_arxiv(row, columns, record_id, url),
        doi=doi(_cell(row, columns, "doi")),
        url=url,
        published=to_utc_date(_cell(row, columns, "date")) or None,
        year=int(year_text) if year_text.isdigit() and len(year_text) == 4 else None,
        extra={"venue": venue} if venue else {},
        label=label,
    )


def _arxiv(row: list[str], columns: dict[str, int], record_id: str, url: str | None) -> str | None:
    """Return the arXiv id from an arXiv column, an arxiv.org URL, or an id that is itself an arXiv id."""
    if "arxiv" in columns:
        return arxiv_id(_cell(row, columns, "arxiv"))
    if url and "arxiv.org" in url:
        return arxiv_id(url)
    found = arxiv_id(record_id)
    # Keys such as DBLP's "journals/corr/abs-..." or DOIs must not pass for arXiv ids by accident.
    bare = record_id.lower().removeprefix("arxiv:")
    return found if found and bare.startswith(found) else None
