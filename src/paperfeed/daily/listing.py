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
from ..sources.labels import source_labels
from .trending import ScoreBreakdown, TrendingWeights, age_days, rank_explained

SPANS = ("day", "week", "month")


TEASER_CHARS = 300
"""Longest abstract teaser on a card (about three lines at desktop width; the page clamps to three)."""

CARD_FIELDS = ("organization", "submitted_by", "github_repo", "github_stars", "ai_keywords", "num_comments",
               "project_page")
"""The Hugging Face fields a card shows (``sources.hf_daily`` stores them in each record's ``extra``)."""


def teaser(abstract: str | None, limit: int = TEASER_CHARS) -> str:
    """The start of an abstract: whole sentences when they fit in ``limit`` characters, else whole words and "…"."""
    text = " ".join((abstract or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    sentence_end = max(cut.rfind(". "), cut.rfind("? "), cut.rfind("! "))
    if sentence_end >= limit // 2:
        return cut[:sentence_end + 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > 0 else cut).rstrip(" ,;:") + "…"


def card_extras(sources: list[dict[str, Any]]) -> dict[str, Any]:
    """The card's Hugging Face fields from an item's source records (the latest record that has each wins)."""
    merged: dict[str, Any] = {}
    for source in sources:
        extra = source.get("extra") or {}
        for name in CARD_FIELDS:
            if extra.get(name) not in (None, "", []):
                merged[name] = extra[name]
    return merged


@dataclass(slots=True)
class DailyEntry:
    """One ranked paper of a page: the card's view model."""

    rank: int
    score: float
    signals: DailySignals
    title: str
    authors: list[str]
    arxiv_id: str | None
    url: str | None
    sources: list[str] = field(default_factory=list)
    """Source labels in words (``sources.labels``), never format names."""
    breakdown: ScoreBreakdown | None = None
    """The terms of ``score``, from the very computation that ranked the page."""
    teaser: str = ""
    """Two or three lines about the paper: the start of its abstract (a TL;DR may take its place)."""
    doi: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    """Hugging Face's fields: organization, submitted_by, github_repo, github_stars, ai_keywords, num_comments."""
    records: list[dict[str, Any]] = field(default_factory=list)
    """The item's source records (format, label, url, extra): what the links are made of."""
    tldr: str | None = None
    """Its one-line TL;DR (``summaries``), when one is current; the card shows it in place of the teaser."""
    comments: int = 0
    """Comments on the paper here (its discussion thread; hidden and deleted ones not counted)."""

    def to_dict(self) -> dict[str, Any]:
        s, x = self.signals, self.extras
        return {"rank": self.rank, "id": s.item_id, "score": round(self.score, 6), "title": self.title,
                "authors": self.authors, "arxiv_id": self.arxiv_id, "doi": self.doi, "url": self.url,
                "sources": self.sources, "teaser": self.teaser,
                "hf_upvotes": s.hf_upvotes, "local_upvotes": s.local_upvotes, "submitted": s.submitted,
                "source_count": s.sources, "first_day": s.first_day, "days": s.days, "dates": s.date_kinds,
                "age_days": self.breakdown.age_days if self.breakdown else age_days(s),
                "organization": x.get("organization"), "submitted_by": x.get("submitted_by"),
                "github_repo": x.get("github_repo"), "github_stars": x.get("github_stars"),
                "keywords": list(x.get("ai_keywords") or []), "hf_comments": x.get("num_comments"),
                "project_page": x.get("project_page"), "comments": self.comments, "tldr": self.tldr,
                "why": self.breakdown.to_dict() if self.breakdown else None}


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
    ranked = rank_explained(store.daily_signals(start.isoformat(), end.isoformat()), weights)
    window = ranked[offset:offset + limit if limit else None]
    ids = [signals.item_id for signals, _ in window]
    documents, details = store.item_documents(ids), store.item_source_details(ids)
    comments, tldrs = store.comment_counts(ids), store.tldrs(ids)
    entries = []
    for position, (signals, breakdown) in enumerate(window, start=offset + 1):
        document, detail = documents.get(signals.item_id), details.get(signals.item_id)
        if document is None or detail is None:  # deleted between the reads
            continue
        records = detail["sources"]
        entries.append(DailyEntry(
            position, breakdown.score, signals, document.title, document.authors, document.arxiv_id, document.url,
            sources=source_labels([(r["format"], r["label"]) for r in records]), breakdown=breakdown,
            teaser=teaser(document.abstract), doi=detail["doi"], extras=card_extras(records), records=records,
            comments=comments.get(signals.item_id, 0), tldr=tldrs.get(signals.item_id)))
    previous, following = store.daily_neighbours(start.isoformat())
    if span != "day":
        following = store.daily_neighbours(end.isoformat())[1]
    return DailyPage(span, start.isoformat(), end.isoformat(), entries, len(ranked), previous, following)
