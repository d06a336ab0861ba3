"""The normalized record every source parser produces, and the errors parsers raise."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(slots=True)
class Record:
    """One record as one source gave it, normalized.

    Parsers fill what their format carries and leave the rest empty; merging and
    storage never look at the raw bytes again except to keep them as provenance.
    """

    format: str
    """Parser name, e.g. ``arxiv-atom`` or ``hf-daily``."""
    record_id: str
    """The id the source gave the record (arXiv id, CSV ``id`` column, HF paper id, feed entry id)."""
    title: str
    raw: str
    """The record as received (one JSON line, one XML element, one text block), for provenance."""
    kind: str = "paper"
    """``paper`` or ``news``."""
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    """Display names, ``First Last``, in the source's order."""
    arxiv_id: str | None = None
    """Canonical arXiv id without version (``2401.01234``, ``hep-th/9901001``)."""
    doi: str | None = None
    """Lower-case DOI without resolver prefix."""
    url: str | None = None
    published: str | None = None
    """``YYYY-MM-DD`` in UTC, or None when the source gives no full date."""
    year: int | None = None
    """Publication year when only the year is known (or as a copy of ``published``'s year)."""
    updated: str | None = None
    categories: list[str] = field(default_factory=list)
    """arXiv-style categories, primary first."""
    topics: list[tuple[str, float]] = field(default_factory=list)
    """(topic name, confidence) pairs the source asserts (a capture's topic header)."""
    label: str | None = None
    """Human-readable source label ("arXiv.org Machine Learning", "The Guardian")."""
    deleted: bool = False
    """True for an OAI-PMH deleted-record tombstone: the source withdrew it."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Format-specific fields worth keeping (upvotes, github_repo, venue, journal_ref, comment, ...)."""

    def __post_init__(self) -> None:
        if self.year is None and self.published:
            self.year = int(self.published[:4])

    def __reduce__(self) -> tuple[type["Record"], tuple]:
        # By position: prepared records cross the pipe of ``ingest.ahead`` pickled, and the default (slot names
        # and values, set one by one) cost more each way (bench/ingest_parts.py).
        return Record, _record_values(self)


_record_values = operator.attrgetter(*(item.name for item in fields(Record)))


@dataclass(slots=True)
class ParseContext:
    """What a parser may know about its input besides the bytes."""

    origin: str
    """Path or URL the bytes came from; archive members are ``archive.tar.xz!member.jsonl``."""
    label: str | None = None
    """A label given by the user (``--label``); overrides the source's own label."""
    date_hint: str | None = None
    """``YYYY-MM-DD`` known from outside the file (a listing's file name), or None."""
    modified: str | None = None
    """``YYYY-MM-DD``: the UTC day the file was last modified, when known (a capture was made on or before it)."""
    notes: list[str] = field(default_factory=list)
    """What a parser wants said about the file as a whole (a date it could not resolve): the ingest summary
    prints these beside the file's counts."""

    @property
    def name(self) -> str:
        """The file or member name without directories."""
        tail = self.origin.rsplit("!", 1)[-1]
        return tail.replace("\\", "/").rsplit("/", 1)[-1]


class ParseError(ValueError):
    """Input that cannot be parsed; ``place`` says where (``line 12``, ``byte 4096``, ``<entry> 3``)."""

    def __init__(self, message: str, place: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.place = place

    def __str__(self) -> str:
        return f"{self.place}: {self.message}" if self.place else self.message
