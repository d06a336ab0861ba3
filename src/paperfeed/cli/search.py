"""``paperfeed search``, ``similar`` and ``index``: flags in, library calls, one clear line per problem."""

from __future__ import annotations

import sys

import click
import orjson

from .common import echo_index_notes, fail, index_summary, open_store, store_errors


def update_indexes(store, settings, vectors: bool = True, rebuild: bool = False) -> None:
    """Bring the search indexes up to date with a progress bar; print one summary line."""
    from ..progress import record_progress
    from ..search import EmbedderError, SearchIndexError, open_indexer

    try:
        indexer = open_indexer(store, settings, vectors=vectors)
        report = (indexer.rebuild(progress=record_progress) if rebuild
                  else indexer.update(progress=record_progress))
    except (EmbedderError, SearchIndexError) as error:
        fail(f"search index: {error}")
    except ValueError as error:
        # tantivy reports a held writer lock (another indexer running) as a ValueError.
        fail(f"search index: {error}")
    echo_index_notes(report)
    click.echo(index_summary(report))


@click.command()
@click.option("--rebuild", is_flag=True, help="Drop the indexes and build them again (stored vectors are reused).")
@click.option("--no-vectors", is_flag=True, help="Update the keyword index only (no embeddings).")
@click.pass_context
@store_errors
def index(ctx: click.Context, rebuild: bool, no_vectors: bool) -> None:
    """Bring the keyword and semantic search indexes up to date with the store."""
    with open_store(ctx) as store:
        update_indexes(store, ctx.obj, vectors=not no_vectors, rebuild=rebuild)


def _print_hits(hits, as_json: bool) -> None:
    if as_json:
        sys.stdout.buffer.write(orjson.dumps([hit.to_dict() for hit in hits], option=orjson.OPT_INDENT_2) + b"\n")
        return
    for position, hit in enumerate(hits, start=1):
        authors = ", ".join(hit.authors[:3]) + (" et al." if len(hit.authors) > 3 else "")
        reference = f"arXiv:{hit.arxiv_id}" if hit.arxiv_id else f"item {hit.id}"
        click.echo(f"{position:3}. {hit.title}")
        click.echo(f"     {reference} · {hit.published or 'undated'} · {hit.kind}" + (f" · {authors}" if authors else ""))
        if hit.snippet:
            click.echo(f"     {hit.snippet}")


@click.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--mode", type=click.Choice(["keyword", "semantic", "hybrid"]), default="hybrid", show_default=True)
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True, help="Skip this many results.")
@click.option("--json", "as_json", is_flag=True, help='Print a JSON list of {"id", "title", "score", …}.')
@click.pass_context
@store_errors
def search(ctx: click.Context, query: tuple[str, ...], mode: str, limit: int, offset: int, as_json: bool) -> None:
    """Search the store: words, "phrases", prefix*, -exclude, author: topic: category: source: kind: after: before: year:."""
    from ..search import EmbedderError, QueryTooLarge, open_search

    with open_store(ctx) as store:
        try:
            service = open_search(store, ctx.obj, vectors=mode != "keyword")
        except EmbedderError as error:
            fail(str(error))
        try:
            results = service.search(" ".join(query), mode=mode, limit=limit, offset=offset)
        except QueryTooLarge as error:
            fail(f"QUERY: {error}", 2)
        if results.catching_up:
            click.echo(f"note: {results.catching_up}", err=True)
        for name, count in results.behind.items():
            click.echo(f"note: the {name} index is {count} changed items behind the store; "
                       "run `paperfeed index`", err=True)
        if results.note:
            click.echo(f"note: {results.note}", err=True)
        _print_hits(results.hits, as_json)


@click.command()
@click.argument("reference")
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
@store_errors
def similar(ctx: click.Context, reference: str, limit: int, as_json: bool) -> None:
    """Items most similar to one item (by item id, arXiv id or DOI)."""
    from ..search import EmbedderError, open_search

    with open_store(ctx) as store:
        item_id = store.find_item(reference)
        if item_id is None:
            fail(f"no item matches {reference!r}")
        try:
            service = open_search(store, ctx.obj)
        except EmbedderError as error:
            fail(str(error))
        _print_hits(service.similar(item_id, limit), as_json)
