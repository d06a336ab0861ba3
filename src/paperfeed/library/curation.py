"""A person's corrections of merging: split records out of an item, merge two items, and why each record is
where it is. Each decision is remembered (ingest, sync and later matchers keep it) and is followed by
``pipeline.after_ingest`` for the changed items, so search, topics and author pages follow (and the extractive
TL;DR: a person waits on these from the web, so a model's TL;DR is left to the next sync or ``paperfeed tldr``)."""

from __future__ import annotations

from typing import Any

from ..ingest import CurationError, Curated, merge_items, split_item
from ..pipeline import PipelineReport, after_ingest
from ..storage import Store

__all__ = ["CurationError", "Curated", "describe_reason", "merge", "split", "why"]


def _item(store: Store, reference: str) -> int:
    item_id = store.find_item(str(reference))
    if item_id is None:
        raise CurationError(f"no item {reference!r} (give an item id, an arXiv id or a DOI)")
    return item_id


def split(store: Store, settings, reference: str, record_ids: list[str], actor: str,
          pipeline: bool = True) -> tuple[Curated, PipelineReport | None]:
    """Split the records ``record_ids`` of an item off into a new item; then tag, index and date both."""
    done = split_item(store, _item(store, reference), list(record_ids), actor)
    return done, after_ingest(store, settings, done.changed_item_ids, llm_tldr=False) if pipeline else None


def merge(store: Store, settings, keep: str, gone: str, actor: str,
          pipeline: bool = True) -> tuple[Curated, PipelineReport | None]:
    """Join item ``gone`` into item ``keep``; then tag, index and date the result."""
    done = merge_items(store, _item(store, keep), _item(store, gone), actor)
    return done, after_ingest(store, settings, done.changed_item_ids, llm_tldr=False) if pipeline else None


def why(store: Store, reference: str) -> dict[str, Any]:
    """Why each source record of an item is in it, and the decisions about the item."""
    item_id = _item(store, reference)
    item = store.item(item_id)
    return {"id": item_id, "title": item["title"],
            "sources": [{"record_id": source["record_id"], "format": source["format"],
                         "origin": source["origin"], "reason": source["reason"],
                         "why": describe_reason(source["reason"])} for source in item["sources"]],
            "decisions": store.merge_decisions([item_id])}


def describe_reason(reason: dict[str, Any] | None) -> str:
    """One line saying why a record is in its item."""
    if not reason:
        return "stored before reasons were kept"
    by = reason.get("by")
    if by == "new":
        return "started the item (no stored item shared an identifier or a title with it)"
    if by == "identifier":
        return f"shares the {_scheme(reason['scheme'])} {reason['value']} with the item"
    if by == "bridge":
        also = reason.get("also") or ["", ""]
        return (f"carries the {_scheme(reason['scheme'])} {reason['value']} and the {_scheme(also[0])} {also[1]}: "
                f"joined items {' and '.join(map(str, reason.get('joined', [])))}")
    if by == "title":
        return (f"title match, score {reason.get('score')} (runner-up {reason.get('runner_up')}): title "
                f"similarity {reason.get('title_similarity')}, years {reason.get('years')}, "
                f"{reason.get('shared_authors')} shared authors of {reason.get('authors')}, "
                f"with {reason.get('title')!r}")
    if by == "conflict":
        return f"kept out of item {reason.get('item')} and started this one: {reason.get('why')}"
    if by == "decision":
        return f"a later version of a record a person moved here (decision {reason.get('decision')})"
    if by in ("split", "merge"):
        verb = "split off item" if by == "split" else "merged in from item"
        before = describe_reason(reason.get("before"))
        return f"{verb} {reason.get('from')} by a person (decision {reason.get('decision')}); before: {before}"
    return str(reason)


def _scheme(scheme: str) -> str:
    return {"arxiv": "arXiv id", "doi": "DOI", "source": "source id"}.get(scheme, scheme)
