"""The ``paperfeed`` command: parses flags, calls the library, turns domain errors into one clear line.

Exit status: 0 ok; 1 some inputs failed (the rest were stored); 2 usage error.
"""

from __future__ import annotations

import sys
from functools import wraps
from pathlib import Path

import click
import orjson

from .config import Settings, SettingsError, describe


def _fail(message: str, status: int = 1) -> None:
    click.echo(f"paperfeed: {message}", err=True)
    sys.exit(status)


def _open(ctx: click.Context):
    from .storage import StoreError, open_store

    settings: Settings = ctx.obj
    try:
        return open_store(settings.db)
    except StoreError as error:
        _fail(str(error), 2 if error.usage else 1)


def _store_errors(command):
    """Report store errors (locked, corrupt, newer schema) as one line, not a traceback."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        from .storage import STORE_ERRORS

        try:
            return command(*args, **kwargs)
        except STORE_ERRORS as error:
            _fail(f"store error: {error}", 2 if getattr(error, "usage", False) else 1)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="URL", help=describe()[0][2] + " [env: PAPERFEED_DB]")
@click.version_option(package_name="paperfeed")
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """paperfeed: one local store for papers and news from every source, merged with provenance."""
    try:
        ctx.obj = Settings.load(db=db)
    except SettingsError as error:
        _fail(str(error), 2)


@cli.command()
@click.pass_context
@_store_errors
def init(ctx: click.Context) -> None:
    """Create the store (or bring its schema up to date) and print where it is."""
    from .storage import StoreError, open_store

    try:
        store = open_store(ctx.obj.db, migrate=False)
        applied = store.migrate()
    except StoreError as error:
        _fail(str(error), 2 if error.usage else 1)
    with store:
        click.echo(f"store: {store.url}")
        click.echo(f"migrations applied now: {', '.join(applied) if applied else 'none (up to date)'}")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "format_name", metavar="NAME",
              help="Parse every file as this format instead of detecting it (see `paperfeed formats`).")
@click.option("--label", help="Source label for every record (overrides the source's own).")
@click.option("--no-index", is_flag=True, help="Leave the search indexes for a later `paperfeed index`.")
@click.option("--no-vectors", is_flag=True, help="Update the keyword index but compute no embeddings now.")
@click.pass_context
@_store_errors
def ingest(ctx: click.Context, paths: tuple[Path, ...], format_name: str | None, label: str | None,
           no_index: bool, no_vectors: bool) -> None:
    """Ingest files, directories and .tar.xz/.tar.gz/.zip archives; print a summary per file."""
    from .ingest import Ingester
    from .progress import record_progress
    from .sources import get_format

    if format_name:
        try:
            get_format(format_name)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--format") from None
    with _open(ctx) as store, record_progress("ingesting") as advance:
        def show(result) -> None:
            if result.failed:
                place = f" at {result.place}" if result.place else ""
                click.echo(f"FAILED {result.origin}{place}: {result.error}", err=True)
            else:
                click.echo(f"{result.origin} [{result.format}]: {result.new} new, {result.merged} merged, "
                           f"{result.unchanged} unchanged" + (f", {result.skipped} skipped" if result.skipped else ""))

        report = Ingester(store, format_name=format_name, label=label, on_records=advance,
                          on_file=show).ingest_paths(paths)
    click.echo(f"{len(report.files)} files: {report.total('new')} new, {report.total('merged')} merged, "
               f"{report.total('unchanged')} unchanged, {len(report.failed)} failed")
    from .storage import StoreError

    try:
        if report.total("new") or report.total("merged"):
            with _open(ctx) as store:
                _tag_new_items(store, ctx.obj)
        if not no_index:
            with _open(ctx) as store:
                update_indexes(store, ctx.obj, vectors=not no_vectors)
    except StoreError as error:
        if not error.usage:
            raise
        click.echo(f"paperfeed: stored; topics and search index not updated: {error}", err=True)
    if report.failed:
        sys.exit(1)


def _tag_new_items(store, settings) -> None:
    """Put topics on what was just stored, when a tagger has been trained (`paperfeed topics tag`)."""
    from .topics.tagger import TaggerError, tag_new_items
    from .topics.taxonomy import TaxonomyError

    try:
        report = tag_new_items(store, alpha=settings.topic_alpha, topics_file=settings.topics_file or None)
    except (TaggerError, TaxonomyError) as error:
        click.echo(f"paperfeed: topics not updated: {error}", err=True)
        return
    if report is not None:
        click.echo(f"topics: tagged {report.tagged:,} items in {report.seconds:.1f} s")


@cli.command()
@click.option("--format", "format_name", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here, not stdout.")
@click.pass_context
@_store_errors
def export(ctx: click.Context, format_name: str, output: Path | None) -> None:
    """Write every item as one JSON object per line, with its sources (provenance)."""
    with _open(ctx) as store:
        stream = output.open("wb") if output else sys.stdout.buffer
        try:
            for item in store.iter_items():
                stream.write(orjson.dumps(item) + b"\n")
        finally:
            if output:
                stream.close()
            else:
                stream.flush()


@cli.command()
@click.argument("reference")
@click.option("--raw", is_flag=True, help="Include each source record as received.")
@click.pass_context
@_store_errors
def show(ctx: click.Context, reference: str, raw: bool) -> None:
    """Show one item (by item id, arXiv id or DOI) with its provenance, as JSON."""
    with _open(ctx) as store:
        item_id = store.find_item(reference)
        if item_id is None:
            _fail(f"no item {reference!r} (give an item id, an arXiv id or a DOI)")
        click.echo(orjson.dumps(store.item(item_id, with_raw=raw), option=orjson.OPT_INDENT_2).decode())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@_store_errors
def stats(ctx: click.Context, as_json: bool) -> None:
    """Print what the store holds."""
    with _open(ctx) as store:
        figures = store.stats()
    if as_json:
        click.echo(orjson.dumps(figures).decode())
        return
    click.echo(f"store: {ctx.obj.db}")
    click.echo(f"items: {figures['items']:,} ({', '.join(f'{k} {v:,}' for k, v in figures['items_by_kind'].items())})")
    click.echo(f"source records: {figures['source_records']:,}; items with more than one source: "
               f"{figures['merged_items']:,}")
    for name, count in figures["source_records_by_format"].items():
        click.echo(f"  {name}: {count:,}")
    click.echo(f"authors: {figures['authors']:,}; categories: {figures['categories']:,}")
    low, high = figures["published_range"]
    click.echo(f"published: {low or '-'} .. {high or '-'}")
    for name, count in figures["topics"].items():
        click.echo(f"topic {name}: {count:,} items")


@cli.command()
def formats() -> None:
    """List the source formats ``ingest`` understands."""
    from .sources import format_modules

    for module in format_modules():
        click.echo(f"{module.FORMAT:12} {(module.__doc__ or '').strip().splitlines()[0]}")


from .cli_sync import sources, sync  # noqa: E402 -- cli_sync uses the helpers defined above

cli.add_command(sync)
cli.add_command(sources)

from .cli_search import index, search, similar, update_indexes  # noqa: E402 -- same reason

cli.add_command(search)
cli.add_command(similar)
cli.add_command(index)

from .cli_topics import authors, topics  # noqa: E402 -- same reason

cli.add_command(topics)
cli.add_command(authors)

from .cli_web import serve  # noqa: E402 -- same reason

cli.add_command(serve)

from .cli_daily import daily, digest, library, recommend, submit, users, vote  # noqa: E402 -- same reason

for _command in (daily, users, library, vote, submit, recommend, digest):
    cli.add_command(_command)

from .cli_admin import copy_command, migrate  # noqa: E402 -- same reason

cli.add_command(migrate)
cli.add_command(copy_command)


def main() -> None:
    """Entry point of the console script and ``python -m paperfeed``."""
    cli(prog_name="paperfeed")
