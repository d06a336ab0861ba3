"""Topic trends: items per ISO week, from per-day counts. Pure."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Iterable


def week_start(day: str) -> str:
    """Return the Monday (``YYYY-MM-DD``) of the ISO week that ``day`` falls in."""
    moment = date.fromisoformat(day)
    return (moment - timedelta(days=moment.weekday())).isoformat()


def weekly_counts(day_counts: Iterable[tuple[str, int]], weeks: int | None = None) -> list[dict[str, object]]:
    """Return ``[{"week": Monday, "items": n}, …]`` oldest first, with empty weeks filled with 0.

    ``weeks`` keeps only the last so many weeks up to the newest one with items.
    """
    totals: dict[str, int] = {}
    for day, count in day_counts:
        try:
            monday = week_start(day)
        except (TypeError, ValueError):
            continue  # an undated or malformed day has no week
        totals[monday] = totals.get(monday, 0) + count
    if not totals:
        return []
    first, last = date.fromisoformat(min(totals)), date.fromisoformat(max(totals))
    if weeks is not None:
        first = max(first, last - timedelta(weeks=weeks - 1))
    series = []
    moment = first
    while moment <= last:
        key = moment.isoformat()
        series.append({"week": key, "items": totals.get(key, 0)})
        moment += timedelta(weeks=1)
    return series
