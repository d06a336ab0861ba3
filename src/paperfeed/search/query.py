"""Turn what a user typed into a structured query; every string is a valid query.

Syntax (documented in the README): words must all match (ranked by BM25); ``"a phrase"``;
``prefix*``; ``-word`` excludes; filters ``author:``, ``topic:``, ``category:``, ``source:``,
``kind:``, ``after:YYYY[-MM[-DD]]``, ``before:…``, ``year:YYYY``. A filter value with spaces is
quoted (``author:"Yann LeCun"``). Anything that does not parse as a filter is searched as text,
so a stray quote or colon never becomes an error.

The one error is size: ``check_query`` refuses a query longer than ``QueryLimits.chars`` or with more parts
than ``QueryLimits.terms`` (``QueryLimits.prefixes`` for ``prefix*`` parts, each of which walks the term
dictionary: nine thousand of them cost seconds of CPU and most of a gigabyte). ``SearchService.search`` checks
every query, so the web page, its Atom feed, the JSON API and the CLI share the limits (settings
``search_max_chars``, ``search_max_terms``, ``search_max_prefixes``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

FILTER_NAMES = ("author", "topic", "category", "source", "kind")
DATE_FILTERS = ("after", "before", "year")

# One token of the query language: an optional sign, an optional `name:`, then a quoted or bare value.
_TOKEN = re.compile(r'(?P<sign>-?)(?:(?P<name>[A-Za-z]+):)?(?:"(?P<quoted>[^"]*)"?|(?P<bare>[^\s"]+))')


@dataclass(frozen=True, slots=True)
class QueryLimits:
    """The most a query may hold: characters, parts (words, phrases, prefixes, exclusions, filters), prefixes."""

    chars: int = 1000
    terms: int = 50
    prefixes: int = 10

    @classmethod
    def from_settings(cls, settings) -> "QueryLimits":
        return cls(settings.search_max_chars, settings.search_max_terms, settings.search_max_prefixes)


class QueryTooLarge(ValueError):
    """A query over ``QueryLimits``; ``status`` is the HTTP answer (414 too long, 400 too many parts)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class ParsedQuery:
    """A query split into text parts and filters; dates are inclusive ISO days."""

    terms: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    filters: dict[str, list[str]] = field(default_factory=dict)
    after: str | None = None
    before: str | None = None

    @property
    def parts(self) -> int:
        """How many parts the query has: words, phrases, prefixes, exclusions and filter values."""
        return (len(self.terms) + len(self.phrases) + len(self.prefixes) + len(self.excluded)
                + sum(len(values) for values in self.filters.values()))

    @property
    def has_text(self) -> bool:
        """True when the query has something to rank by (not only filters)."""
        return bool(self.terms or self.phrases or self.prefixes)

    def text(self) -> str:
        """The free-text part, for a semantic query."""
        return " ".join(self.phrases + self.terms + self.prefixes)


def _date_bound(value: str, end: bool) -> str | None:
    """``2025`` / ``2025-03`` / ``2025-03-18`` as the first (or last) day it covers; None if not a date."""
    match = re.fullmatch(r"(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?", value)
    if not match:
        return None
    year, month, day = int(match[1]), match[2], match[3]
    try:
        if day:
            return dt.date(year, int(month), int(day)).isoformat()
        if month:
            first = dt.date(year, int(month), 1)
            if not end:
                return first.isoformat()
            following = dt.date(year + (first.month == 12), first.month % 12 + 1, 1)
            return (following - dt.timedelta(days=1)).isoformat()
        return dt.date(year, 12, 31).isoformat() if end else dt.date(year, 1, 1).isoformat()
    except ValueError:
        return None


def parse_query(text: str) -> ParsedQuery:
    """Split ``text`` into terms, phrases, prefixes, exclusions, filters and a date range."""
    parsed = ParsedQuery()
    for match in _TOKEN.finditer(text):
        sign, name, quoted, bare = match["sign"], match["name"], match["quoted"], match["bare"]
        value = (quoted if quoted is not None else bare or "").strip()
        if not value:
            continue
        key = name.lower() if name else None
        if key in FILTER_NAMES and not sign:
            parsed.filters.setdefault(key, []).append(value)
            continue
        if key in DATE_FILTERS and not sign:
            if key == "year":
                start, end = _date_bound(value, False), _date_bound(value, True)
                if start and len(value) == 4:
                    parsed.after, parsed.before = start, end
                    continue
            else:
                bound = _date_bound(value, end=key == "before")
                if bound:
                    if key == "after":
                        parsed.after = bound
                    else:
                        parsed.before = bound
                    continue
        if name:
            # Not a filter we know (``foo:bar``, ``http://…``): search the whole token as text.
            value = f"{name}:{value}"
        if sign:
            parsed.excluded.append(value)
        elif quoted is not None:
            parsed.phrases.append(value)
        elif value.endswith("*") and len(value.rstrip("*")) >= 2:
            parsed.prefixes.append(value.rstrip("*"))
        else:
            parsed.terms.append(value)
    return parsed


def check_query(text: str, limits: QueryLimits) -> ParsedQuery:
    """Parse ``text`` if it is within ``limits``; else raise ``QueryTooLarge`` saying which limit and by how much.

    The length is checked before parsing, so an oversized query costs no more than reading its length."""
    if len(text) > limits.chars:
        raise QueryTooLarge(f"search query too long: {len(text):,} characters, at most {limits.chars:,} "
                            "(setting search_max_chars)", 414)
    parsed = parse_query(text)
    if len(parsed.prefixes) > limits.prefixes:
        raise QueryTooLarge(f"search query has {len(parsed.prefixes):,} prefix* terms, at most {limits.prefixes:,} "
                            "(setting search_max_prefixes)", 400)
    if parsed.parts > limits.terms:
        raise QueryTooLarge(f"search query has {parsed.parts:,} terms, at most {limits.terms:,} "
                            "(setting search_max_terms)", 400)
    return parsed
