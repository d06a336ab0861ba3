"""JSON Lines: the Kaggle arXiv snapshot, arXiv daily-listing dumps and generic producers.

The schema is detected once per file from its first object; every later line is read with
the builder chosen then, so the per-line cost is one ``orjson.loads`` plus the field clean-up.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date

import orjson

from ..normalize import (arxiv_id, clean_text, clean_title, doi, person_name, split_authors, to_utc_date,
                         valid_day)
from ..records import ParseContext, ParseError, Record
from .common import decode_utf8

FORMAT = "jsonl"

KAGGLE_LABEL = "arXiv metadata snapshot"
LISTING_LABEL = "arXiv listing"

_FILE_DAY = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)")
_ABS_URL = "https://arxiv.org/abs/"

# A builder turns one decoded object (and its line's text) into a Record.
Builder = Callable[[dict, str, int], Record]


def sniff(head: bytes, name: str) -> bool:
    """Say whether the input looks like JSON Lines: objects one per line, or a .jsonl/.ndjson name."""
    lower = name.lower()
    if lower.endswith((".jsonl", ".ndjson")):
        return True
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    # A pretty-printed JSON object also starts with "{"; a second object at the start of a line is JSONL.
    return body.startswith(b"{") and (b"\n{" in body or b"\r\n{" in body)


def parse(data: bytes, context: ParseContext) -> Iterator[Record]:
    """Yield one Record per non-blank line; the first object decides which schema the file uses.

    A memory-mapped file (``inputs.MappedFile``: a large file, the 4 GB Kaggle snapshot) is read a line at a
    time and its pages given back as it goes, so memory stays bounded whatever the file's size.
    """
    build: Builder | None = None
    loads = orjson.loads
    # A daily listing names a cross-listed paper again, the very same line (18% of the listings' records): such a
    # line gives the record made for it before, the same object (records are not changed after parsing), found by
    # its id and compared whole. None for the other schemas (a generic record's id may be its line number).
    made: dict[str, tuple[str, Record]] | None = None
    for number, line in _lines(data) if isinstance(data, bytes) else _mapped_lines(data):
        try:
            obj = loads(line)
        except orjson.JSONDecodeError as error:
            if not line.strip():
                continue  # blank lines are allowed; checking only after a failure keeps good lines cheap
            raise ParseError(f"not JSON: {error.msg} (column {error.colno})", f"line {number}") from None
        if type(obj) is not dict:
            raise ParseError(f"expected a JSON object, got {type(obj).__name__}", f"line {number}")
        if build is None:
            build = _pick_builder(obj, context)
            made = {} if schema_of(obj) == "listing" else None
        if made is not None:
            key = obj.get("id")
            if type(key) is str:
                earlier = made.get(key)
                if earlier is not None and earlier[0] == line:
                    yield earlier[1]
                    continue
        try:
            record = build(obj, line, number)
        except ParseError:
            raise
        except (KeyError, TypeError, AttributeError, IndexError, ValueError) as error:
            # A field of the wrong type (authors: 5) must fail the file with its place, not crash the caller.
            raise ParseError(f"unexpected field shape ({type(error).__name__}: {error})", f"line {number}") from None
        if made is not None and type(key) is str:
            if len(made) >= LINES_REMEMBERED:
                made.clear()
            made[key] = (line, record)
        yield record


LINES_REMEMBERED = 2048
"""Records of a listing file kept for a repeated line (a day's listing holds a few hundred; the memory is bounded
whatever the file's size)."""


def _lines(data: bytes) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line of a file held in memory, without its line break."""
    # split("\n"), not splitlines(): U+2028 and friends may sit inside JSON strings.
    for number, line in enumerate(decode_utf8(data).split("\n"), 1):
        yield number, line[:-1] if line.endswith("\r") else line


RELEASE_BYTES = 64 * 1024 * 1024
"""How much of a mapped file is read before its pages are given back."""


def _mapped_lines(data) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line of a memory-mapped file, decoded one at a time; a line that is not
    UTF-8 is a ParseError naming its byte offset in the file, as ``decode_utf8`` names it for a whole file."""
    start, size, number, released = 0, len(data), 0, 0
    if data[:3] == b"\xef\xbb\xbf":
        start = 3
    find, release = data.find, getattr(data, "release", None)
    while start < size:
        end = find(b"\n", start)
        if end < 0:
            end = size
        number += 1
        raw = data[start:end]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ParseError(f"not valid UTF-8 (byte 0x{raw[error.start]:02x}); re-save the file as UTF-8",
                             f"byte {start + error.start}") from None
        yield number, line[:-1] if line.endswith("\r") else line
        start = end + 1
        if release is not None and start - released >= RELEASE_BYTES:
            release(start)
            released = start


def schema_of(obj: dict) -> str:
    """Name the producer schema of one object: ``kaggle``, ``listing`` or ``generic``."""
    if "authors_parsed" in obj or ("versions" in obj and "update_date" in obj):
        return "kaggle"
    if "abs" in obj and "summary" in obj and isinstance(obj.get("categories"), list):
        return "listing"
    return "generic"


def _pick_builder(first: dict, context: ParseContext) -> Builder:
    """Return the record builder for the schema the first object shows."""
    schema = schema_of(first)
    if schema == "kaggle":
        return _kaggle_builder(context)
    if schema == "listing":
        return _listing_builder(context)
    return _generic_builder(first, context)


def file_day(context: ParseContext) -> str | None:
    """Return the day a file stands for: the context's hint, else a YYYY-MM-DD in its name."""
    if context.date_hint:
        return valid_day(context.date_hint)
    match = _FILE_DAY.search(context.name)
    return valid_day(match.group(1)) if match else None


def _title_or_fail(value, number: int) -> str:
    """Return the cleaned title, or raise a ParseError for the line that lacks one."""
    title = clean_title(value) if isinstance(value, str) else ""
    if not title:
        raise ParseError("no title", f"line {number}")
    return title


def _id_or_fail(value, number: int) -> str:
    """Return a record's id as text (a number is written out), or raise a ParseError for the line that has none."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        shape = "none" if value in (None, "") else f"a JSON {type(value).__name__}, not text"
        raise ParseError(f'the "id" field is {shape}', f"line {number}")
    return str(value).strip()


def _list_of_text(value, field: str, number: int) -> list[str]:
    """Return a JSON list of strings (``authors``, ``categories`` of a listing); another shape is a ParseError."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ParseError(f'the "{field}" field is not a list of strings', f"line {number}")
    try:
        "".join(value)  # one C loop that refuses any item not a string (a generator of isinstance costs 4 times more)
    except TypeError:
        raise ParseError(f'the "{field}" field is not a list of strings', f"line {number}") from None
    return value


def _listing_builder(context: ParseContext) -> Builder:
    """Build records of the arXiv daily-listing dumps (one file per announcement day)."""
    day = file_day(context)
    label = context.label or LISTING_LABEL

    def build(obj: dict, raw: str, number: int) -> Record:
        title = _title_or_fail(obj.get("title"), number)
        record_id = _id_or_fail(obj.get("id"), number)
        categories = _list_of_text(obj.get("categories"), "categories", number)
        extra: dict = {"listing_date": day} if day else {}
        # The listing pages mix ACM (I.2.7) and MSC (68T50) classes into the category list;
        # arXiv categories always start with a lower-case archive name.
        if categories and not all(c[:1].islower() for c in categories):
            extra["classes"] = [c for c in categories if not c[:1].islower()]
            categories = [c for c in categories if c[:1].islower()]
        comment = obj.get("comment")
        if comment:
            extra["comment"] = clean_text(comment)
        canonical = arxiv_id(record_id)
        return Record(
            format=FORMAT,
            record_id=record_id,
            title=title,
            raw=raw,
            abstract=clean_text(obj.get("summary")),
            authors=[name for name in map(person_name, _list_of_text(obj.get("authors"), "authors", number)) if name],
            arxiv_id=canonical,
            url=obj.get("abs") or (_ABS_URL + canonical if canonical else None),
            published=day,
            categories=categories,
            label=label,
            extra=extra,
        )

    return build


def _kaggle_builder(context: ParseContext) -> Builder:
    """Build records of the Kaggle ``arxiv-metadata-oai-snapshot`` schema."""
    label = context.label or KAGGLE_LABEL

    def build(obj: dict, raw: str, number: int) -> Record:
        title = _title_or_fail(obj.get("title"), number)
        record_id = _id_or_fail(obj.get("id"), number)
        parsed = obj.get("authors_parsed")
        authors = _parsed_names(parsed) if parsed else split_authors(obj.get("authors"))
        versions = obj.get("versions") or []
        extra = {key: clean_text(obj[field]) for field, key in _KAGGLE_EXTRA if obj.get(field)}
        canonical = arxiv_id(record_id)
        return Record(
            format=FORMAT,
            record_id=record_id,
            title=title,
            raw=raw,
            abstract=clean_text(obj.get("abstract")),
            authors=authors,
            arxiv_id=canonical,
            doi=doi(obj.get("doi")),
            url=_ABS_URL + (canonical or record_id),
            published=_created_day(versions[0].get("created")) if versions else None,
            updated=valid_day(obj.get("update_date")),
            categories=(obj.get("categories") or "").split(),
            label=label,
            extra=extra,
        )

    return build


# arXiv's version dates, always in this one RFC 822 shape: "Mon, 2 Apr 2007 19:18:42 GMT".
_CREATED = re.compile(r"[A-Z][a-z]{2}, (\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) "
                      r"([01]\d|2[0-3]):[0-5]\d:[0-5]\d GMT")
_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


def _created_day(value) -> str | None:
    """``to_utc_date`` of a version's ``created`` date: its day read directly when it has arXiv's shape (a GMT
    time is its UTC day; the email parser took 4% of a Kaggle line's parse), else the general parser."""
    match = _CREATED.fullmatch(value) if isinstance(value, str) else None
    if match:
        day, month, year = match.group(1, 2, 3)
        try:
            return date(int(year), _MONTHS[month], int(day)).isoformat()
        except ValueError:
            pass
    return to_utc_date(value)


# Kaggle fields kept as extra: (field in the file, key in Record.extra).
_KAGGLE_EXTRA = (("comments", "comment"), ("journal-ref", "journal_ref"), ("report-no", "report_no"),
                 ("submitter", "submitter"), ("license", "license"))


NAME_CACHE_SIZE = 200_000
"""Display names kept per ``authors_parsed`` row: arXiv's authors write many papers (the snapshot's 2.7 million
papers have about 1 million distinct names), and ``person_name`` is most of the parse time of a line."""
_names_by_row: dict[tuple, str] = {}
_person_name = person_name.__wrapped__
"""``person_name`` without its own cache: ``_names_by_row`` already holds each row's name, so a row it has not met
would only be a miss there that evicts a name another parser may want."""


def _parsed_names(parsed: list) -> list[str]:
    """Turn Kaggle ``authors_parsed`` rows ``[last, first, suffix, (affiliation)]`` into display names."""
    names = []
    cache = _names_by_row
    for row in parsed:
        key = tuple(row[:3])
        name = cache.get(key)
        if name is None:
            name = cache[key] = _parsed_name(row)
            if len(cache) > NAME_CACHE_SIZE:  # bounded: start afresh rather than grow with a huge file
                cache.clear()
        if name:
            names.append(name)
    return names


def _parsed_name(row: list) -> str:
    last = row[0] if row else ""
    first = row[1] if len(row) > 1 else ""
    suffix = row[2] if len(row) > 2 else ""
    # arXiv's parser writes hyphenated initials as "C. -P."; the author wrote "C.-P.".
    first = first.replace(". -", ".-")
    name = _person_name(f"{last}, {first}") if first else _person_name(last)
    if name and suffix:
        name = f"{name} {clean_text(suffix)}"
    return name or ""


def _generic_builder(first: dict, context: ParseContext) -> Builder:
    """Build records of other producers, with field names chosen from the first object."""
    abstract_key = _first_key(first, ("abstract", "summary", "description")) or "abstract"
    id_key = _first_key(first, ("id", "arxiv_id", "key", "doi", "url")) or "id"
    date_key = _first_key(first, ("published", "date", "published_date", "created", "year")) or "date"
    label = context.label or context.name

    def build(obj: dict, raw: str, number: int) -> Record:
        title = _title_or_fail(obj.get("title"), number)
        record_id = obj.get(id_key) or obj.get("arxiv_id") or obj.get("id")
        url = _str(obj.get("url"))
        canonical = (arxiv_id(_str(obj.get("arxiv_id"))) or arxiv_id(_str(obj.get("id")))
                     or (arxiv_id(url) if url and "arxiv.org" in url else None))
        published, year = _date_and_year(obj.get(date_key) or obj.get("year"))
        categories = obj.get("categories") or []
        if isinstance(categories, str):
            categories = categories.split()
        return Record(
            format=FORMAT,
            record_id=str(record_id) if record_id not in (None, "") else f"line {number}",
            title=title,
            raw=raw,
            abstract=clean_text(_str(obj.get(abstract_key))),
            authors=_any_authors(obj.get("authors") or obj.get("author")),
            arxiv_id=canonical,
            doi=doi(_str(obj.get("doi"))),
            url=url or (_ABS_URL + canonical if canonical else None),
            published=published,
            year=year,
            categories=[str(c) for c in categories],
            label=label,
        )

    return build


def _first_key(obj: dict, candidates: tuple[str, ...]) -> str | None:
    """Return the first candidate field name present in ``obj``."""
    return next((key for key in candidates if key in obj), None)


def _str(value) -> str | None:
    """Return ``value`` as text when it is a string or a number, else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _any_authors(value) -> list[str]:
    """Return display names from a list of names, a list of ``{"name": ...}`` objects or one string."""
    if isinstance(value, str):
        return split_authors(value)
    if not isinstance(value, list):
        return []
    names = []
    for item in value:
        if isinstance(item, dict):
            item = item.get("name") or " ".join(filter(None, (item.get("given"), item.get("family"))))
        if isinstance(item, str):
            name = person_name(item)
            if name:
                names.append(name)
    return names


def _date_and_year(value) -> tuple[str | None, int | None]:
    """Return (``YYYY-MM-DD`` or None, year or None) from a date, timestamp or bare year."""
    if isinstance(value, int) and not isinstance(value, bool):
        return None, value if 1000 <= value <= 9999 else None
    if not isinstance(value, str) or not value.strip():
        return None, None
    value = value.strip()
    if len(value) == 4 and value.isdigit():
        return None, int(value)
    day = to_utc_date(value)
    return day, int(day[:4]) if day else None
