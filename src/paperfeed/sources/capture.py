"""Listing pages of AI-literature aggregators saved as the text a browser shows.

Three shapes are read (see ``data/captures/README.md``):

1. topic page: header ``Goto`` / ``Collaborating Authors`` / topic name, then blocks of
   title, source label (``arXiv.org Machine Learning``, ``The Guardian``) and teaser;
2. daily page: header ``new`` ... ``Daily Papers`` ... ``Jul 30`` (no year), then title and
   abstract lines, alternating;
3. topic name alone on the first line, then blocks of title, an optional
   ``Last, First, Last, First`` author line, and abstract.

In the real topic page a blank line separates the lines of a block and two blank lines separate
blocks; the daily page puts one blank line between every line, so its items are read as pairs. A
capture with no blank lines at all (the real third shape) is read line by line: a title, then an
author line or a short source label when there is one, then the abstract; so a block is two or
three lines.

A capture's order is its ranking: every record carries its 1-based place on the page as
``extra["page_rank"]``. A daily page's ``Jul 30`` is resolved to the latest such day not after the
capture (a year in the date line; else the capture day from the file name, a year in the name, or
the file's modification time); the day becomes ``extra["picked_date"]``, the day's list the page
was, as a Hugging Face pick day is. Where nothing resolves it the records have no day and the file
gets a note that says so (``ParseContext.notes``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from ..normalize import clean_text, clean_title, name_pairs, title_key, valid_day
from ..records import ParseContext, ParseError, Record
from .common import decode_utf8

FORMAT = "capture"

DAILY_LABEL = "Daily Papers"
_TOPIC_HEADER = ("goto", "collaborating authors")
_DAILY_HEADER = {"new", "get trending papers in your email inbox!", "subscribe", "daily papers",
                 "byak and the research community"}
_MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_PAGE_DATE = re.compile(r"^([A-Z][a-z]{2})[a-z]*\.? (\d{1,2})(?:,? ((?:19|20)\d{2}))?$")
_FILE_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
# An author line's parts are short names: letters, spaces, hyphens, apostrophes, initials.
_NAME_PART = re.compile(r"^[^\W\d_](?:[^\W\d_]|[ .'\u2019-])*$")
_TITLE_MAX = 400
# An abstract or teaser is a paragraph: longer than its title and than this. Shorter means not an item.
_ABSTRACT_MIN = 60


@dataclass(slots=True)
class _Line:
    """One non-blank line: its 1-based number, its text, and how many blank lines precede it."""

    number: int
    text: str
    blanks_before: int


def sniff(head: bytes, name: str) -> bool:
    """Say whether a .txt file looks like a capture: a topic or daily header, or topic line then blocks."""
    if not name.lower().endswith(".txt"):
        return False
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        # The head may cut a multi-byte character in two at its end.
        text = head[:error.start].decode("utf-8-sig", "ignore")
    lines = [line.strip() for line in text.split("\n") if line.strip()][:8]
    if len(lines) < 3:
        return False
    lowered = [line.lower() for line in lines]
    if tuple(lowered[:2]) == _TOPIC_HEADER:
        return True
    if lowered[0] in _DAILY_HEADER and "daily papers" in lowered[:6]:
        return True
    # Shape 3: a short topic line, a title-sized line, then a long abstract within two more lines.
    return (len(lines[0]) <= 80 and len(lines[1]) <= _TITLE_MAX
            and any(len(line) > 200 for line in lines[2:4]))


def parse(data: bytes, context: ParseContext) -> Iterator[Record]:
    """Yield one Record per item of a captured listing page; a page of no known shape fails."""
    file_lines = decode_utf8(data).split("\n")
    lines = _lines(file_lines)
    if not lines:
        raise ParseError("not a recognised capture: the file is empty", "line 1")
    lowered = [line.text.lower() for line in lines[:8]]
    if tuple(lowered[:2]) == _TOPIC_HEADER and len(lines) > 2:
        topic = lines[2].text
        yield from _topic_items(file_lines, lines[3:], topic, context)
    elif lowered[0] in _DAILY_HEADER:
        yield from _daily_items(file_lines, lines, context)
    else:
        _check_shape3_topic(lines)
        yield from _topic_items(file_lines, lines[1:], lines[0].text, context)


def _lines(file_lines: list[str]) -> list[_Line]:
    """Return the non-blank lines, stripped (also of the non-breaking space before a topic name)."""
    found = []
    blanks = 0
    for number, raw in enumerate(file_lines, 1):
        stripped = raw.strip()
        if stripped:
            found.append(_Line(number, stripped, blanks))
            blanks = 0
        else:
            blanks += 1
    return found


def _check_shape3_topic(lines: list[_Line]) -> None:
    """Refuse text whose first line cannot be a topic name followed by item blocks."""
    first = lines[0]
    if len(first.text) > 80 or len(lines) < 3:
        raise ParseError("not a recognised capture: no topic/daily header, and no short topic line "
                         "followed by item blocks", f"line {first.number}")


def _blocks(lines: list[_Line]) -> list[list[_Line]]:
    """Group lines into item blocks: two or more blank lines end a block."""
    blocks: list[list[_Line]] = []
    for line in lines:
        if not blocks or line.blanks_before >= 2:
            blocks.append([line])
        else:
            blocks[-1].append(line)
    return blocks


def _topic_items(file_lines: list[str], lines: list[_Line], topic: str, context: ParseContext) -> Iterator[Record]:
    """Yield the items of a topic page (shapes 1 and 3), in page order."""
    if not lines:
        raise ParseError("not a recognised capture: a topic header with no items", "line 1")
    blocks = _blocks(lines)
    # A capture without double blank lines between items is read field by field.
    if len(blocks) == 1 and len(lines) > 3:
        blocks = _segment(lines)
    for rank, block in enumerate(blocks, 1):
        yield _topic_record(file_lines, block, topic, context, rank)


def _segment(lines: list[_Line]) -> list[list[_Line]]:
    """Split lines with no blank lines between items into blocks: a title, then an author line or a short
    source label when the next line is one, then the abstract."""
    blocks = []
    index = 0
    while index < len(lines):
        if index + 1 == len(lines):
            raise ParseError("not a recognised capture: a title line with no abstract after it",
                             f"line {lines[index].number}")
        middle = lines[index + 1].text
        if index + 2 == len(lines) and _author_line(middle):
            raise ParseError("not a recognised capture: an author line with no abstract after it",
                             f"line {lines[index + 1].number}")
        has_middle = index + 2 < len(lines) and (
            bool(_author_line(middle)) or len(middle) < _ABSTRACT_MIN <= len(lines[index + 2].text))
        size = 3 if has_middle else 2
        blocks.append(lines[index:index + size])
        index += size
    return blocks


def _topic_record(file_lines: list[str], block: list[_Line], topic: str, context: ParseContext,
                  rank: int) -> Record:
    """Turn one topic-page block (title, [source label | author line], teaser) into a Record."""
    if len(block) not in (2, 3):
        raise ParseError(f"not a recognised capture: an item block of {len(block)} lines "
                         "(expected title, source label or authors, abstract)", f"line {block[0].number}")
    title_line, abstract_line = block[0], block[-1]
    _check_item(title_line, abstract_line)
    authors: list[str] = []
    source = None
    if len(block) == 3:
        middle = block[1].text
        authors = _author_line(middle)
        if not authors:
            source = middle
    # A source label names its outlet: arXiv feeds carry papers, every other outlet news.
    # Shape 3 has no labels; there an item without an author line is a news article.
    if source is not None:
        kind = "paper" if source.startswith("arXiv") else "news"
    else:
        kind = "paper" if authors else "news"
    return _record(file_lines, block, context, title=title_line.text, abstract=abstract_line.text, authors=authors,
                   kind=kind, label=context.label or source or topic, topics=[(topic, 1.0)],
                   extra={"page_rank": rank})


def _check_item(title: _Line, abstract: _Line) -> None:
    """Refuse an item whose title line is too long for a title or whose abstract line is too short."""
    if len(title.text) > _TITLE_MAX:
        raise ParseError("not a recognised capture: a title line longer than any title", f"line {title.number}")
    if len(abstract.text) < max(_ABSTRACT_MIN, len(title.text)):
        raise ParseError("not a recognised capture: expected an abstract or teaser paragraph after the title",
                         f"line {abstract.number}")


def _author_line(text: str) -> list[str]:
    """Return the names of a ``Last, First, Last, First`` line, or [] if the line has another shape."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) < 2 or len(parts) % 2:
        return []
    if not all(part and len(part) <= 40 and len(part.split()) <= 4 and _NAME_PART.match(part) for part in parts):
        return []
    return name_pairs(text)


def _daily_items(file_lines: list[str], lines: list[_Line], context: ParseContext) -> Iterator[Record]:
    """Yield the items of a daily page, in page order: header lines, an optional ``Jul 30`` date, then
    title/abstract pairs."""
    index = 0
    page_date = None
    while index < len(lines) and lines[index].text.lower() in _DAILY_HEADER:
        index += 1
    if index < len(lines) and _PAGE_DATE.match(lines[index].text):
        page_date = lines[index].text
        index += 1
    if "daily papers" not in (line.text.lower() for line in lines[:index]):
        raise ParseError("not a recognised capture: a daily-papers header without \"Daily Papers\"",
                         f"line {lines[0].number}")
    items = lines[index:]
    if len(items) % 2:
        raise ParseError("not a recognised capture: daily-page lines must come in title/abstract pairs; "
                         "one is left over", f"line {items[-1].number}")
    day = page_day(page_date, context)
    if page_date and day is None:
        context.notes.append(
            f"the page date {page_date!r} has no year, and neither the file name, the header nor the file's "
            f"modification time gives one: its {len(items) // 2} papers are stored without a day (put the "
            "capture day in the file name, e.g. daily-papers-2025-07-31.txt, and ingest it again)")
    extra: dict = {"page_date": page_date} if page_date else {}
    if day:
        extra["picked_date"] = day
    label = context.label or DAILY_LABEL
    for rank, start in enumerate(range(0, len(items), 2), 1):
        title_line, abstract_line = items[start], items[start + 1]
        _check_item(title_line, abstract_line)
        yield _record(file_lines, items[start:start + 2], context, title=title_line.text, abstract=abstract_line.text,
                      authors=[], kind="paper", label=label, topics=[], extra={**extra, "page_rank": rank})


def page_day(page_date: str | None, context: ParseContext) -> str | None:
    """``YYYY-MM-DD`` of a daily page's ``Jul 30``: the latest such day not after the capture; None when nothing
    tells the year (never a guess).

    What tells it, first found: a year in the date line itself (``Jul 30, 2025``); the capture day in the
    file name (``…-2025-07-31.txt``, the context's ``date_hint``); a year alone in the file name (that
    year's day); the day the file was last modified (the capture was saved then or later copied, so the
    page is not newer than it).
    """
    found = _PAGE_DATE.match(page_date or "")
    month = _MONTHS.get(found.group(1).lower()) if found else None
    if not found or not month:
        return None
    day = int(found.group(2))
    if found.group(3):
        return valid_day(f"{found.group(3)}-{month:02d}-{day:02d}")
    captured = valid_day(context.date_hint) if context.date_hint else None
    if not captured:
        year = _FILE_YEAR.search(context.name)
        if year:
            return valid_day(f"{year.group(1)}-{month:02d}-{day:02d}")
        captured = valid_day(context.modified) if context.modified else None
    if not captured:
        return None
    until = date.fromisoformat(captured)
    # The latest month/day on or before the capture: this year's, else an earlier year's (29 Feb: a leap year's).
    for year in range(until.year, until.year - 9, -1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate <= until:
            return candidate.isoformat()
    return None


def capture_id(title: str) -> str:
    """Return the record id of a captured item: the same title captured twice gives the same id."""
    key = title_key(title) or title.lower()
    return "capture:" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def _record(file_lines: list[str], block: list[_Line], context: ParseContext, *, title: str, abstract: str,
            authors: list[str], kind: str, label: str, topics: list[tuple[str, float]],
            extra: dict | None = None) -> Record:
    """Build the Record of one item; raw is the block's text as it stands in the file."""
    clean = clean_title(title)
    if not clean:
        raise ParseError("not a recognised capture: an empty title", f"line {block[0].number}")
    block_lines = file_lines[block[0].number - 1:block[-1].number]
    return Record(
        format=FORMAT,
        record_id=capture_id(clean),
        title=clean,
        raw="\n".join(line.rstrip("\r") for line in block_lines),
        kind=kind,
        abstract=clean_text(abstract),
        authors=authors,
        topics=topics,
        label=label,
        extra=extra or {},
    )
