"""Parsing plus the per-record work of ingest that needs no store: pure, so it can be tested alone.

Ingest is two halves: this one (parse, fingerprint, identifiers, blocking keys, normalized
data) and ``ingest._merge_batch``, which looks the batch up in the store and decides.
"""

from __future__ import annotations

import operator
import sys
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any, Iterator

import orjson

from . import merge
from .config import Settings
from .records import ParseContext, ParseError, Record
from .sources import detect_format, get_format


@dataclass(frozen=True, slots=True)
class FieldLimits:
    """The largest fields a record may carry (0: no limit); a record over one is a ParseError."""

    max_title_chars: int
    max_abstract_chars: int
    max_authors: int
    max_author_chars: int
    max_record_chars: int

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> "FieldLimits":
        """The limits of ``settings`` (the defaults when None)."""
        settings = settings or Settings()
        return cls(settings.max_title_chars, settings.max_abstract_chars, settings.max_authors,
                   settings.max_author_chars, settings.max_record_chars)


_DEFAULT_LIMITS = FieldLimits.from_settings()


@dataclass(slots=True)
class Prepared:
    """A parsed record with everything merging needs that does not depend on the store."""

    record: Record
    fingerprint: str
    identifiers: list[tuple[str, str]]
    block_keys: list[int] | None
    """The title's blocking keys its item stores (``merge.title_keys``); None until ``complete`` where they were
    left (``Leave.keys``)."""
    data_json: str | None
    """``merge.record_data`` as stored beside the raw record (JSON); None until ``complete`` where it was left."""
    alone: merge.ItemFields | None
    """The fields of an item of this record alone (``merge.resolve_item``): what most records of a bulk load
    become. Made here, they are made in the worker process of a large run (``ingest.ahead``), not in the process
    that stores them; so is the JSON, and the data itself then never crosses the pipe. Where that worker bounds
    the load it leaves both to the storing process (``Leave``, ``complete``): None until then."""
    calendar: tuple[str, str] | None
    """(kind, day) of the record on the Daily Papers calendar (``calendar_date``), written with it."""
    lookup_keys: list[int] | None = field(default_factory=list)
    """Blocking keys looked up besides, not stored (``merge.title_keys``); None with ``block_keys``."""

    @property
    def data(self) -> dict[str, Any]:
        """``merge.record_data``, read back from ``data_json``: what resolving an item of several records reads."""
        if self.data_json is None:
            self.complete()
        return orjson.loads(self.data_json)

    def complete(self) -> None:
        """Make the stored JSON, the fields of an item of this record alone and the blocking keys where
        ``prepare`` left them (``Leave``): the same values it makes."""
        if self.block_keys is None:
            self.block_keys, self.lookup_keys = _record_keys(self.record)
        if self.alone is None:
            data = merge.record_data(self.record)
            self.data_json = orjson.dumps(data).decode()
            self.alone = merge.resolve_item([data], (self.record.abstract,))

    def __reduce__(self) -> tuple[type["Prepared"], tuple]:
        return Prepared, _prepared_values(self)  # by position, as ``Record.__reduce__``


_prepared_values = operator.attrgetter(*(item.name for item in fields(Prepared)))


@dataclass(slots=True)
class Leave:
    """What ``prepare`` leaves to the process that stores each record (``Prepared.complete``): the stored JSON
    and the record's own item fields (``on``), its blocking keys besides (``keys``, only with ``on``). Switched
    between batches by the worker of a large run (``ingest.ahead``), which leaves more while the storing process
    waits for its batches and less while they queue, so that the two share the work whichever of the two is
    slower on a machine."""

    on: bool = False
    keys: bool = False


def prepare(records: Iterator[Record], origin: str, limits: FieldLimits | None = None,
            leave: Leave | None = None) -> Iterator[Prepared]:
    """Attach fingerprints, identifiers, blocking keys and stored data to parsed records.

    A record with a field over ``limits`` (the default settings' when None) raises a ParseError naming the
    record (its position in the file, and its id) and the field. While ``leave`` is on, the stored JSON and the
    fields of the record's own item are left to ``Prepared.complete``.
    """
    leave = leave or Leave()
    limits = limits or _DEFAULT_LIMITS
    origin_name = origin.rsplit("!", 1)[-1].rsplit("/", 1)[-1]
    # The limits as plain numbers (0, no limit, as the largest): the cheap test every record passes; over_limit
    # then says which field is over.
    title_chars, abstract_chars, authors, author_chars, record_chars = (
        limit or sys.maxsize for limit in (limits.max_title_chars, limits.max_abstract_chars, limits.max_authors,
                                           limits.max_author_chars, limits.max_record_chars))
    # A parser gives the same record object again for a repeated line (``sources.jsonl``: a listing's cross-lists):
    # it gets the same Prepared (nothing changes either after this).
    done: dict[int, Prepared] = {}
    for index, record in enumerate(records):
        again = done.get(id(record))
        if again is not None and again.record is record:
            yield again
            continue
        if (len(record.title) > title_chars or len(record.abstract) > abstract_chars
                or len(record.authors) > authors or len(record.raw) > record_chars
                or (record.authors and max(map(len, record.authors)) > author_chars)) \
                and (over := over_limit(record, limits)):
            shown = record.record_id if len(record.record_id) <= 80 else record.record_id[:80] + "…"
            raise ParseError(f"{over}; the record is refused", f"record {index + 1}" + (f" ({shown})" if shown else ""))
        stored, looked_up = (None, None) if leave.on and leave.keys else _record_keys(record)
        if leave.on:
            data_json = alone = None
        else:
            data = merge.record_data(record)
            data_json, alone = orjson.dumps(data).decode(), merge.resolve_item([data], (record.abstract,))
        prepared = Prepared(record, merge.fingerprint(record, origin_name), merge.identifiers(record, record.label),
                            stored, data_json, alone, calendar_date(record), looked_up)
        if len(done) >= PREPARED_REMEMBERED:
            done.clear()
        done[id(record)] = prepared  # holds the record, so its id names no other while it is here
        yield prepared


def calendar_date(record: Record) -> tuple[str, str] | None:
    """The record's (kind, day) on the Daily Papers calendar: the Hugging Face pick day (``picked``), else its
    listing's announcement day (``announced``), else its own date (``published``); None for a tombstone, a BibTeX
    record (a user's library, not a public signal) or a record with none of the three.

    The rule of ``storage.daily``'s catch-up statement (``DailyStorage.add_daily_dates``, which dates records
    stored by an older paperfeed from their stored JSON), computed here so that a bulk load's process that stores
    the records does not read three dates back out of each one's JSON: that statement took 12 µs a Kaggle record,
    the rows made here go in at 5.8 (a multi-row insert, ``SQLiteDatabase.run_many``; docs/benchmarks.md,
    "Ingest", session 16). The parsers give these dates as text; a NUL becomes U+FFFD, as that statement's
    reading does."""
    if record.deleted or record.format == "bibtex":
        return None
    extra = record.extra
    # An empty own date is left out of the stored data (``merge.record_data``): absent, as there.
    for kind, day in (("picked", extra.get("picked_date")), ("announced", extra.get("listing_date")),
                      ("published", record.published or None)):
        if day is not None:
            return kind, day.replace("\x00", "\ufffd") if "\x00" in day else day
    return None


PREPARED_REMEMBERED = 2048
"""Prepared records kept for a record given again (see ``prepare``)."""


TITLE_KEYS_CACHED = 32768
"""Titles whose blocking keys are kept: a listing announces a paper again under the same title (a third of the
daily listings' records), and the keys cost more than the rest of a record's preparation."""
TITLE_KEYS_CACHED_CHARS = 500
"""Longest title cached (real ones are far shorter): at most 16 million characters of titles, whatever a file holds."""


def _record_keys(record: Record) -> tuple[list[int], list[int]]:
    """``merge.title_keys`` of the record's title (stored, looked up), cached for a title of usual length."""
    title = record.title
    if not title:
        return [], []
    stored, looked_up = (_title_keys if len(title) <= TITLE_KEYS_CACHED_CHARS else merge.title_keys)(
        title, bool(record.arxiv_id))
    return list(stored), list(looked_up)


@lru_cache(maxsize=TITLE_KEYS_CACHED)
def _title_keys(title: str, clean: bool) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``merge.title_keys``, cached (tuples: a cached value is never changed in place)."""
    stored, looked_up = merge.title_keys(title, clean)
    return tuple(stored), tuple(looked_up)


def over_limit(record: Record, limits: FieldLimits) -> str | None:
    """Why ``record`` is over one of ``limits``, naming the field and the setting; None when it is within."""
    checks = (("title", len(record.title), limits.max_title_chars, "characters", "max_title_chars"),
              ("abstract", len(record.abstract), limits.max_abstract_chars, "characters", "max_abstract_chars"),
              ("author list", len(record.authors), limits.max_authors, "authors", "max_authors"),
              ("raw record", len(record.raw), limits.max_record_chars, "characters", "max_record_chars"))
    for name, size, limit, unit, setting in checks:
        if limit and size > limit:
            return _over(name, size, limit, unit, setting)
    if limits.max_author_chars:
        for position, author in enumerate(record.authors, 1):
            if len(author) > limits.max_author_chars:
                return _over(f"author {position}'s name", len(author), limits.max_author_chars, "characters",
                             "max_author_chars")
    return None


def _over(name: str, size: int, limit: int, unit: str, setting: str) -> str:
    return (f"the {name} has {size:,} {unit}, over the {setting} limit of {limit:,} "
            f"(set PAPERFEED_{setting.upper()} to change it)")


def parse(data: bytes, context: ParseContext, format_name: str | None,
          limits: FieldLimits | None = None, leave: Leave | None = None) -> tuple[str, Iterator[Prepared]]:
    """Pick the format (given or detected) and return its name and the prepared records, lazily.

    A parser's unexpected exception becomes a ParseError, so a parser bug fails its own file
    and not the whole run; so does a record over ``limits`` (the default settings' when None).
    """
    module = get_format(format_name) if format_name else detect_format(data, context.name)
    return module.FORMAT, prepare(_parser_bugs_as_errors(module.parse(data, context)), context.origin, limits, leave)


def _parser_bugs_as_errors(records: Iterator[Record]) -> Iterator[Record]:
    try:
        yield from records
    except ParseError:
        raise
    except Exception as error:
        raise ParseError(f"internal error while parsing ({type(error).__name__}: {error}); please report it") from error


def stored_abstract(format_name: str, raw: str) -> str | None:
    """The abstract of one stored source record, parsed again from its raw text (stored data leaves the
    abstract out); None when the raw text does not parse alone (a record whose format needs its file around it)."""
    try:
        module = get_format(format_name)
        for record in module.parse(raw.encode("utf-8"), ParseContext("stored record")):
            return record.abstract
    except Exception:  # any parser's complaint about a lone record means "not known"
        return None
    return None
