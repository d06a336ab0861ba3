"""Parsing plus the per-record work of ingest that needs no store: pure, so it can be tested alone.

Ingest is two halves: this one (parse, fingerprint, identifiers, blocking keys, normalized
data) and ``ingest._merge_batch``, which looks the batch up in the store and decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from . import merge
from .records import ParseContext, ParseError, Record
from .sources import detect_format, get_format


@dataclass(slots=True)
class Prepared:
    """A parsed record with everything merging needs that does not depend on the store."""

    record: Record
    fingerprint: str
    identifiers: list[tuple[str, str]]
    block_keys: list[int]
    data: dict[str, Any]


def prepare(records: Iterator[Record], origin: str) -> Iterator[Prepared]:
    """Attach fingerprints, identifiers, blocking keys and stored data to parsed records."""
    origin_name = origin.rsplit("!", 1)[-1].rsplit("/", 1)[-1]
    for record in records:
        yield Prepared(record, merge.fingerprint(record, origin_name), merge.identifiers(record, record.label),
                       merge.block_keys(record.title) if record.title else [], merge.record_data(record))


def parse(data: bytes, context: ParseContext, format_name: str | None) -> tuple[str, Iterator[Prepared]]:
    """Pick the format (given or detected) and return its name and the prepared records, lazily.

    A parser's unexpected exception becomes a ParseError, so a parser bug fails its own file
    and not the whole run.
    """
    module = get_format(format_name) if format_name else detect_format(data, context.name)
    return module.FORMAT, prepare(_parser_bugs_as_errors(module.parse(data, context)), context.origin)


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
