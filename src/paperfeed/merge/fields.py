"""Field resolution: what a merged item says, from the stored data of its source records.

Field rule for a merged item (``resolve_item``), applied to all its source records:
- title, authors, identifiers and primary category come from the most authoritative
  source that has them (``FORMAT_RANK``; ties go to the record seen first);
- the abstract is the longest one (captures and feeds carry truncated teasers);
- published is the earliest full date any source gives (arXiv v1 before a listing day); the year is its year,
  else the year most records give (the best source's among equals);
- categories are the union, the best source's order first; topics keep their highest confidence;
- upvotes are summed over sources, taking each source label's highest count;
- kind is ``paper`` if any source calls it a paper, else ``news``.
"""

from __future__ import annotations

import operator
from collections import Counter
from dataclasses import dataclass, fields
from typing import Any, Iterable

from ..records import Record
from .keys import is_preprint_doi

FORMAT_RANK = {
    "arxiv-oai": 0,
    "arxiv-atom": 0,
    "arxiv-rss": 1,
    "jsonl": 1,
    "hf-daily": 2,
    # Publisher and curated bibliographic metadata: full author names, the title as published.
    "crossref": 2,
    "dblp": 2,
    "mods": 2,
    "openreview": 3,
    "semantic-scholar": 3,
    "bibtex": 3,
    "csv": 3,
    # Reference managers: what a person typed or imported.
    "ris": 3,
    "csl-json": 3,
    "zotero": 3,
    "capture": 4,
    "feed": 4,
    "biorxiv": 4,  # authors as initials ("Okafor, C. N."): the journal's record names them in full
}
"""Lower is more authoritative: the best-ranked record that has a field gives it (see ``resolve_item``);
a format not listed ranks 5."""


def record_data(record: Record) -> dict[str, Any]:
    """The normalized fields of a record that ``resolve_item`` reads, stored beside its raw text.

    Empty fields are left out, and so is the abstract: it is the bulk of a record, the raw
    text holds it, and the item keeps the longest one seen (see ``resolve_item``).
    """
    data: dict[str, Any] = {"format": record.format, "title": record.title}
    if record.kind != "paper":
        data["kind"] = record.kind
    # Field by field, in this order (the stored JSON's): twice as fast as a getattr loop, on every record ingested.
    if record.authors:
        data["authors"] = record.authors
    if record.arxiv_id:
        data["arxiv_id"] = record.arxiv_id
    if record.doi:
        data["doi"] = record.doi
    if record.url:
        data["url"] = record.url
    if record.published:
        data["published"] = record.published
    if record.year:
        data["year"] = record.year
    if record.categories:
        data["categories"] = record.categories
    if record.label:
        data["label"] = record.label
    if record.extra:
        data["extra"] = record.extra
    if record.topics:
        data["topics"] = [list(pair) for pair in record.topics]
    if record.deleted:
        data["deleted"] = True
    return data


@dataclass(slots=True)
class ItemFields:
    """An item's merged fields."""

    kind: str
    title: str
    abstract: str
    authors: list[str]
    arxiv_id: str | None
    doi: str | None
    url: str | None
    published: str | None
    year: int | None
    categories: list[str]
    topics: dict[str, float]
    upvotes: int
    withdrawn: bool

    def __reduce__(self) -> tuple[type["ItemFields"], tuple]:
        # By position, as ``records.Record``: a prepared record carries its own item's fields across the pipe of
        # ``ingest.ahead``.
        return ItemFields, _item_field_values(self)


_item_field_values = operator.attrgetter(*(item.name for item in fields(ItemFields)))


def resolve_item(records: list[dict[str, Any]], abstracts: Iterable[str] = ()) -> ItemFields:
    """Merge the stored data of an item's source records (in the order seen) into its fields.

    ``abstracts`` are the candidates for the abstract: the item's current one and those of
    the records it gains now; the longest wins (the first of equals).
    """
    if len(records) == 1:
        return _resolve_single(records[0], abstracts)
    live = [data for data in records if not data.get("deleted")] or records
    # Stable sort: among sources of equal rank the record seen first wins.
    ranked = sorted(live, key=lambda data: FORMAT_RANK.get(data["format"], 5)) if len(live) > 1 else live
    best: dict[str, Any] = {}
    categories: list[str] = []
    topics: dict[str, float] = {}
    upvotes_by_label: dict[str, int] = {}
    published = None
    years = []
    kind = "news"
    preprint_doi = None  # the item's DOI only when no record names the published version's
    for data in ranked:
        for name in ("title", "authors", "arxiv_id", "doi", "url"):
            if name not in best and data.get(name):
                if name == "doi" and is_preprint_doi(data["doi"]):
                    preprint_doi = preprint_doi or data["doi"]
                    continue
                best[name] = data[name]
        for category in data.get("categories", ()):
            if category not in categories:
                categories.append(category)
        for name, confidence in data.get("topics", ()):
            topics[name] = max(confidence, topics.get(name, 0.0))
        votes = data["extra"].get("upvotes") if "extra" in data else None
        if isinstance(votes, int):
            label = data.get("label") or data["format"]
            upvotes_by_label[label] = max(votes, upvotes_by_label.get(label, 0))
        day = data.get("published")
        if day and (published is None or day < published):
            published = day
        if data.get("year"):
            years.append(data["year"])
        if data.get("kind", "paper") == "paper":
            kind = "paper"
    abstract = ""
    for text in abstracts:
        if len(text) > len(abstract):
            abstract = text
    arxiv_id = best.get("arxiv_id")
    return ItemFields(
        kind=kind,
        title=best.get("title", ""),
        abstract=abstract,
        authors=list(best.get("authors", ())),
        arxiv_id=arxiv_id,
        doi=best.get("doi") or preprint_doi,
        url=f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else best.get("url"),
        published=published,
        year=int(published[:4]) if published else _year(years),
        categories=categories,
        topics=topics,
        upvotes=sum(upvotes_by_label.values()),
        withdrawn=all(data.get("deleted") for data in records),
    )


def _resolve_single(data: dict[str, Any], abstracts: Iterable[str]) -> ItemFields:
    """``resolve_item`` of an item of one record (most new items): the same fields, without ranking or merging
    (a fifth of the time). Its DOI is the record's, a preprint server's or not; its year the record's."""
    categories: list[str] = []
    for category in data.get("categories", ()):
        if category not in categories:
            categories.append(category)
    topics: dict[str, float] = {}
    for name, confidence in data.get("topics", ()):
        topics[name] = max(confidence, topics.get(name, 0.0))
    votes = data["extra"].get("upvotes") if "extra" in data else None
    abstract = ""
    for text in abstracts:
        if len(text) > len(abstract):
            abstract = text
    arxiv_id = data.get("arxiv_id") or None
    published = data.get("published") or None
    return ItemFields(
        kind="paper" if data.get("kind", "paper") == "paper" else "news",
        title=data.get("title") or "",
        abstract=abstract,
        authors=list(data.get("authors") or ()),
        arxiv_id=arxiv_id,
        doi=data.get("doi") or None,
        url=f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else data.get("url") or None,
        published=published,
        year=int(published[:4]) if published else data.get("year") or None,
        categories=categories,
        topics=topics,
        upvotes=0 + max(votes, 0) if isinstance(votes, int) else 0,  # 0 +: a bool count is summed as a number
        withdrawn=bool(data.get("deleted")),
    )


def _year(years: list[int]) -> int | None:
    """The year most of an item's records give (without a full date), the best source's among equals: a scraped
    listing a year or two off does not move the item's year (the matcher compares the next listing with it)."""
    if not years:
        return None
    first = years[0]
    if all(year == first for year in years):
        return first
    counts = Counter(years)
    return max(years, key=lambda year: counts[year])  # max keeps the first of equals: the best-ranked source's


def record_venue(data: dict[str, Any]) -> str | None:
    """Where a source record says the work was published (a BibTeX journal or booktitle, a CSV venue column,
    an arXiv journal reference), or None."""
    extra = data.get("extra") or {}
    for name in ("venue", "journal_ref"):
        value = extra.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def version_of(data: dict[str, Any]) -> dict[str, Any]:
    """Which version of the work a source record is: ``preprint`` (a preprint server's record: its DOI is one
    of theirs, ``keys.is_preprint_doi``, or its ``doi`` names the journal version and its own DOI is kept as
    ``extra["preprint_doi"]``), ``published`` (it names another DOI, or a venue), ``preprint`` (an arXiv id and
    nothing published), else ``record``; with its ids (a preprint's own DOI), venue and year."""
    doi_value, venue = data.get("doi"), record_venue(data)
    own_preprint = (data.get("extra") or {}).get("preprint_doi")
    if isinstance(own_preprint, str) and own_preprint:
        doi_value = own_preprint
    server = bool(doi_value and is_preprint_doi(doi_value))
    published = not server and bool(venue or doi_value)
    kind = "published" if published else "preprint" if server or data.get("arxiv_id") else "record"
    return {"version": kind, "arxiv_id": data.get("arxiv_id"), "doi": doi_value, "venue": venue,
            "year": data.get("year")}


def published_venue(records: list[dict[str, Any]]) -> str | None:
    """The venue an item shows: that of its most authoritative published source record (``FORMAT_RANK``,
    then the one seen first) that names one; None for a work known only as a preprint."""
    named = [data for data in records if not data.get("deleted") and record_venue(data)]
    if not named:
        return None
    # Records that carry a DOI as well are the published version itself, not a reference to it.
    named.sort(key=lambda data: (not data.get("doi"), FORMAT_RANK.get(data["format"], 5)))
    return record_venue(named[0])
