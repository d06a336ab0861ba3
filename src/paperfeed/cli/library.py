"""``paperfeed users``, ``library`` and ``recommend``: accounts, a user's library, recommendations for its tags."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from .common import (DAY, USER, echo_after_ingest, echo_json_indented, embedder_of, fail, latest_day, open_store,
                     store_errors, user_of)


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
@click.option("--admin", is_flag=True, help="An admin: may split and merge items from the web app and the API.")
@click.pass_context
@store_errors
def users_add(ctx: click.Context, email: str, password_stdin: bool, admin: bool) -> None:
    """Create an account (the password is hashed with Argon2id)."""
    from ..library import AccountError, Accounts

    password = _password(password_stdin, confirm=True)
    with open_store(ctx) as store:
        try:
            user_id = Accounts(store).create(email, password)
        except AccountError as error:
            fail(str(error))
        if admin:
            store.set_user_role(user_id, "admin")
    click.echo(f"user {user_id}: {email.strip()}" + (" (admin)" if admin else ""))


@users.command("role")
@click.argument("email")
@click.argument("role", type=click.Choice(["user", "admin"]))
@click.pass_context
@store_errors
def users_role(ctx: click.Context, email: str, role: str) -> None:
    """Make an account an admin (may split and merge items) or a plain user."""
    from ..library import AccountError, Accounts

    with open_store(ctx) as store:
        try:
            user = Accounts(store).user(email)
        except AccountError as error:
            fail(str(error))
        store.set_user_role(user.id, role)
    click.echo(f"user {user.id}: {user.email} is now {'an admin' if role == 'admin' else 'a user'}")


@users.command("login")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_context
@store_errors
def users_login(ctx: click.Context, email: str, password_stdin: bool) -> None:
    """Check a password and print a new session token."""
    from ..library import AccountError, Accounts

    password = _password(password_stdin, confirm=False)
    with open_store(ctx) as store:
        try:
            click.echo(Accounts(store, ctx.obj.session_days).sign_in(email, password))
        except AccountError as error:
            fail(str(error))


@users.command("logout")
@click.argument("token")
@click.pass_context
@store_errors
def users_logout(ctx: click.Context, token: str) -> None:
    """End the session of a token."""
    from ..library import Accounts

    with open_store(ctx) as store:
        if not Accounts(store).sign_out(token):
            fail("no such session")
    click.echo("signed out")


@click.group()
def library() -> None:
    """A user's library: save with tags, mark not relevant, import BibTeX, show."""


@library.command("save")
@click.argument("reference")
@USER
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.pass_context
@store_errors
def library_save(ctx: click.Context, reference: str, user_email: str, tags: tuple[str, ...]) -> None:
    """Save a paper (item id, arXiv id or URL, DOI) with tags."""
    from ..library import LibraryError, save_item

    with open_store(ctx) as store:
        try:
            item_id = save_item(store, user_of(store, user_email).id, reference, list(tags))
        except LibraryError as error:
            fail(str(error))
    click.echo(f"saved item {item_id}" + (f" with tags {', '.join(tags)}" if tags else ""))


@library.command("not-relevant")
@click.argument("reference")
@USER
@click.pass_context
@store_errors
def library_not_relevant(ctx: click.Context, reference: str, user_email: str) -> None:
    """Mark a paper not relevant (a negative for recommendations)."""
    from ..library import LibraryError, mark_not_relevant

    with open_store(ctx) as store:
        try:
            item_id = mark_not_relevant(store, user_of(store, user_email).id, reference)
        except LibraryError as error:
            fail(str(error))
    click.echo(f"item {item_id} marked not relevant")


@library.command("remove")
@click.argument("reference")
@USER
@click.pass_context
@store_errors
def library_remove(ctx: click.Context, reference: str, user_email: str) -> None:
    """Take a paper out of the library."""
    from ..library import LibraryError, remove_item

    with open_store(ctx) as store:
        try:
            item_id = remove_item(store, user_of(store, user_email).id, reference)
        except LibraryError as error:
            fail(str(error))
    click.echo(f"item {item_id} removed")


@library.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@USER
@click.option("--tag", "tags", multiple=True, help="A tag for every entry (repeatable); entries' keywords add theirs.")
@click.option("--format", "format_name", metavar="NAME",
              help="The file's format instead of detecting it (bibtex, ris, csl-json, zotero, ...; see `paperfeed "
                   "formats`).")
@click.pass_context
@store_errors
def library_import(ctx: click.Context, path: Path, user_email: str, tags: tuple[str, ...],
                   format_name: str | None) -> None:
    """Import a reference library (BibTeX, RIS, CSL-JSON, a Zotero zotero.sqlite): entries matched to stored items,
    unknown ones ingested, all saved; keywords, Zotero collections and tags become tags."""
    from ..library import LibraryError, import_library
    from ..progress import record_progress
    from ..sources import get_format

    if format_name:
        try:
            get_format(format_name)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--format") from None

    with open_store(ctx) as store:
        try:
            report = import_library(store, user_of(store, user_email).id, path, list(tags), ctx.obj,
                                    progress=record_progress, format_name=format_name)
        except LibraryError as error:
            fail(str(error))
    click.echo(f"{path}: {report.entries} entries, {report.matched} matched to stored items, "
               f"{report.ingested} new items; tags: "
               + (", ".join(f"{tag} ({count})" for tag, count in sorted(report.tagged.items())) or "none"))
    if report.after is not None:
        echo_after_ingest(report.after)


@library.command("show")
@USER
@click.option("--tag", help="Only this tag's papers.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@store_errors
def library_show(ctx: click.Context, user_email: str, tag: str | None, as_json: bool) -> None:
    """List a user's library and tags."""
    with open_store(ctx) as store:
        user = user_of(store, user_email)
        entries = store.library_entries(user.id, tag=tag)
        documents = store.item_documents([e.item_id for e in entries])
        tags = store.library_tags(user.id)
    rows = [{"id": e.item_id, "state": e.state, "tags": e.tags, "added_at": e.added_at,
             "title": documents[e.item_id].title if e.item_id in documents else None} for e in entries]
    if as_json:
        echo_json_indented({"tags": tags, "items": rows})
        return
    click.echo("tags: " + (", ".join(f"{name} ({count})" for name, count in tags.items()) or "none"))
    for row in rows:
        marker = "x" if row["state"] == "not_relevant" else "*"
        click.echo(f"{marker} {row['id']:>7}  {row['title']}" + (f"  [{', '.join(row['tags'])}]" if row["tags"] else ""))


@click.command()
@USER
@click.option("--tag", help="Only this tag (default: every tag of the user).")
@click.option("--days", type=click.IntRange(1, 365), default=7, show_default=True, help="Rank the last N days' papers.")
@click.option("--date", "day", type=DAY, help="The last of those days (default: the latest with papers).")
@click.option("--limit", type=click.IntRange(1, 100), default=5, show_default=True, help="Per tag.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@store_errors
def recommend(ctx: click.Context, user_email: str, tag: str | None, days: int, day: date | None, limit: int,
              as_json: bool) -> None:
    """Recommend recent papers for each of a user's library tags, each with a reason."""
    from ..library.recommend import recommend_for_tag

    with open_store(ctx) as store:
        user = user_of(store, user_email)
        tags = [tag] if tag else list(store.library_tags(user.id))
        if not tags:
            fail(f"{user_email} has no tagged papers: save some with `paperfeed library save --tag`")
        if day is None:
            day = latest_day(store)
        embedder = embedder_of(ctx.obj)
        results = {name: recommend_for_tag(store, user.id, name, embedder, today=day, days=days, limit=limit)
                   for name in tags}
        documents = store.item_documents([r.item_id for recs in results.values() for r in recs])
    if as_json:
        echo_json_indented({name: [dict(r.to_dict(), title=documents[r.item_id].title) for r in recs if r.item_id in documents]
                    for name, recs in results.items()})
        return
    for name, recs in results.items():
        click.echo(f"{name}: " + ("" if recs else "nothing to recommend (no papers in range, or no tagged papers)"))
        for position, rec in enumerate(recs, 1):
            click.echo(f"{position:3}. {documents[rec.item_id].title}")
            click.echo(f"     {rec.reason}")
