"""Merge decisions: which item a record belongs to, and what a merged item says.

Everything here is pure: it takes records and item summaries and returns decisions,
so it can be tested without a store and reused by every backend.

Identity, in order:
1. a shared identifier: arXiv id (version stripped), DOI, or the source's own id
   (``format:record_id``; CSV and BibTeX ids are local to their file's label);
2. otherwise a near-duplicate title among the items that share a blocking key
   (the first or last four significant title words), confirmed by authors and year
   when both sides have them. Two different arXiv ids or DOIs never merge, and an
   item never takes two different records from the same origin file.

Field rule for a merged item (``resolve_item``), applied to all its source records:
- title, authors, identifiers and primary category come from the most authoritative
  source that has them (``FORMAT_RANK``; ties go to the record seen first);
- the abstract is the longest one (captures and feeds carry truncated teasers);
- published is the earliest full date any source gives (arXiv v1 before a listing day);
- categories are the union, the best source's order first; topics keep their highest confidence;
- upvotes are summed over sources, taking each source label's highest count;
- kind is ``paper`` if any source calls it a paper, else ``news``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Iterable

from rapidfuzz import fuzz

from .normalize import author_key, title_tokens
from .records import Record

FORMAT_RANK = {
    "arxiv-oai": 0,
    "arxiv-atom": 0,
    "arxiv-rss": 1,
    "jsonl": 1,
    "hf-daily": 2,
    "bibtex": 3,
    "csv": 3,
    "capture": 4,
    "feed": 4,
}
# Source ids that are unique only inside one file or library, not across a source.
_FILE_LOCAL_ID_FORMATS = {"csv", "bibtex"}

_STOPWORDS = frozenset(
    "a an and are as at by for from in into is it of on or the to via with without using towards toward".split()
)
BLOCK_WORDS = 4
TITLE_MATCH = 92.0
"""Minimum rapidfuzz ratio (0-100) of normalized titles for a confirmed near-duplicate."""
TITLE_MATCH_UNCONFIRMED = 97.0
"""Stricter bar when neither authors nor year can confirm the match."""


def rank(format_name: str) -> int:
    """Lower is more authoritative."""
    return FORMAT_RANK.get(format_name, 5)


def identifiers(record: Record, label: str | None = None) -> list[tuple[str, str]]:
    """The (scheme, value) identifiers a record carries, strongest first."""
    found: list[tuple[str, str]] = []
    if record.arxiv_id:
        found.append(("arxiv", record.arxiv_id))
    if record.doi:
        found.append(("doi", record.doi))
    if not found and record.record_id:
        scope = f"{label or ''}:" if record.format in _FILE_LOCAL_ID_FORMATS else ""
        found.append(("source", f"{record.format}:{scope}{record.record_id}"))
    return found


def significant_words(title: str) -> list[str]:
    """Title tokens without stopwords."""
    return [token for token in title_tokens(title) if token not in _STOPWORDS]


def block_keys(title: str) -> list[int]:
    """Blocking keys: items sharing one are compared; everything else is assumed different.

    A key is the first or the last ``BLOCK_WORDS`` significant words (all of them for short
    titles), hashed to a signed 64-bit integer: compact to index, and a rare collision only
    adds a candidate that the title comparison then rejects.
    """
    words = significant_words(title)
    if not words:
        return []
    if len(words) <= BLOCK_WORDS:
        return [_key_hash("w " + " ".join(words))]
    return [_key_hash("f " + " ".join(words[:BLOCK_WORDS])), _key_hash("l " + " ".join(words[-BLOCK_WORDS:]))]


def _key_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def fingerprint(record: Record, origin_name: str) -> str:
    """Identity of a source record: the same bytes from the same named file are the same record."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (record.format, origin_name, record.record_id, record.raw):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


@dataclass(slots=True)
class ItemSummary:
    """What the matcher needs to know of an item."""

    item_id: int
    title: str
    title_norm: str
    surnames: frozenset[str]
    year: int | None
    arxiv_id: str | None
    doi: str | None
    origins: set[str] = field(default_factory=set)
    record_ids: set[tuple[str, str]] = field(default_factory=set)
    """(origin, record_id) pairs already in the item."""


def surnames(authors: Iterable[str]) -> frozenset[str]:
    """Folded surnames of a list of display names."""
    return frozenset(key.split("|", 1)[0] for key in (author_key(name) for name in authors) if key)


def summarize(item_id: int, title: str, authors: Iterable[str], year: int | None,
              arxiv_id: str | None, doi: str | None) -> ItemSummary:
    """Build the matcher's view of an item."""
    return ItemSummary(item_id, title, " ".join(title_tokens(title)), surnames(authors), year, arxiv_id, doi)


def title_similarity(a: str, b: str) -> float:
    """Similarity 0-100 of two normalized titles, tolerant of one dropped or reordered word."""
    if a == b:
        return 100.0
    return max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b))


def match_score(record: ItemSummary, origin: str, candidate: ItemSummary) -> float:
    """Score how surely ``record`` is the same work as ``candidate``: 0 if not, else the title similarity."""
    if record.arxiv_id and candidate.arxiv_id and record.arxiv_id != candidate.arxiv_id:
        return 0.0
    if record.doi and candidate.doi and record.doi != candidate.doi:
        return 0.0
    if origin in candidate.origins:
        return 0.0
    similarity = title_similarity(record.title_norm, candidate.title_norm)
    if similarity < TITLE_MATCH:
        return 0.0
    confirmed = False
    if record.year and candidate.year:
        if abs(record.year - candidate.year) > 1:
            return 0.0
        confirmed = True
    if record.surnames and candidate.surnames:
        shared = len(record.surnames & candidate.surnames)
        if shared * 2 < min(len(record.surnames), len(candidate.surnames)):
            return 0.0
        confirmed = True
    short = len(record.title_norm.split()) < 4
    if (short or not confirmed) and similarity < TITLE_MATCH_UNCONFIRMED:
        return 0.0
    if short and not (record.surnames and candidate.surnames):
        # "Introduction", "Editorial": a short title alone says nothing about identity.
        return 0.0
    return similarity


def best_match(record: ItemSummary, origin: str, candidates: Iterable[ItemSummary]) -> ItemSummary | None:
    """The best-scoring candidate that is the same work, or None."""
    best, best_score = None, 0.0
    for candidate in candidates:
        score = match_score(record, origin, candidate)
        if score > best_score:
            best, best_score = candidate, score
    return best


def record_data(record: Record) -> dict[str, Any]:
    """The normalized fields of a record that ``resolve_item`` reads, stored beside its raw text.

    Empty fields are left out, and so is the abstract: it is the bulk of a record, the raw
    text holds it, and the item keeps the longest one seen (see ``resolve_item``).
    """
    data: dict[str, Any] = {"format": record.format, "title": record.title}
    if record.kind != "paper":
        data["kind"] = record.kind
    for name in ("authors", "arxiv_id", "doi", "url", "published", "year", "categories", "label", "extra"):
        value = getattr(record, name)
        if value:
            data[name] = value
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


def resolve_item(records: list[dict[str, Any]], abstracts: Iterable[str] = ()) -> ItemFields:
    """Merge the stored data of an item's source records (in the order seen) into its fields.

    ``abstracts`` are the candidates for the abstract: the item's current one and those of
    the records it gains now; the longest wins (the first of equals).
    """
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
    for data in ranked:
        for name in ("title", "authors", "arxiv_id", "doi", "url"):
            if name not in best and data.get(name):
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
        doi=best.get("doi"),
        url=f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else best.get("url"),
        published=published,
        year=int(published[:4]) if published else (min(years) if years else None),
        categories=categories,
        topics=topics,
        upvotes=sum(upvotes_by_label.values()),
        withdrawn=all(data.get("deleted") for data in records),
    )
