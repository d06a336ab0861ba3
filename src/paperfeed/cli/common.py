"""What every command module of the ``paperfeed`` command shares: one-line failures, opening the store, turning
store errors into one line, JSON output, and the options and values several command groups take.

Command modules import from here, never from the package's root (``cli/__init__.py``), which imports them.
"""

from __future__ import annotations

import sys
from datetime import date, datetime, timezone
from functools import wraps

import click
import orjson


def fail(message: str, status: int = 1) -> None:
    """Print ``paperfeed: message`` to stderr and exit with ``status`` (1: failed, 2: usage)."""
    click.echo(f"paperfeed: {message}", err=True)
    sys.exit(status)


def open_store(ctx: click.Context):
    """Open the store of the command's settings, or fail with one line."""
    from ..config import Settings
    from ..storage import StoreError
    from ..storage import open_store as open_url

    settings: Settings = ctx.obj
    try:
        return open_url(settings.db)
    except StoreError as error:
        fail(str(error), 2 if error.usage else 1)


def store_errors(command):
    """Report store errors (locked, corrupt, newer schema) as one line, not a traceback."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        from .. import storage

        try:
            return command(*args, **kwargs)
        except storage.store_errors() as error:
            fail(f"store error: {error}", 2 if getattr(error, "usage", False) else 1)

    return wrapper


def echo_json(value) -> None:
    """Print ``value`` as one line of JSON."""
    click.echo(orjson.dumps(value).decode())


def echo_json_indented(value) -> None:
    """Print ``value`` as indented JSON."""
    sys.stdout.buffer.write(orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n")


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


def today() -> date:
    return datetime.now(timezone.utc).date()


def latest_day(store) -> date:
    """The latest day with papers (today, UTC, when there is none)."""
    latest = store.latest_daily_day(today().isoformat())
    return date.fromisoformat(latest) if latest else today()


USER = click.option("--user", "user_email", required=True, metavar="EMAIL", help="The account acted for.")


def user_of(store, email: str):
    """The account of ``email``, or fail with one line."""
    from ..library import AccountError, Accounts

    try:
        return Accounts(store).user(email)
    except AccountError as error:
        fail(str(error))


def embedder_of(settings):
    """The configured embedder (None when it is ``none``), or fail with one line."""
    from ..search import EmbedderError, load_embedder

    if settings.embedder == "none":
        return None
    try:
        return load_embedder(settings.embedder, settings.embed_device or None)
    except EmbedderError as error:
        fail(str(error))


def index_summary(report) -> str:
    """The one line that says what a search index update did."""
    speed = f", {report.embeddings_per_second:,.0f} embeddings/s" if report.embedded else ""
    return (f"search index: {report.indexed} indexed, {report.deleted} removed, {report.embedded} embedded, "
            f"{report.reused_vectors} vectors reused in {report.seconds:.1f} s{speed}")


def echo_after_ingest(report, *, index_failure_fails: bool = False) -> None:
    """Print what the after-ingest pipeline did (``pipeline.after_ingest``): a line for the topics it put on
    the items and one for the search indexes; a step that failed as one ``paperfeed:`` line on stderr (exit 1
    for the indexes when ``index_failure_fails``, as ``paperfeed ingest`` does)."""
    if "tag" in report.errors:
        click.echo(f"paperfeed: topics not updated: {report.errors['tag']}", err=True)
    if report.tagging is not None:
        click.echo(f"topics: tagged {report.tagging.tagged:,} items in {report.tagging.seconds:.1f} s")
    if "index" in report.errors:
        if index_failure_fails:
            fail(f"search index: {report.errors['index']}")
        click.echo(f"paperfeed: stored; search index not updated: {report.errors['index']} "
                   "(`paperfeed index` catches up)", err=True)
    if report.index is not None:
        echo_index_notes(report.index)
        click.echo(index_summary(report.index))
    if "tldr" in report.errors:
        click.echo(f"paperfeed: stored; TL;DRs not updated: {report.errors['tldr']} (`paperfeed tldr` catches up)",
                   err=True)
    tldr = report.tldr  # the extractive TL;DRs are silent (every item gets one); a model's are worth a line
    if tldr is not None and tldr.llm:
        click.echo(f"tldr: {tldr.llm:,} written by the model in {tldr.seconds:.1f} s")
    if tldr is not None and tldr.llm_error:
        click.echo(f"paperfeed: TL;DR endpoint: {tldr.llm_error} ({tldr.llm_failed} papers keep the extractive "
                   "TL;DR; `paperfeed tldr --llm` tries again)", err=True)


def echo_index_notes(report) -> None:
    """Print what a search index update has to say (an index found to be another store's and rebuilt)."""
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
