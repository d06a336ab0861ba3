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
appeared (a cross-list, a replacement, a late pick) decays; within a week or month, items are judged
on their own day, not against the range's end. ``half_life`` 0 turns decay off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

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


def age_days(signals: DailySignals) -> int:
    """Return the days from the item's first calendar day to its latest day in the range (never negative)."""
    last = signals.days[-1] if signals.days else signals.first_day
    return max(0, (date.fromisoformat(last) - date.fromisoformat(signals.first_day)).days)


def trending_score(signals: DailySignals, weights: TrendingWeights = TrendingWeights()) -> float:
    """Score one item by the formula in this module's docstring."""
    signal = (weights.hf * math.log1p(max(0, signals.hf_upvotes))
              + weights.local * math.log1p(max(0, signals.local_upvotes))
              + weights.source * max(0, signals.sources - 1)
              + weights.submission * (1 if signals.submitted else 0))
    decay = 0.5 ** (age_days(signals) / weights.half_life) if weights.half_life > 0 else 1.0
    return (1.0 + signal) * decay


def rank(candidates: list[DailySignals], weights: TrendingWeights = TrendingWeights()) -> list[tuple[DailySignals, float]]:
    """Order items by score; ties go to the better place on a captured page (a capture's order is its
    ranking), then to more sources, then the newer item (higher id)."""
    scored = [(signals, trending_score(signals, weights)) for signals in candidates]
    scored.sort(key=lambda pair: (-pair[1], pair[0].page_rank if pair[0].page_rank is not None else math.inf,
                                  -pair[0].sources, -pair[0].item_id))
    return scored
