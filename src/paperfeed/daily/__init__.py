"""Daily Papers: the papers of a day, week or month ranked by a documented, tunable trending score."""

from .listing import DailyPage, DailyEntry, date_range, daily_page, teaser
from .trending import ScoreBreakdown, TrendingWeights, explain, rank, rank_explained, trending_score

__all__ = ["DailyEntry", "DailyPage", "ScoreBreakdown", "TrendingWeights", "daily_page", "date_range", "explain",
           "rank", "rank_explained", "teaser", "trending_score"]
