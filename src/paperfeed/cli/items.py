"""``paperfeed init``, ``ingest``, ``export``, ``show``, ``stats`` and ``formats``: the store and its items."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from .common import echo_after_ingest, fail, open_store, store_errors


@click.command()
@click.pass_context
@store_errors
def init(ctx: click.Context) -> None:
    """Create the store (or bring its schema up to date) and print where it is."""
    from ..storage import StoreError, open_store as open_url

    try:
        store = open_url(ctx.obj.db, migrate=False)
        applied = store.migrate()
    except StoreError as error:
        fail(str(error), 2 if error.usage else 1)
    with store:
        click.echo(f"store: {store.url}")
        click.echo(f"migrations applied now: {', '.join(applied) if applied else 'none (up to date)'}")


LARGE_LOAD_ITEMS = 20_000
"""New or changed items from which ``paperfeed ingest`` says when keyword search answers: after a load this large
(all of arXiv) the steps after the keyword index (author identities, TL;DRs, embeddings) take longer than the
ingest itself, and a user should not wait for them to search."""


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "format_name", metavar="NAME",
              help="Parse every file as this format instead of detecting it (see `paperfeed formats`).")
@click.option("--label", help="Source label for every record (overrides the source's own).")
@click.option("--no-index", is_flag=True, help="Leave the search indexes for a later `paperfeed index`.")
@click.option("--no-vectors", is_flag=True, help="Update the keyword index but compute no embeddings now.")
@click.pass_context
@store_errors
def ingest(ctx: click.Context, paths: tuple[Path, ...], format_name: str | None, label: str | None,
           no_index: bool, no_vectors: bool) -> None:
    """Ingest files, directories and .tar.xz/.tar.gz/.zip archives; print a summary per file."""
    from ..ingest import Ingester, IngestStopped
    from ..progress import record_progress
    from ..sources import get_format

    if format_name:
        try:
            get_format(format_name)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--format") from None
    from ..inputs import estimate_records

    # A file of JSON Lines (the Kaggle arXiv snapshot) has an estimated total: the bar shows an ETA.
    with open_store(ctx) as store, record_progress("ingesting", estimate_records(list(paths))) as advance:
        def show(result) -> None:
            if result.failed:
                place = f" at {result.place}" if result.place else ""
                click.echo(f"FAILED {result.origin}{place}: {result.error}", err=True)
            else:
                click.echo(f"{result.origin} [{result.format}]: {result.new} new, {result.merged} merged, "
                           f"{result.unchanged} unchanged" + (f", {result.skipped} skipped" if result.skipped else "")
                           + (f", {len(result.conflicts)} conflicts" if result.conflicts else ""))
                for conflict in result.conflicts:
                    click.echo(f"conflict in {result.origin}: {conflict}", err=True)
                for note in result.notes:
                    click.echo(f"note on {result.origin}: {note}", err=True)

        try:
            report = Ingester(store, format_name=format_name, label=label, on_records=advance, on_file=show,
                              settings=ctx.obj).ingest_paths(paths)
        except IngestStopped as stopped:
            kept = (f"the {stopped.committed} files before were committed and stay" if stopped.committed
                    else "nothing of this run was committed")
            fail(f"{stopped.error}, while storing {stopped.origin}: stopped there; {kept}, the "
                 f"{stopped.rolled_back} read since the last commit were rolled back (the store is consistent). "
                 "Free some space and run the same `paperfeed ingest` again to complete it.")
    click.echo(f"{len(report.files)} files: {report.total('new')} new, {report.total('merged')} merged, "
               f"{report.total('unchanged')} unchanged, "
               + (f"{report.total('conflicts')} conflicts, " if report.total("conflicts") else "")
               + f"{len(report.failed)} failed")
    from ..pipeline import after_ingest
    from ..storage import StoreError

    def keyword_ready(index) -> None:
        later = ("the author identities and TL;DRs are made (Ctrl-C stops them)" if no_vectors else
                 "the author identities, TL;DRs and embeddings are made (Ctrl-C stops them; `paperfeed index` "
                 "resumes the embeddings)")
        click.echo(f"keyword search is ready: {index.indexed:,} papers indexed in {index.seconds:.1f} s; "
                   f"`paperfeed search --mode keyword` and `paperfeed serve` answer while {later}")

    large = len(report.changed_item_ids) >= LARGE_LOAD_ITEMS
    try:
        with open_store(ctx) as store:
            done = after_ingest(store, ctx.obj, report.changed_item_ids, index=not no_index,
                                vectors=not no_vectors, progress=record_progress,
                                on_keyword_ready=keyword_ready if large else None)
    except StoreError as error:
        if not error.usage:
            raise
        click.echo(f"paperfeed: stored; topics and search index not updated: {error}", err=True)
    except KeyboardInterrupt:
        # The ingest is committed; each step after it commits its own parts (the keyword index every 250,000
        # changes, author identities block by block), so what is done stays; the indexes resume with `index`.
        fail(f"interrupted after the ingest: its {report.total('new'):,} new and {report.total('merged'):,} "
             "merged items are stored and stay; the steps after it (search indexes, author identities, calendar, "
             "TL;DRs) stopped part-way: `paperfeed index` completes the search indexes, and the next ingest that stores "
             "anything decides every author identity again", 130)
    else:
        echo_after_ingest(done, index_failure_fails=True)
    if report.failed:
        sys.exit(1)


@click.command()
@click.option("--format", "format_name", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here, not stdout.")
@click.pass_context
@store_errors
def export(ctx: click.Context, format_name: str, output: Path | None) -> None:
    """Write every item as one JSON object per line, with its sources (provenance)."""
    with open_store(ctx) as store:
        stream = output.open("wb") if output else sys.stdout.buffer
        try:
            for item in store.iter_items():
                stream.write(orjson.dumps(item) + b"\n")
        finally:
            if output:
                stream.close()
            else:
                stream.flush()


@click.command()
@click.argument("reference")
@click.option("--raw", is_flag=True, help="Include each source record as received.")
@click.option("--why", is_flag=True, help="Say why each source record is in the item, and the decisions about it.")
@click.pass_context
@store_errors
def show(ctx: click.Context, reference: str, raw: bool, why: bool) -> None:
    """Show one item (by item id, arXiv id or DOI) with its provenance and versions, as JSON."""
    with open_store(ctx) as store:
        item_id = store.find_item(reference)
        if item_id is None:
            fail(f"no item {reference!r} (give an item id, an arXiv id or a DOI)")
        if why:
            from ..library.curation import why as explain

            _echo_why(explain(store, str(item_id)))
            return
        click.echo(orjson.dumps(store.item(item_id, with_raw=raw), option=orjson.OPT_INDENT_2).decode())


def _echo_why(found: dict) -> None:
    click.echo(f"item {found['id']}: {found['title']}")
    for source in found["sources"]:
        click.echo(f"  {source['format']} {source['record_id']} ({source['origin']}): {source['why']}")
    for decision in found["decisions"]:
        what = (f"split records {', '.join(decision['records'])} of item {decision['item_id']} off into item "
                f"{decision['other_id']}" if decision["kind"] == "split" else
                f"merged item {decision['other_id']} into item {decision['item_id']}")
        click.echo(f"decision {decision['id']} ({decision['made_at']}, {decision['actor']}): {what}")


def _actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (a container)
        return "cli"


@click.command()
@click.argument("item")
@click.argument("record_ids", nargs=-1, required=True)
@click.pass_context
@store_errors
def split(ctx: click.Context, item: str, record_ids: tuple[str, ...]) -> None:
    """Move source records (their record ids, as `show` lists them) out of ITEM into a new item.

    Remembered: ingest and sync never join the two again, and later versions of the records join the new item.
    """
    from ..library.curation import CurationError, split as split_records

    with open_store(ctx) as store:
        try:
            done, after = split_records(store, ctx.obj, item, list(record_ids), _actor())
        except CurationError as error:
            fail(str(error))
    click.echo(f"split {len(done.records)} records of item {done.item_id} off into item {done.other_id} "
               f"(decision {done.decision_id})")
    echo_after_ingest(after)


@click.command("merge")
@click.argument("keep")
@click.argument("other")
@click.pass_context
@store_errors
def merge_command(ctx: click.Context, keep: str, other: str) -> None:
    """Join item OTHER into item KEEP: its records, identifiers, library entries, votes and submissions move.

    Remembered: the two stay one item whatever is ingested later.
    """
    from ..library.curation import CurationError, merge as merge_records

    with open_store(ctx) as store:
        try:
            done, after = merge_records(store, ctx.obj, keep, other, _actor())
        except CurationError as error:
            fail(str(error))
    click.echo(f"merged item {done.other_id} into item {done.item_id} (decision {done.decision_id})")
    echo_after_ingest(after)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@store_errors
def stats(ctx: click.Context, as_json: bool) -> None:
    """Print what the store holds."""
    with open_store(ctx) as store:
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


@click.command()
def formats() -> None:
    """List the source formats ``ingest`` understands."""
    from ..sources import format_modules

    for module in format_modules():
        click.echo(f"{module.FORMAT:12} {(module.__doc__ or '').strip().splitlines()[0]}")
