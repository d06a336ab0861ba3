"""``paperfeed migrate`` and ``paperfeed copy``: a store's schema, and moving a whole store to another backend."""

from __future__ import annotations

import sys

import click

from .common import fail, store_errors


@click.command()
@click.option("--db", "db_url", metavar="URL", help="The store (default: the global --db, else PAPERFEED_DB).")
@click.option("--check", "--dry-run", "check", is_flag=True,
              help="List the pending migrations without applying them; exit 1 when there are any.")
@click.pass_context
@store_errors
def migrate(ctx: click.Context, db_url: str | None, check: bool) -> None:
    """Apply the pending schema migrations of a store and say which were applied."""
    from ..storage import StoreError, open_store as open_url

    url = db_url or ctx.obj.db
    try:
        store = open_url(url, migrate=False)
    except StoreError as error:
        fail(str(error), 2 if error.usage else 1)
    with store:
        click.echo(f"store: {store.url}")
        pending = store.pending_migrations()
        if check:
            for name in pending:
                click.echo(f"pending: {name}")
            click.echo(f"{len(pending)} pending" if pending else "up to date: nothing to apply")
            if pending:
                sys.exit(1)
            return
        applied = store.migrate()
        for name in applied:
            click.echo(f"applied: {name}")
        total = len(store.applied_migrations())
        click.echo(f"{len(applied)} applied now, {total} in all" if applied
                   else f"up to date: nothing to apply ({total} migrations)")


@click.command("copy")
@click.option("--from", "source", required=True, metavar="URL", help="The store to copy (left unchanged).")
@click.option("--to", "destination", required=True, metavar="URL",
              help="An empty store to copy into: a new SQLite file or an empty PostgreSQL database.")
@click.option("--batch-size", type=click.IntRange(100, 1_000_000), default=5000, show_default=True,
              help="Rows read and written at a time.")
@click.pass_context
@store_errors
def copy_command(ctx: click.Context, source: str, destination: str, batch_size: int) -> None:
    """Copy a whole store to another backend (SQLite to PostgreSQL and back) and check that nothing was lost.

    Ids are kept, the destination's schema is brought up to date first, and everything is written in one
    transaction: a copy that fails or does not read back as the source leaves the destination empty.
    """
    from ..progress import record_progress
    from ..storage.copy import CopyMismatch, copy_store

    try:
        report = copy_store(source, destination, batch_size=batch_size, progress=record_progress)
    except CopyMismatch as error:
        fail(str(error), 1)
    for table, rows in report.tables.items():
        if rows:
            click.echo(f"  {table}: {rows:,} rows")
    empty = [table for table, rows in report.tables.items() if not rows]
    if empty:
        click.echo(f"  empty: {', '.join(empty)}")
    if report.derived:
        click.echo(f"  re-made by the destination's triggers: {', '.join(report.derived)}")
    click.echo(f"copied {report.rows:,} rows in {len(report.tables)} tables from {report.source} to "
               f"{report.destination} in {report.seconds:.1f} s")
    mine, theirs = report.source_summary, report.destination_summary
    for label, key in (("items", "items"), ("source records", "source_records"), ("authors", "authors")):
        click.echo(f"{label}: {getattr(mine, key):,} -> {getattr(theirs, key):,}")
    click.echo(f"export checksum (sha256): {mine.checksum} -> {theirs.checksum}")
    if report.sequences:
        click.echo(f"identity sequences moved past the copied ids: {', '.join(report.sequences)}")
    click.echo("verified: every table's rows and the export are identical on both sides")
    # Search indexes are not copied (they are files beside a store, or PostgreSQL's own full-text rows).
    click.echo(f"next: `paperfeed --db {report.destination} index --rebuild` builds its search indexes "
               "(stored vectors are reused)")
