"""Sync health: for each source, is it working, what did it bring each day, and why is a day empty?

Answers the question users of every paper feed ask ("no new papers today?") from what the store recorded
(``sync_runs``: each sync's outcome) and what is known of each source's calendar. Pure: the caller passes the
source, its runs and the time; ``paperfeed sources status``, ``/status`` and the digest show the result.

arXiv's calendar: new submissions are announced Sunday to Thursday at 20:00 New York time, which is Monday to
Friday at 00:00 or 01:00 UTC; nothing is announced for Saturdays and Sundays (UTC) nor on arXiv's holidays
(https://info.arxiv.org/help/availability.html; they change every year, so they are a setting, not a table
here). Days are UTC days throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable
from zoneinfo import ZoneInfo

from ..storage import SourceRow, SyncRunRow

NEW_YORK = ZoneInfo("America/New_York")
ANNOUNCEMENT_TIME = time(20, 0)
"""When arXiv announces (New York time), Sunday to Thursday."""
ANNOUNCING_KINDS = frozenset({"arxiv"})
"""Kinds that follow arXiv's announcement calendar (a bulk OAI-PMH harvest does not)."""
STALE_AFTER = timedelta(days=2)
"""A source whose last success is older than this (and that ran since) is reported stale."""


@dataclass(frozen=True, slots=True)
class DayHealth:
    """One UTC day of one source."""

    day: date
    new: int
    """Records new to the store that day."""
    seen: int
    """Records the source gave that the store already had (merged or unchanged)."""
    runs: int
    failed: int
    reason: str | None
    """Why nothing new came, in words; None on a day with new records."""


@dataclass(slots=True)
class SourceHealth:
    """A source's state, its last success and failure, its next run and its recent days (newest first)."""

    name: str
    kind: str
    label: str | None
    state: str
    """``healthy``, ``failing``, ``stale`` or ``never run``."""
    summary: str
    """The state in one sentence."""
    last_success: str | None
    last_error: str | None
    last_error_at: str | None
    failures: int
    next_run: str | None
    """ISO time of the next periodic sync, or None when none is scheduled."""
    next_run_note: str
    days: list[DayHealth] = field(default_factory=list)

    @property
    def failing(self) -> bool:
        return self.state == "failing"


def _parse(moment: str) -> datetime:
    parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def announcement_at(day: date) -> datetime | None:
    """The UTC instant at which arXiv announces the list of UTC ``day`` (None on a Saturday or Sunday).

    The list of Monday (UTC) is announced on Sunday at 20:00 in New York, and so on to Friday's."""
    if day.weekday() >= 5:
        return None
    evening = datetime.combine(day - timedelta(days=1), ANNOUNCEMENT_TIME, tzinfo=NEW_YORK)
    return evening.astimezone(timezone.utc)


def next_announcement(now: datetime, holidays: Iterable[date] = ()) -> datetime:
    """The first arXiv announcement after ``now`` (UTC), skipping weekends and ``holidays``."""
    skip = set(holidays)
    day = now.astimezone(timezone.utc).date()
    for offset in range(0, 30):
        candidate = day + timedelta(days=offset)
        at = announcement_at(candidate)
        if at is not None and at > now and candidate not in skip:
            return at
    raise ValueError("no announcement within 30 days")  # unreachable with fewer than 22 holidays in a row


def _day_reason(source: SourceRow, day: date, runs: list[SyncRunRow], now: datetime, holidays: frozenset[date],
                interval_minutes: float) -> str:
    """Why ``day`` brought nothing new, in words (the day has no new records)."""
    announcing = source.kind in ANNOUNCING_KINDS
    failed = [run for run in runs if not run.ok]
    if failed and not any(run.ok for run in runs):
        return f"the source failed: {failed[-1].error or 'no message'}"
    if announcing and day.weekday() >= 5:
        return "arXiv announces nothing for Saturdays and Sundays (its lists go out Sunday to Thursday, 20:00 New York)"
    if announcing and day in holidays:
        return "an arXiv holiday: arXiv announced nothing that day"
    today = now.date()
    if day == today:
        if announcing and (announcement_at(day) or now) > now:
            return (f"arXiv has not announced today's list yet (it does at "
                    f"{announcement_at(day):%H:%M} UTC)")
        if not runs:
            return "no sync has run yet today" + ("" if interval_minutes else " (no periodic sync is set)")
        if announcing and all(_parse(run.finished_at) < (announcement_at(day) or now) for run in runs):
            return "today's syncs ran before arXiv's announcement"
        if not announcing:
            return "the source has published nothing new for today yet"
    if not runs:
        return "no sync ran that day" + ("" if interval_minutes else " (no periodic sync is set)")
    seen = sum(run.merged + run.unchanged for run in runs)
    if seen:
        return f"the source listed {seen:,} records, all already stored"
    if announcing:
        return "arXiv's list was empty: perhaps a holiday in arXiv's schedule, or its feed lagged"
    return "the source answered, with nothing new"


def source_health(source: SourceRow, runs: list[SyncRunRow], now: datetime, *, interval_minutes: float = 0.0,
                  days: int = 30, holidays: Iterable[date] = ()) -> SourceHealth:
    """The health of ``source`` at ``now`` from its ``runs`` (oldest first, covering at least ``days`` days)."""
    now = now.astimezone(timezone.utc)
    holiday_set = frozenset(holidays)
    by_day: dict[date, list[SyncRunRow]] = {}
    for run in runs:
        by_day.setdefault(_parse(run.finished_at).date(), []).append(run)
    day_list = []
    for offset in range(days):
        day = now.date() - timedelta(days=offset)
        day_runs = by_day.get(day, [])
        new = sum(run.new for run in day_runs)
        day_list.append(DayHealth(
            day=day, new=new, seen=sum(run.merged + run.unchanged for run in day_runs), runs=len(day_runs),
            failed=sum(not run.ok for run in day_runs),
            reason=None if new else _day_reason(source, day, day_runs, now, holiday_set, interval_minutes)))

    if source.last_run_at is None:
        state, summary = "never run", "never synced: run `paperfeed sync` (or set PAPERFEED_SYNC_INTERVAL for serve)"
    elif source.failures:
        since = source.last_ok_at or "it was added"
        state = "failing"
        summary = (f"failing: the last {source.failures} sync{'s' if source.failures > 1 else ''} failed "
                   f"(last success: {since}): {source.last_error}")
    elif source.last_ok_at and now - _parse(source.last_ok_at) > STALE_AFTER:
        state, summary = "stale", f"no sync since {source.last_ok_at}"
    else:
        state, summary = "healthy", f"last synced {source.last_ok_at}"

    if interval_minutes > 0:
        base = _parse(source.last_run_at) if source.last_run_at else now
        due = max(base + timedelta(minutes=interval_minutes), now)
        next_run = due.isoformat(timespec="seconds")
        note = f"every {interval_minutes:g} minutes with `paperfeed serve`; next at {next_run}"
    else:
        next_run, note = None, "no periodic sync (PAPERFEED_SYNC_INTERVAL is 0): run `paperfeed sync`"
    if source.kind in ANNOUNCING_KINDS:
        note += f"; arXiv's next announcement: {next_announcement(now, holiday_set).isoformat(timespec='minutes')}"
    return SourceHealth(name=source.name, kind=source.kind, label=source.label, state=state, summary=summary,
                        last_success=source.last_ok_at, last_error=source.last_error,
                        last_error_at=source.last_error_at, failures=source.failures, next_run=next_run,
                        next_run_note=note, days=day_list)


def store_health(store, settings, now: datetime | None = None, days: int = 30) -> list[SourceHealth]:
    """The health of every source of ``store``, with ``settings``' sync interval and arXiv holidays."""
    now = now or datetime.now(timezone.utc)
    since = (now - timedelta(days=days + 1)).astimezone(timezone.utc).isoformat(timespec="seconds")
    holidays = parse_holidays(getattr(settings, "arxiv_holidays", ""))
    return [source_health(source, store.sync_runs(source.name, since), now,
                          interval_minutes=getattr(settings, "sync_interval", 0.0) or 0.0, days=days,
                          holidays=holidays)
            for source in store.sources()]


def parse_holidays(text: str) -> frozenset[date]:
    """``2026-12-25,2027-01-01`` -> dates; raises ValueError naming a value that is not a date."""
    days = set()
    for part in (text or "").replace(" ", "").split(","):
        if part:
            try:
                days.add(date.fromisoformat(part))
            except ValueError:
                raise ValueError(f"PAPERFEED_ARXIV_HOLIDAYS: {part!r} is not a date (YYYY-MM-DD)") from None
    return frozenset(days)
