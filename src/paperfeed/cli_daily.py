"""``paperfeed daily``, ``users``, ``library``, ``vote``, ``submit``, ``recommend`` and ``digest``."""

from __future__ import annotations

import sys
from datetime import date, datetime, timezone
from pathlib import Path

import click
import orjson

from .cli import _fail, _open, _store_errors


class _Day(click.ParamType):
    """A ``YYYY-MM-DD`` option value, refused with click's usage error (exit 2) when malformed."""

    name = "YYYY-MM-DD"

    def convert(self, value, param, ctx):
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not a date like 2026-02-27", param, ctx)


DAY = _Day()


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _user(store, email: str):
    from .library import AccountError, Accounts

    try:
        return Accounts(store).user(email)
    except AccountError as error:
        _fail(str(error))


def _embedder(settings):
    from .search import EmbedderError, load_embedder

    if settings.embedder == "none":
        return None
    try:
        return load_embedder(settings.embedder, settings.embed_device or None)
    except EmbedderError as error:
        _fail(str(error))


def _echo_json(value) -> None:
    sys.stdout.buffer.write(orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n")


# -- daily ----------------------------------------------------------------------------------------

@click.command()
@click.option("--date", "day", type=DAY, help="A day (default: the latest day with papers).")
@click.option("--week", "span", flag_value="week", help="The ISO week (Monday to Sunday) holding the day.")
@click.option("--month", "span", flag_value="month", help="The calendar month holding the day.")
@click.option("--limit", type=click.IntRange(1, 10000), default=30, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the page as JSON.")
@click.pass_context
@_store_errors
def daily(ctx: click.Context, day: date | None, span: str | None, limit: int, as_json: bool) -> None:
    """Daily Papers: the papers of a day (week, month) ranked by trending score."""
    from .daily import TrendingWeights, daily_page

    with _open(ctx) as store:
        if day is None:
            latest = store.latest_daily_day(_today().isoformat())
            day = date.fromisoformat(latest) if latest else _today()
        page = daily_page(store, day, span or "day", TrendingWeights.from_settings(ctx.obj), limit=limit)
    if as_json:
        _echo_json(page.to_dict())
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


# -- users ----------------------------------------------------------------------------------------

@click.group()
def users() -> None:
    """Accounts: add users, sign in (prints a session token), sign out."""


def _password(password_stdin: bool, confirm: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=confirm)


@users.command("add")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_context
@_store_errors
def users_add(ctx: click.Context, email: str, password_stdin: bool) -> None:
    """Create an account (the password is hashed with Argon2id)."""
    from .library import AccountError, Accounts

    password = _password(password_stdin, confirm=True)
    with _open(ctx) as store:
        try:
            user_id = Accounts(store).create(email, password)
        except AccountError as error:
            _fail(str(error))
    click.echo(f"user {user_id}: {email.strip()}")


@users.command("login")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_context
@_store_errors
def users_login(ctx: click.Context, email: str, password_stdin: bool) -> None:
    """Check a password and print a new session token."""
    from .library import AccountError, Accounts

    password = _password(password_stdin, confirm=False)
    with _open(ctx) as store:
        try:
            click.echo(Accounts(store, ctx.obj.session_days).sign_in(email, password))
        except AccountError as error:
            _fail(str(error))


@users.command("logout")
@click.argument("token")
@click.pass_context
@_store_errors
def users_logout(ctx: click.Context, token: str) -> None:
    """End the session of a token."""
    from .library import Accounts

    with _open(ctx) as store:
        if not Accounts(store).sign_out(token):
            _fail("no such session")
    click.echo("signed out")


# -- library, votes, submissions -----------------------------------------------------------------

@click.group()
def library() -> None:
    """A user's library: save with tags, mark not relevant, import BibTeX, show."""


_USER = click.option("--user", "user_email", required=True, metavar="EMAIL", help="The account acted for.")


@library.command("save")
@click.argument("reference")
@_USER
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.pass_context
@_store_errors
def library_save(ctx: click.Context, reference: str, user_email: str, tags: tuple[str, ...]) -> None:
    """Save a paper (item id, arXiv id or URL, DOI) with tags."""
    from .library import LibraryError, save_item

    with _open(ctx) as store:
        try:
            item_id = save_item(store, _user(store, user_email).id, reference, list(tags))
        except LibraryError as error:
            _fail(str(error))
    click.echo(f"saved item {item_id}" + (f" with tags {', '.join(tags)}" if tags else ""))


@library.command("not-relevant")
@click.argument("reference")
@_USER
@click.pass_context
@_store_errors
def library_not_relevant(ctx: click.Context, reference: str, user_email: str) -> None:
    """Mark a paper not relevant (a negative for recommendations)."""
    from .library import LibraryError, mark_not_relevant

    with _open(ctx) as store:
        try:
            item_id = mark_not_relevant(store, _user(store, user_email).id, reference)
        except LibraryError as error:
            _fail(str(error))
    click.echo(f"item {item_id} marked not relevant")


@library.command("remove")
@click.argument("reference")
@_USER
@click.pass_context
@_store_errors
def library_remove(ctx: click.Context, reference: str, user_email: str) -> None:
    """Take a paper out of the library."""
    from .library import LibraryError, remove_item

    with _open(ctx) as store:
        try:
            item_id = remove_item(store, _user(store, user_email).id, reference)
        except LibraryError as error:
            _fail(str(error))
    click.echo(f"item {item_id} removed")


@library.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@_USER
@click.option("--tag", "tags", multiple=True, help="A tag for every entry (repeatable); entries' keywords add theirs.")
@click.pass_context
@_store_errors
def library_import(ctx: click.Context, path: Path, user_email: str, tags: tuple[str, ...]) -> None:
    """Import a BibTeX file: entries matched to stored items, unknown ones ingested, all saved."""
    from .library import LibraryError, import_bibtex

    with _open(ctx) as store:
        try:
            report = import_bibtex(store, _user(store, user_email).id, path, list(tags))
        except LibraryError as error:
            _fail(str(error))
    click.echo(f"{path}: {report.entries} entries, {report.matched} matched to stored items, "
               f"{report.ingested} new items; tags: "
               + (", ".join(f"{tag} ({count})" for tag, count in sorted(report.tagged.items())) or "none"))


@library.command("show")
@_USER
@click.option("--tag", help="Only this tag's papers.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@_store_errors
def library_show(ctx: click.Context, user_email: str, tag: str | None, as_json: bool) -> None:
    """List a user's library and tags."""
    with _open(ctx) as store:
        user = _user(store, user_email)
        entries = store.library_entries(user.id, tag=tag)
        documents = store.item_documents([e.item_id for e in entries])
        tags = store.library_tags(user.id)
    rows = [{"id": e.item_id, "state": e.state, "tags": e.tags, "added_at": e.added_at,
             "title": documents[e.item_id].title if e.item_id in documents else None} for e in entries]
    if as_json:
        _echo_json({"tags": tags, "items": rows})
        return
    click.echo("tags: " + (", ".join(f"{name} ({count})" for name, count in tags.items()) or "none"))
    for row in rows:
        marker = "x" if row["state"] == "not_relevant" else "*"
        click.echo(f"{marker} {row['id']:>7}  {row['title']}" + (f"  [{', '.join(row['tags'])}]" if row["tags"] else ""))


@click.command()
@click.argument("reference")
@_USER
@click.option("--undo", is_flag=True, help="Withdraw the upvote.")
@click.pass_context
@_store_errors
def vote(ctx: click.Context, reference: str, user_email: str, undo: bool) -> None:
    """Upvote a paper (one vote per user; --undo withdraws it)."""
    from .library import CommunityError
    from .library import vote as cast

    with _open(ctx) as store:
        try:
            item_id, changed = cast(store, _user(store, user_email).id, reference, up=not undo)
        except CommunityError as error:
            _fail(str(error))
        count = store.local_upvotes([item_id]).get(item_id, 0)
    state = ("withdrawn" if undo else "counted") if changed else ("not there" if undo else "already counted")
    click.echo(f"item {item_id}: vote {state}; {count} local upvote{'s' if count != 1 else ''}")


@click.command()
@click.argument("reference")
@_USER
@click.option("--date", "day", type=DAY, help="The day's list (default: today, UTC).")
@click.option("--no-fetch", is_flag=True, help="Only papers already in the store (do not ask arXiv).")
@click.pass_context
@_store_errors
def submit(ctx: click.Context, reference: str, user_email: str, day: date | None, no_fetch: bool) -> None:
    """Submit a paper to a day's list by arXiv id or URL (fetched from arXiv if the store lacks it)."""
    from .library import CommunityError, submit_paper

    with _open(ctx) as store:
        try:
            item_id, new = submit_paper(store, _user(store, user_email).id, reference, day or _today(),
                                        None if no_fetch else ctx.obj)
        except CommunityError as error:
            _fail(str(error))
    click.echo(f"item {item_id} {'submitted to' if new else 'was already on'} {(day or _today()).isoformat()}")


@click.command()
@_USER
@click.option("--tag", help="Only this tag (default: every tag of the user).")
@click.option("--days", type=click.IntRange(1, 365), default=7, show_default=True, help="Rank the last N days' papers.")
@click.option("--date", "day", type=DAY, help="The last of those days (default: the latest with papers).")
@click.option("--limit", type=click.IntRange(1, 100), default=5, show_default=True, help="Per tag.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@_store_errors
def recommend(ctx: click.Context, user_email: str, tag: str | None, days: int, day: date | None, limit: int,
              as_json: bool) -> None:
    """Recommend recent papers for each of a user's library tags, each with a reason."""
    from .library.recommend import recommend_for_tag

    with _open(ctx) as store:
        user = _user(store, user_email)
        tags = [tag] if tag else list(store.library_tags(user.id))
        if not tags:
            _fail(f"{user_email} has no tagged papers: save some with `paperfeed library save --tag`")
        if day is None:
            latest = store.latest_daily_day(_today().isoformat())
            day = date.fromisoformat(latest) if latest else _today()
        embedder = _embedder(ctx.obj)
        results = {name: recommend_for_tag(store, user.id, name, embedder, today=day, days=days, limit=limit)
                   for name in tags}
        documents = store.item_documents([r.item_id for recs in results.values() for r in recs])
    if as_json:
        _echo_json({name: [dict(r.to_dict(), title=documents[r.item_id].title) for r in recs if r.item_id in documents]
                    for name, recs in results.items()})
        return
    for name, recs in results.items():
        click.echo(f"{name}: " + ("" if recs else "nothing to recommend (no papers in range, or no tagged papers)"))
        for position, rec in enumerate(recs, 1):
            click.echo(f"{position:3}. {documents[rec.item_id].title}")
            click.echo(f"     {rec.reason}")


# -- digest ---------------------------------------------------------------------------------------

@click.group()
def digest() -> None:
    """Daily digests by e-mail: subscribe, confirm, send, preview, unsubscribe."""


def _digest_errors(call):
    from .digest import DigestError

    try:
        return call()
    except DigestError as error:
        _fail(str(error))


@digest.command("subscribe")
@click.argument("email")
@click.option("--user", "user_email", metavar="EMAIL", help="Link to an account: its tags add recommendations.")
@click.pass_context
@_store_errors
def digest_subscribe(ctx: click.Context, email: str, user_email: str | None) -> None:
    """Subscribe an address: a confirmation link is mailed to it (double opt-in)."""
    from .digest import subscribe

    with _open(ctx) as store:
        subscriber = _digest_errors(lambda: subscribe(store, ctx.obj, email, user_email))
    click.echo(f"{subscriber.email}: " + ("already subscribed" if subscriber.status == "active"
                                         else "confirmation link sent"))


@digest.command("confirm")
@click.argument("token")
@click.pass_context
@_store_errors
def digest_confirm(ctx: click.Context, token: str) -> None:
    """Confirm a subscription with the token of its confirmation link."""
    from .digest import confirm

    with _open(ctx) as store:
        subscriber = _digest_errors(lambda: confirm(store, ctx.obj, token))
    click.echo(f"{subscriber.email}: subscribed")


@digest.command("unsubscribe")
@click.argument("token")
@click.pass_context
@_store_errors
def digest_unsubscribe(ctx: click.Context, token: str) -> None:
    """Unsubscribe with the token of an unsubscribe link."""
    from .digest import unsubscribe

    with _open(ctx) as store:
        subscriber = _digest_errors(lambda: unsubscribe(store, ctx.obj, token))
    click.echo(f"{subscriber.email}: unsubscribed")


@digest.command("send")
@click.option("--date", "day", type=DAY, help="The digest's day (default: today, UTC).")
@click.pass_context
@_store_errors
def digest_send(ctx: click.Context, day: date | None) -> None:
    """Mail a day's digest to every confirmed subscriber who has not had it (safe to rerun)."""
    from .digest import send_digests

    day = day or _today()
    with _open(ctx) as store:
        embedder = _embedder(ctx.obj) if any(s.user_id for s in store.subscribers("active")) else None
        report = _digest_errors(lambda: send_digests(store, ctx.obj, day, embedder))
    if report.nothing_new:
        click.echo(f"{report.day}: no papers, no mail sent")
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
@_store_errors
def digest_preview(ctx: click.Context, day: date | None, email: str | None, output: Path) -> None:
    """Write a day's digest HTML to a file."""
    from .digest import preview

    with _open(ctx) as store:
        if day is None:
            latest = store.latest_daily_day(_today().isoformat())
            day = date.fromisoformat(latest) if latest else _today()
        embedder = _embedder(ctx.obj) if email else None
        html = _digest_errors(lambda: preview(store, ctx.obj, day, email, embedder))
    try:
        output.write_text(html, encoding="utf-8")
    except OSError as error:
        _fail(f"cannot write {output}: {error.strerror or error}")
    click.echo(f"wrote {output}")
