"""The research community's part of Daily Papers: local upvotes and submissions to a day's list."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Callable

from ..inputs import InputFile
from ..normalize import arxiv_id
from ..storage import Store

if TYPE_CHECKING:
    from ..pipeline import PipelineReport

ARXIV_API = "https://export.arxiv.org/api/query"


class CommunityError(ValueError):
    """A vote or submission that cannot be made (unknown paper, bad reference)."""


def resolve(store: Store, reference: str | int) -> int:
    """Return the item of an item id, arXiv id/URL or DOI, or raise CommunityError; an int is an item id the caller
    has just resolved, used as it is (see ``shelf._item``)."""
    if isinstance(reference, int):
        return reference
    item_id = store.find_item(reference)
    if item_id is None:
        raise CommunityError(f"no paper {reference!r} in the store (give an item id, arXiv id or URL, or DOI)")
    return item_id


def vote(store: Store, user_id: int, reference: str | int, up: bool = True) -> tuple[int, bool]:
    """Upvote a paper (or withdraw the vote); return its item id and whether anything changed."""
    item_id = resolve(store, reference)
    return item_id, store.set_vote(user_id, item_id, up)


def fetch_arxiv(store: Store, settings, identifier: str, api_url: str = ARXIV_API,
                on_stored: Callable[[PipelineReport], None] | None = None) -> int | None:
    """Fetch one paper from the arXiv API through the polite client, ingest it, tag and index it
    (``pipeline.after_ingest``, whose report goes to ``on_stored``), and return its item."""
    from ..fetch.client import FetchError, client_from_settings
    from ..ingest import Ingester

    url = f"{api_url}?id_list={identifier}&max_results=1"
    try:
        with client_from_settings(settings) as client:
            body = client.get(url, kind="arxiv").content
    except FetchError as error:
        raise CommunityError(f"cannot fetch arXiv {identifier}: {error}") from None
    entry = InputFile(origin=url, name=f"arxiv-{identifier.replace('/', '_')}.xml", read=lambda: body,
                      size=len(body))
    result = Ingester(store, format_name="arxiv-atom", settings=settings).ingest_inputs([entry]).files[0]
    if result.failed:
        raise CommunityError(f"arXiv's answer for {identifier} could not be read: {result.error}")
    item_id = store.find_item(identifier)
    if result.changed_item_ids:
        from ..pipeline import after_ingest

        # A person waits on this page: the model's TL;DR is left to the next sync or `paperfeed tldr --llm`.
        done = after_ingest(store, settings, result.changed_item_ids, llm_tldr=False)
        if on_stored is not None:
            on_stored(done)
    return item_id


def submit_paper(store: Store, user_id: int | None, reference: str, day: date, settings=None,
                 api_url: str = ARXIV_API,
                 on_stored: Callable[[PipelineReport], None] | None = None) -> tuple[int, bool]:
    """Put a paper on a day's list by arXiv id or URL; fetch it from arXiv when the store lacks it
    (only when ``settings`` are given), then tag and index it (``on_stored`` gets what that did).
    Return its item id and whether it was new on that day's list."""
    item_id = store.find_item(reference)
    if item_id is None:
        identifier = arxiv_id(reference)
        if identifier is None:
            raise CommunityError(f"{reference!r} is not an arXiv id or URL, nor a paper in the store")
        if settings is None:
            raise CommunityError(f"arXiv {identifier} is not in the store")
        item_id = fetch_arxiv(store, settings, identifier, api_url, on_stored)
        if item_id is None:
            raise CommunityError(f"arXiv has no paper {identifier}")
    return item_id, store.add_submission(item_id, day.isoformat(), user_id)
