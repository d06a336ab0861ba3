"""``paperfeed digest``: daily digests by e-mail (subscribe, confirm, unsubscribe, send, preview)."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from .common import DAY, embedder_of, fail, latest_day, open_store, store_errors, today


@click.group()
def digest() -> None:
    """Daily digests by e-mail: subscribe, confirm, send, preview, unsubscribe."""


def _digest_errors(call):
    from ..digest import DigestError

    try:
        return call()
    except DigestError as error:
        fail(str(error))


@digest.command("subscribe")
@click.argument("email")
@click.option("--user", "user_email", metavar="EMAIL", help="Link to an account: its tags add recommendations.")
@click.option("--weekly", is_flag=True, help="One digest a week (`digest send --week`) instead of one a day.")
@click.pass_context
@store_errors
def digest_subscribe(ctx: click.Context, email: str, user_email: str | None, weekly: bool) -> None:
    """Subscribe an address: a confirmation link is mailed to it (double opt-in)."""
    from ..digest import subscribe

    frequency = "weekly" if weekly else "daily"
    with open_store(ctx) as store:
        subscriber = _digest_errors(lambda: subscribe(store, ctx.obj, email, user_email, frequency=frequency))
    click.echo(f"{subscriber.email}: " + ("already subscribed" if subscriber.status == "active"
                                         else "confirmation link sent"))


@digest.command("confirm")
@click.argument("token")
@click.pass_context
@store_errors
def digest_confirm(ctx: click.Context, token: str) -> None:
    """Confirm a subscription with the token of its confirmation link."""
    from ..digest import confirm

    with open_store(ctx) as store:
        subscriber = _digest_errors(lambda: confirm(store, ctx.obj, token))
    click.echo(f"{subscriber.email}: subscribed")


@digest.command("unsubscribe")
@click.argument("token")
@click.pass_context
@store_errors
def digest_unsubscribe(ctx: click.Context, token: str) -> None:
    """Unsubscribe with the token of an unsubscribe link."""
    from ..digest import unsubscribe

    with open_store(ctx) as store:
        subscriber = _digest_errors(lambda: unsubscribe(store, ctx.obj, token))
    click.echo(f"{subscriber.email}: unsubscribed")


@digest.command("send")
@click.option("--date", "day", type=DAY, help="The digest's day (default: today, UTC).")
@click.option("--week", is_flag=True, help="The weekly digest of the ISO week holding the day, to weekly subscribers.")
@click.pass_context
@store_errors
def digest_send(ctx: click.Context, day: date | None, week: bool) -> None:
    """Mail a day's digest to every confirmed daily subscriber who has not had it, or with --week the week's to
    every weekly one (safe to rerun)."""
    from ..digest import send_digests

    day = day or today()
    with open_store(ctx) as store:
        embedder = embedder_of(ctx.obj) if any(s.user_id for s in store.subscribers("active")) else None
        report = _digest_errors(lambda: send_digests(store, ctx.obj, day, embedder, span="week" if week else "day"))
    for line in report.failing_sources:
        click.echo(f"warning: {line}", err=True)
    if report.nothing_new:
        click.echo(f"{report.day}: no papers, no mail sent"
                   + (" (a source is failing: see `paperfeed sources status`)" if report.failing_sources else ""))
        return
    click.echo(f"{report.day}: {report.papers} papers; sent {len(report.sent)}, already sent {len(report.skipped)}, "
               f"in doubt {len(report.in_doubt)}, refused {len(report.refused)}")
    for email in report.in_doubt:
        click.echo(f"in doubt (a crashed run was sending it; not resent): {email}", err=True)
    for line in report.refused:
        click.echo(f"refused: {line}", err=True)
    if report.refused:
        sys.exit(1)


@digest.command("preview")
@click.option("--date", "day", type=DAY, help="The digest's day (default: the latest day with papers).")
@click.option("--to", "email", metavar="EMAIL", help="Render it as this subscriber gets it.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=Path("digest.html"),
              show_default=True)
@click.pass_context
@store_errors
def digest_preview(ctx: click.Context, day: date | None, email: str | None, output: Path) -> None:
    """Write a day's digest HTML to a file."""
    from ..digest import preview

    with open_store(ctx) as store:
        if day is None:
            day = latest_day(store)
        embedder = embedder_of(ctx.obj) if email else None
        html = _digest_errors(lambda: preview(store, ctx.obj, day, email, embedder))
    try:
        output.write_text(html, encoding="utf-8")
    except OSError as error:
        fail(f"cannot write {output}: {error.strerror or error}")
    click.echo(f"wrote {output}")
