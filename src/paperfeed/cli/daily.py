"""``paperfeed daily``, ``vote`` and ``submit``: Daily Papers, its local upvotes and submissions to a day's list."""

from __future__ import annotations

from datetime import date

import click

from .common import (DAY, USER, echo_after_ingest, echo_json_indented, fail, latest_day, open_store, store_errors,
                     today, user_of)


@click.command()
@click.option("--date", "day", type=DAY, help="A day (default: the latest day with papers).")
@click.option("--week", "span", flag_value="week", help="The ISO week (Monday to Sunday) holding the day.")
@click.option("--month", "span", flag_value="month", help="The calendar month holding the day.")
@click.option("--limit", type=click.IntRange(1, 10000), default=30, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the page as JSON.")
@click.pass_context
@store_errors
def daily(ctx: click.Context, day: date | None, span: str | None, limit: int, as_json: bool) -> None:
    """Daily Papers: the papers of a day (week, month) ranked by trending score."""
    from ..daily import TrendingWeights, daily_page

    with open_store(ctx) as store:
        if day is None:
            day = latest_day(store)
        page = daily_page(store, day, span or "day", TrendingWeights.from_settings(ctx.obj), limit=limit)
    if as_json:
        echo_json_indented(page.to_dict())
        return
    label = page.start if page.span == "day" else f"{page.start} .. {page.end}"
    click.echo(f"Daily Papers {label}: {page.total} papers" + (f" ({page.empty_reason})" if not page.entries else ""))
    for entry in page.entries:
        s = entry.signals
        reference = f"arXiv:{entry.arxiv_id}" if entry.arxiv_id else f"item {s.item_id}"
        votes = f"▲{s.hf_upvotes} HF" + (f" +{s.local_upvotes} here" if s.local_upvotes else "")
        click.echo(f"{entry.rank:3}. {entry.title}")
        click.echo(f"     {reference} · {votes} · {s.sources} source{'s' if s.sources != 1 else ''} · "
                   f"{'/'.join(s.date_kinds)} · score {entry.score:.3f}")
    navigation = [f"previous: {page.previous}" if page.previous else "", f"next: {page.next}" if page.next else ""]
    if any(navigation):
        click.echo("  ".join(part for part in navigation if part))


@click.command()
@click.argument("reference")
@USER
@click.option("--undo", is_flag=True, help="Withdraw the upvote.")
@click.pass_context
@store_errors
def vote(ctx: click.Context, reference: str, user_email: str, undo: bool) -> None:
    """Upvote a paper (one vote per user; --undo withdraws it)."""
    from ..library import CommunityError
    from ..library import vote as cast

    with open_store(ctx) as store:
        try:
            item_id, changed = cast(store, user_of(store, user_email).id, reference, up=not undo)
        except CommunityError as error:
            fail(str(error))
        count = store.local_upvotes([item_id]).get(item_id, 0)
    state = ("withdrawn" if undo else "counted") if changed else ("not there" if undo else "already counted")
    click.echo(f"item {item_id}: vote {state}; {count} local upvote{'s' if count != 1 else ''}")


@click.command()
@click.argument("reference")
@USER
@click.option("--date", "day", type=DAY, help="The day's list (default: today, UTC).")
@click.option("--no-fetch", is_flag=True, help="Only papers already in the store (do not ask arXiv).")
@click.pass_context
@store_errors
def submit(ctx: click.Context, reference: str, user_email: str, day: date | None, no_fetch: bool) -> None:
    """Submit a paper to a day's list by arXiv id or URL (fetched from arXiv if the store lacks it)."""
    from ..library import CommunityError, submit_paper

    stored = []
    with open_store(ctx) as store:
        try:
            item_id, new = submit_paper(store, user_of(store, user_email).id, reference, day or today(),
                                        None if no_fetch else ctx.obj, on_stored=stored.append)
        except CommunityError as error:
            fail(str(error))
    click.echo(f"item {item_id} {'submitted to' if new else 'was already on'} {(day or today()).isoformat()}")
    for report in stored:
        echo_after_ingest(report)
