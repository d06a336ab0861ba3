"""Daily Papers: the papers of a day, week or month ranked by a documented, tunable trending score."""

from .listing import DailyPage, DailyEntry, date_range, daily_page
from .trending import TrendingWeights, trending_score, rank

__all__ = ["DailyEntry", "DailyPage", "TrendingWeights", "daily_page", "date_range", "rank", "trending_score"]
