"""The trending score: pure functions of an item's signals, no storage.

    signal = w_hf * ln(1 + hf_upvotes) + w_local * ln(1 + local_upvotes)
             + w_source * max(0, sources - 1) + w_submission * submitted
    score  = (1 + signal) * 0.5 ** (age_days / half_life)

``hf_upvotes`` are Hugging Face's, ``local_upvotes`` this store's users' (kept apart in the data and
weighted apart here); ``sources`` counts the independent sources that carried the item (distinct source
labels: an arXiv listing, Hugging Face daily papers, a news feed, a topic page; a user's BibTeX is not a
source); ``submitted`` is 1 when a user put the paper on a day's list. Upvotes enter through a logarithm
so that one viral paper does not flatten the rest of the page: 10 -> 100 upvotes counts as much as
1 -> 10 (roughly). The 1 + keeps items with no signal yet in the ranking, in recency order.

``age_days`` is the number of days from the item's first calendar day (its earliest date from any
source: announced, picked, published or submitted) to its latest calendar day inside the range shown.
So an item on the day it first appears has age 0, and a paper that resurfaces long after it first
appeared (a cross-list, a replacement) decays; within a week or month, items are judged on their own
day, not against the range's end. ``half_life`` 0 turns decay off.

One exception: a paper in the range as a Hugging Face pick counts its age from its first pick, not
from its arXiv announcement. Hugging Face often picks a paper a week after arXiv announced it, and its
upvotes are gathered from the pick on: decaying them from the announcement put a 37-upvote pick of
the day below papers with 2 upvotes (a factor 0.2 for seven days), which nothing on the page explained.
A paper picked again later still decays from its first pick.

``explain`` returns every term of the score (``ScoreBreakdown``); ``trending_score`` and ``rank`` use it,
so the "why here" shown on the page is the computation that ranked the page, not a re-derivation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..storage import DailySignals


@dataclass(frozen=True, slots=True)
class TrendingWeights:
    """The tunable constants of the score (settings ``trending_*``)."""

    hf: float = 1.0
    local: float = 1.0
    source: float = 0.5
    submission: float = 0.5
    half_life: float = 3.0

    @classmethod
    def from_settings(cls, settings) -> "TrendingWeights":
        """Read the weights from ``Settings``."""
        return cls(settings.trending_hf_weight, settings.trending_local_weight, settings.trending_source_weight,
                   settings.trending_submission_weight, settings.trending_half_life)


def age_start(signals: DailySignals) -> tuple[str, str]:
    """The day the item's age counts from, and why: its first Hugging Face pick when it is in the range as
    a pick, else its first calendar day."""
    if "picked" in signals.date_kinds and signals.first_picked:
        return signals.first_picked, "picked"
    return signals.first_day, "first"


def age_days(signals: DailySignals) -> int:
    """Return the days from the day the item's age counts from (``age_start``) to its latest day in the range
    (never negative)."""
    start = age_start(signals)[0]
    last = signals.days[-1] if signals.days else start
    return max(0, (date.fromisoformat(last) - date.fromisoformat(start)).days)


@dataclass(frozen=True, slots=True)
class ScoreTerm:
    """One weighted signal of the score: what was counted, its weight and what it added."""

    name: str
    count: int
    weight: float
    points: float

    def describe(self) -> str:
        """The count in words: ``37 Hugging Face upvotes``, ``1 more source``, ``submitted by a user``."""
        if self.name == "submission":
            return "submitted by a user"
        name = self.name if self.count != 1 else self.name.replace("upvotes", "upvote").replace("sources", "source")
        return f"{self.count} {name}"


@dataclass(frozen=True, slots=True)
class ScoreBreakdown:
    """Every part of one item's trending score: ``score = (1 + sum(points)) * decay``."""

    terms: tuple[ScoreTerm, ...]
    age_days: int
    age_from: str
    age_reason: str
    """``picked`` (counted from the first Hugging Face pick) or ``first`` (from the first calendar day)."""
    first_day: str
    half_life: float
    decay: float
    score: float

    @property
    def signal(self) -> float:
        return sum(term.points for term in self.terms)

    def to_dict(self) -> dict[str, Any]:
        return {"score": round(self.score, 6), "base": 1.0, "signal": round(self.signal, 6),
                "terms": [{"name": t.name, "count": t.count, "weight": t.weight, "points": round(t.points, 6),
                           "text": t.describe()}
                          for t in self.terms],
                "age_days": self.age_days, "age_from": self.age_from, "age_reason": self.age_reason,
                "first_day": self.first_day, "half_life": self.half_life, "decay": round(self.decay, 6),
                "age_note": self.age_note(), "summary": self.summary()}

    def age_note(self) -> str:
        """Why the score is or is not decayed, in words ("" for an item on its first day)."""
        days = f"{self.age_days} day{'s' if self.age_days != 1 else ''}"
        if self.age_reason == "picked" and self.age_from != self.first_day:
            return (f"First seen {self.first_day}, picked by Hugging Face on {self.age_from}: its age counts from "
                    f"the pick ({days}), since its upvotes were gathered from then")
        if self.age_days and self.half_life > 0:
            return (f"{days} since it first appeared on {self.age_from}: the score halves every "
                    f"{self.half_life:g} days (× {self.decay:.2f})")
        return ""

    def summary(self) -> str:
        """The breakdown in one sentence of words."""
        parts = [f"{t.describe()} (+{t.points:.2f})" for t in self.terms if t.points]
        text = "Score {:.2f} = (1 + {:.2f}{}){}".format(
            self.score, self.signal, ": " + ", ".join(parts) if parts else ": no upvotes or other signal yet",
            "" if self.decay == 1.0 else f" × {self.decay:.2f}")
        note = self.age_note()
        return f"{text}. {note}." if note else f"{text}."


def explain(signals: DailySignals, weights: TrendingWeights = TrendingWeights()) -> ScoreBreakdown:
    """Score one item by the formula in this module's docstring, keeping every term."""
    terms = (
        ScoreTerm("Hugging Face upvotes", max(0, signals.hf_upvotes), weights.hf,
                  weights.hf * math.log1p(max(0, signals.hf_upvotes))),
        ScoreTerm("local upvotes", max(0, signals.local_upvotes), weights.local,
                  weights.local * math.log1p(max(0, signals.local_upvotes))),
        ScoreTerm("more sources", max(0, signals.sources - 1), weights.source,
                  weights.source * max(0, signals.sources - 1)),
        ScoreTerm("submission", 1 if signals.submitted else 0, weights.submission,
                  weights.submission * (1 if signals.submitted else 0)),
    )
    age = age_days(signals)
    age_from, reason = age_start(signals)
    decay = 0.5 ** (age / weights.half_life) if weights.half_life > 0 else 1.0
    score = (1.0 + sum(term.points for term in terms)) * decay
    return ScoreBreakdown(terms, age, age_from, reason, signals.first_day, weights.half_life, decay, score)


def trending_score(signals: DailySignals, weights: TrendingWeights = TrendingWeights()) -> float:
    """Score one item by the formula in this module's docstring."""
    return explain(signals, weights).score


def rank_explained(candidates: list[DailySignals],
                   weights: TrendingWeights = TrendingWeights()) -> list[tuple[DailySignals, ScoreBreakdown]]:
    """Order items by score with each one's breakdown; ties go to the better place on a captured page (a
    capture's order is its ranking), then to more sources, then the newer item (higher id)."""
    scored = [(signals, explain(signals, weights)) for signals in candidates]
    scored.sort(key=lambda pair: (-pair[1].score, pair[0].page_rank if pair[0].page_rank is not None else math.inf,
                                  -pair[0].sources, -pair[0].item_id))
    return scored


def rank(candidates: list[DailySignals], weights: TrendingWeights = TrendingWeights()) -> list[tuple[DailySignals, float]]:
    """Order items by score; ties go to the better place on a captured page (a capture's order is its
    ranking), then to more sources, then the newer item (higher id)."""
    return [(signals, breakdown.score) for signals, breakdown in rank_explained(candidates, weights)]
