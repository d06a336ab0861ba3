"""``paperfeed sync`` and ``paperfeed sources``: flags in, library calls, one clear line per problem."""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

import click
import orjson

from ..inputs import read_regular_file
from .common import fail, open_store, store_errors

# A sources file is a short TOML list; anything this big is a wrong path, and a named pipe must not hang the command.
SOURCES_FILE_MAX_BYTES = 1 << 20


def _day(ctx, param, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _show(result) -> None:
    if result.failed:
        place = f" at {result.place}" if result.place else ""
        click.echo(f"FAILED {result.name}{place}: {result.error}", err=True)
    else:
        click.echo(f"{result.name} [{result.kind}]: {result.new} new, {result.merged} merged, "
                   f"{result.unchanged} unchanged" + (f", {result.skipped} skipped" if result.skipped else ""))
    for note in result.notes:
        click.echo(f"  {result.name}: {note}")


def _sync_round(settings, names: list[str], since: str | None) -> int:
    """Run one sync and print its summary; return the exit status."""
    from ..progress import record_progress
    from ..storage import SyncBusyError
    from ..sync.schedule import sync_once

    try:
        with record_progress("syncing") as advance:
            report = sync_once(settings, names or None, since, on_records=advance, on_source=_show)
    except SyncBusyError as busy:
        click.echo(f"paperfeed: {busy}; try again when it has finished", err=True)
        return 1
    except KeyError as missing:
        raise click.BadParameter(f"no source named {missing.args[0]} (see `paperfeed sources list`)",
                                 param_hint="--source") from None
    if not report.sources:
        click.echo("no sources configured: add one with `paperfeed sources add NAME --kind KIND ...`")
        return 0
    click.echo(f"{len(report.sources)} sources: {report.total('new')} new, {report.total('merged')} merged, "
               f"{report.total('unchanged')} unchanged, {len(report.failed)} failed")
    return 1 if report.failed else 0


@click.command()
@click.option("--source", "names", multiple=True, metavar="NAME", help="Sync only this source (repeatable).")
@click.option("--since", callback=_day, metavar="DATE",
              help="Start from this date (YYYY-MM-DD) instead of where the last sync stopped.")
@click.option("--every", type=click.FloatRange(min=0, min_open=True), metavar="MINUTES",
              help="Keep running: sync, then again every MINUTES (Ctrl-C stops).")
@click.pass_context
@store_errors
def sync(ctx: click.Context, names: tuple[str, ...], since: str | None, every: float | None) -> None:
    """Fetch new records from every configured source (or those named) and print a summary per source."""
    open_store(ctx).close()  # a store that cannot be opened is reported once, before any fetching
    if every is None:
        sys.exit(_sync_round(ctx.obj, list(names), since))
    try:
        while True:
            _sync_round(ctx.obj, list(names), since)
            since = None  # later rounds go on from the stored cursors
            click.echo(f"next sync in {every:g} min", err=True)
            time.sleep(every * 60)
    except KeyboardInterrupt:
        sys.exit(0)


@click.group()
def sources() -> None:
    """Manage the live sources that `paperfeed sync` fetches."""


@sources.command("add")
@click.argument("name")
@click.option("--kind", required=True,
              help="arxiv, arxiv-oai, hf-daily, feed, biorxiv, openreview, crossref, dblp or semantic-scholar.")
@click.option("--url", help="The feed URL (feed), or a base URL overriding the kind's default (mirrors, proxies).")
@click.option("--label", help="Source label for its records (default: the source's own).")
@click.option("--categories", metavar="LIST", help="arXiv categories, comma-separated (arxiv: required).")
@click.option("--set", "set_spec", metavar="SPEC", help="OAI-PMH set to harvest (arxiv-oai), e.g. cs.")
@click.option("--from", "from_day", callback=_day, metavar="DATE", help="First datestamp to harvest (arxiv-oai).")
@click.option("--until", callback=_day, metavar="DATE", help="Last datestamp to harvest (arxiv-oai).")
@click.option("--since", callback=_day, metavar="DATE", help="First date to fetch (hf-daily).")
@click.option("--metadata-prefix", help="OAI-PMH metadata format (arxiv-oai; default arXivRaw).")
@click.option("--api-url", help="Base URL of the arXiv API (arxiv), overriding export.arxiv.org.")
@click.option("--venue", metavar="ID", help="OpenReview venue id (openreview: required), e.g. ICLR.cc/2025/Conference.")
@click.option("--query", metavar="TEXT", help="Search terms (dblp, semantic-scholar: required; crossref: optional).")
@click.option("--filter", "filter_", metavar="LIST",
              help="Crossref filters, name:value comma-separated (crossref), e.g. prefix:10.1101,has-relation:true.")
@click.option("--page-size", metavar="N",
              help="Records per request (openreview, crossref, dblp; default the API's most).")
@click.pass_context
@store_errors
def sources_add(ctx: click.Context, name: str, kind: str, url: str | None, label: str | None, **options) -> None:
    """Add a live source."""
    from ..storage import SourceExistsError
    from ..sync import SourceConfigError, make_source

    options["set"] = options.pop("set_spec")
    options["from"] = options.pop("from_day")
    options["filter"] = options.pop("filter_")
    try:
        row = make_source(name, kind, url, label, options, ctx.obj.allow_private_urls)
    except SourceConfigError as error:
        fail(f"source {name!r}: {error}", 2)
    with open_store(ctx) as store:
        try:
            store.add_source(row)
        except SourceExistsError as error:
            fail(str(error))
    click.echo(f"added source {name} [{kind}]")


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@store_errors
def sources_list(ctx: click.Context, as_json: bool) -> None:
    """List the sources with their last sync, and their last failure and its time."""
    from dataclasses import asdict

    from ..sync.kinds import base_url

    with open_store(ctx) as store:
        rows = store.sources()
    if as_json:
        click.echo(orjson.dumps([asdict(row) for row in rows]).decode())
        return
    if not rows:
        click.echo("no sources (add one with `paperfeed sources add NAME --kind KIND ...`)")
    for row in rows:
        options = ", ".join(f"{key}={','.join(value) if isinstance(value, list) else value}"
                            for key, value in sorted(row.options.items()))
        click.echo(f"{row.name} [{row.kind}] {base_url(row)}" + (f" ({options})" if options else "")
                   + (f" label={row.label!r}" if row.label else ""))
        summary = row.last_summary
        if row.last_ok_at:
            click.echo(f"  last ok: {row.last_ok_at}" + (
                f" ({summary.get('new', 0)} new, {summary.get('merged', 0)} merged, "
                f"{summary.get('unchanged', 0)} unchanged)" if not row.failures else ""))
        if row.failures:
            click.echo(f"  FAILED {row.last_error_at} ({row.failures} in a row): {row.last_error}")
        if not row.last_run_at:
            click.echo("  never synced")


@sources.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 400),
              help="How many days back to show, today first.")
@click.pass_context
@store_errors
def sources_status(ctx: click.Context, as_json: bool, days: int) -> None:
    """Why no new papers? Each source's state, last success and error, next run, and each day's new records
    with the reason for an empty day (weekend, arXiv holiday, not announced yet, the source failed...)."""
    from dataclasses import asdict

    from ..sync.health import store_health

    with open_store(ctx) as store:
        health = store_health(store, ctx.obj, days=days)
    if as_json:
        click.echo(orjson.dumps([asdict(source) for source in health]).decode())
        return
    if not health:
        click.echo("no sources (add one with `paperfeed sources add NAME --kind KIND ...`)")
    for source in health:
        click.echo(f"{source.name} [{source.kind}] {source.state.upper()}: {source.summary}")
        click.echo(f"  next run: {source.next_run_note}")
        for day in source.days:
            seen = f", {day.seen:,} already stored" if day.seen else ""
            failed = f", {day.failed} failed sync{'s' if day.failed > 1 else ''}" if day.failed else ""
            what = f"{day.new:,} new{seen}{failed}" if day.new else f"nothing new: {day.reason}"
            click.echo(f"  {day.day:%a %Y-%m-%d}  {what}")


@sources.command("remove")
@click.argument("name")
@click.pass_context
@store_errors
def sources_remove(ctx: click.Context, name: str) -> None:
    """Remove a source and its sync state (the records it brought stay)."""
    with open_store(ctx) as store:
        if not store.remove_source(name):
            fail(f"no source named {name!r}")
    click.echo(f"removed source {name}")


@sources.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
@store_errors
def sources_import(ctx: click.Context, path: Path) -> None:
    """Add the sources of a TOML file ([[source]] tables); names already present are left as they are."""
    from ..sync import SourceConfigError
    from ..sync.sources_file import read_sources

    try:
        text = read_regular_file(path, SOURCES_FILE_MAX_BYTES).decode("utf-8")
        rows, errors = read_sources(text, ctx.obj.allow_private_urls)
    except (OSError, UnicodeDecodeError) as error:
        fail(f"{path}: cannot read: {getattr(error, 'strerror', None) or error}")
    except SourceConfigError as error:
        fail(f"{path}: {error}")
    with open_store(ctx) as store:
        existing = {row.name for row in store.sources()}
        for row in rows:
            if row.name in existing:
                click.echo(f"{row.name}: exists already, left as it is")
                continue
            store.add_source(row)
            click.echo(f"added source {row.name} [{row.kind}]")
    for error in errors:
        click.echo(f"FAILED {path} {error}", err=True)
    if errors:
        sys.exit(1)
