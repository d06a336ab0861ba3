"""``paperfeed tldr``: make the TL;DRs that are missing or stale, and optionally ask the configured model."""

from __future__ import annotations

import click

from .common import echo_json, fail, open_store, store_errors


@click.command()
@click.argument("references", nargs=-1, metavar="[ITEM]...")
@click.option("--llm", is_flag=True,
              help="Then ask the TL;DR endpoint (PAPERFEED_TLDR_URL) for the papers whose TL;DR is not its model's.")
@click.option("--limit", type=click.IntRange(min=0), metavar="N",
              help="Write at most N TL;DRs of each kind (default: every extractive one due; "
                   "PAPERFEED_TLDR_MAX_ITEMS from the model).")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as one line of JSON.")
@click.pass_context
@store_errors
def tldr(ctx: click.Context, references: tuple[str, ...], llm: bool, limit: int | None, as_json: bool) -> None:
    """Give items (ITEMs by id, arXiv id or DOI; default: every item) the extractive TL;DR where they have none
    or their abstract changed; with --llm, then a model's. Exit 1 when the model failed for any paper."""
    from ..summaries.service import summarize

    settings = ctx.obj
    if llm and not settings.tldr_url:
        fail("--llm needs a TL;DR endpoint: set PAPERFEED_TLDR_URL (e.g. http://127.0.0.1:8080)", 2)
    with open_store(ctx) as store:
        item_ids = None
        if references:
            item_ids = []
            for reference in references:
                item_id = store.find_item(reference)
                if item_id is None:
                    fail(f"no item {reference!r} (give an item id, an arXiv id or a DOI)", 2)
                item_ids.append(item_id)
        report = summarize(store, settings, item_ids, llm=llm, limit=limit)
        counts = store.tldr_counts()
    if as_json:
        echo_json({"extractive": report.extractive, "llm": report.llm, "llm_failed": report.llm_failed,
                   "llm_error": report.llm_error, "seconds": round(report.seconds, 3), "stored": counts})
    else:
        line = f"tldr: {report.extractive:,} extractive written"
        if llm:
            line += f", {report.llm:,} from llm:{settings.tldr_model}, {report.llm_failed:,} failed"
        click.echo(f"{line} in {report.seconds:.1f} s; stored: "
                   + (", ".join(f"{count:,} {origin}" for origin, count in counts.items()) or "none"))
    if report.llm_error:
        fail(f"TL;DR endpoint: {report.llm_error} (the extractive TL;DR stays for those papers)")
