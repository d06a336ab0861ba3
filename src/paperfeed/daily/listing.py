"""The Daily Papers page of a day, an ISO week or a calendar month, read through the store.

Dates are UTC calendar days. An item belongs to every day it has a calendar date on: the day Hugging
Face picked it (``picked``), the day an arXiv listing announced it (``announced``), the day a user
submitted it here (``submitted``), or, from any other source, the source's own date (``published``: the
arXiv v1 submission date for the API and OAI-PMH, the pubDate of a feed). Only papers are listed.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from ..storage import DailySignals, Store
from .trending import TrendingWeights, age_days, rank

SPANS = ("day", "week", "month")


@dataclass(slots=True)
class DailyEntry:
    """One ranked paper of a page."""

    rank: int
    score: float
    signals: DailySignals
    title: str
    authors: list[str]
    arxiv_id: str | None
    url: str | None
    sources: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        s = self.signals
        return {"rank": self.rank, "id": s.item_id, "score": round(self.score, 6), "title": self.title,
                "authors": self.authors, "arxiv_id": self.arxiv_id, "url": self.url, "sources": self.sources,
                "hf_upvotes": s.hf_upvotes, "local_upvotes": s.local_upvotes, "submitted": s.submitted,
                "source_count": s.sources, "first_day": s.first_day, "days": s.days, "dates": s.date_kinds,
                "age_days": age_days(s)}


@dataclass(slots=True)
class DailyPage:
    span: str
    start: str
    end: str
    entries: list[DailyEntry]
    total: int
    previous: str | None = None
    """The nearest earlier day with papers (for date navigation)."""
    next: str | None = None

    @property
    def empty_reason(self) -> str:
        """Why a day has no papers, in words (weekends say so, not "error")."""
        if self.entries:
            return ""
        if self.span != "day":
            return f"no papers from {self.start} to {self.end}"
        weekday = date.fromisoformat(self.start).strftime("%A")
        if weekday in ("Saturday", "Sunday"):
            return f"no papers on {self.start}, a {weekday}: arXiv announces none on weekends"
        return f"no papers on {self.start} ({weekday}: a holiday, or not synced yet)"

    def to_dict(self) -> dict[str, Any]:
        return {"span": self.span, "start": self.start, "end": self.end, "total": self.total,
                "previous": self.previous, "next": self.next, "note": self.empty_reason,
                "entries": [entry.to_dict() for entry in self.entries]}


def date_range(day: date, span: str) -> tuple[date, date]:
    """Return the first and last day of the day, ISO week (Monday..Sunday) or calendar month holding ``day``."""
    if span == "day":
        return day, day
    if span == "week":
        start = day - timedelta(days=day.weekday())
        # The calendar's last week is cut short: 9999-12-31 is a Friday (date.min, 0001-01-01, is a Monday).
        return start, (start + timedelta(days=6) if start < date.max - timedelta(days=6) else date.max)
    if span == "month":
        return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])
    raise ValueError(f"unknown span {span!r}: choose one of {', '.join(SPANS)}")


def daily_page(store: Store, day: date, span: str = "day", weights: TrendingWeights = TrendingWeights(),
               limit: int | None = 50, offset: int = 0) -> DailyPage:
    """Rank the papers of the day, week or month holding ``day`` by trending score."""
    start, end = date_range(day, span)
    ranked = rank(store.daily_signals(start.isoformat(), end.isoformat()), weights)
    window = ranked[offset:offset + limit if limit else None]
    documents = store.item_documents([signals.item_id for signals, _ in window])
    entries = []
    for position, (signals, score) in enumerate(window, start=offset + 1):
        document = documents.get(signals.item_id)
        if document is None:  # deleted between the two reads
            continue
        entries.append(DailyEntry(position, score, signals, document.title, document.authors, document.arxiv_id,
                                  document.url, document.sources))
    previous, following = store.daily_neighbours(start.isoformat())
    if span != "day":
        following = store.daily_neighbours(end.isoformat())[1]
    return DailyPage(span, start.isoformat(), end.isoformat(), entries, len(ranked), previous, following)
