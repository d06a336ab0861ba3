"""The query layer the HTML pages and the JSON API share: each function returns plain data (dicts and lists).

Pages render these dicts with templates; ``/api/v1`` returns them as JSON. Nothing here knows about HTTP.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from ..library.curation import describe_reason
from ..normalize import xml_text
from ..sources.labels import format_label, source_label
from ..storage import TopicRow
from .context import Context
from .partcache import cached

SEARCH_FILTERS = ("kind", "topic", "author", "category", "source", "after", "before")
_SAFE_SCHEMES = ("http", "https")
_GITHUB = re.compile(r"^https://github\.com/[\w.-]+/[\w.-]+/?$")


MAX_ID = 2 ** 63 - 1
"""The largest id either backend stores (a signed 64-bit integer); a larger one in a URL names nothing."""


class NotFound(LookupError):
    """What a page or API call asked for does not exist; the message says what."""


_PLAIN_HTTP_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?:[/?#][!#$%&'()*+,/:;=?@A-Za-z0-9._~-]*)?")
"""An http(s) URL of plain ASCII with a host (nearly every stored one: arXiv's): ``urlsplit`` would take its scheme
and a non-empty host from it, so ``safe_url`` keeps it without splitting it (a search page checks 20 of them)."""


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an http(s) URL, else None: an ingested ``javascript:`` link must never become an href."""
    if not url:
        return None
    if _PLAIN_HTTP_URL.fullmatch(url):
        return url
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme.lower() in _SAFE_SCHEMES and parts.netloc else None


def resolve_item(context: Context, reference: str) -> int:
    """The item id of an id, arXiv id or DOI; NotFound if none."""
    item_id = context.store.find_item(reference)
    if item_id is None:
        raise NotFound(f"no item {reference!r}")
    return item_id


def item_links(item: dict[str, Any], records: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Every link an item's sources give, http(s) only, each once: arXiv abstract and PDF, DOI, Hugging Face's
    paper page, GitHub, the project page, then each source record's own page (named by its source label).

    ``records`` are the item's live source records (``Store.item_source_details``: format, label, url, extra).
    """
    from ..sources.hf_daily import FORMAT as HF_DAILY, PAPER_URL as HF_PAPER_URL
    from ..sources.labels import source_label

    links: list[dict[str, str]] = []

    def add(label: str, url: str | None, kind: str) -> None:
        url = safe_url(url)
        if url and all(link["url"].rstrip("/") != url.rstrip("/") for link in links):
            links.append({"label": label, "url": url, "kind": kind})

    arxiv = item.get("arxiv_id")
    if arxiv:
        add("arXiv", f"https://arxiv.org/abs/{quote(arxiv)}", "arxiv")
        add("PDF", f"https://arxiv.org/pdf/{quote(arxiv)}", "pdf")
    if item.get("doi"):
        add("DOI", f"https://doi.org/{quote(item['doi'], safe='/')}", "doi")
    for record in records:
        if record["format"] == HF_DAILY:
            url = record.get("url") if str(record.get("url") or "").startswith(HF_PAPER_URL) else None
            add("Hugging Face", url or (HF_PAPER_URL + quote(arxiv) if arxiv else None), "huggingface")
    for record in records:
        extra = record.get("extra") or {}
        repo = extra.get("github_repo") or extra.get("githubRepo")
        if isinstance(repo, str) and _GITHUB.match(repo.strip()):
            add("GitHub", repo.strip(), "github")
    for record in records:
        page = (record.get("extra") or {}).get("project_page")
        if isinstance(page, str):
            add("Project page", page.strip(), "project")
    for record in records:
        add(source_label(record["format"], record.get("label")), record.get("url"), "source")
    add("Source", item.get("url"), "source")
    return links


def item_page(context: Context, item_id: int, similar: int = 8) -> dict[str, Any]:
    """An item with provenance, links, topics (with confidence), authors (with ids), similar items and BibTeX.

    Cached (``cached``): a signed-in reader's item page is rendered every time (it shows their own marks, which
    are read apart), but the item's part is the same for everyone, and its similar items are a search.
    """
    return cached(context, ("item", context.settings.db, item_id, similar),
                  lambda: _item_page(context, item_id, similar))


def _item_page(context: Context, item_id: int, similar: int) -> dict[str, Any]:
    store = context.store
    item = store.item(item_id)
    if item is None:
        raise NotFound(f"no item {item_id}")
    from ..authors import item_people
    from ..daily.listing import card_extras
    from ..sources.hf_daily import FORMAT as HF_DAILY

    item["author_links"] = [with_url(ref) for ref in item_people(store, item_id)]
    topic_rows = {row.name: row for row in store.topics()}
    topics = []
    for name, by, confidence in store.item_topic_confidences([item_id]).get(item_id, []):
        row = topic_rows.get(name)
        # Filed as on the topic's own page: a gold label always, the tagger's guess at or above the cut-off.
        filed = by != "tagger" or row is None or row.cutoff is None or confidence >= row.cutoff
        topics.append({"name": name, "slug": row.slug if row else None, "assigned_by": by,
                       "confidence": round(confidence, 4), "filed": filed})
    item["topics"] = [topic for topic in topics if topic["filed"]]
    item["topics_below_cutoff"] = [topic for topic in topics if not topic["filed"]]
    records = store.item_source_details([item_id]).get(item_id, {}).get("sources", [])
    item["links"] = item_links(item, records)
    item["hugging_face"] = card_extras([r for r in records if r["format"] == HF_DAILY]) if any(
        r["format"] == HF_DAILY for r in records) else None
    for source in item["sources"]:
        source["why"] = describe_reason(source["reason"])
        source["source_label"] = source_label(source["format"], source["label"])
        source["format_label"] = format_label(source["format"])
    item["decisions"] = store.merge_decisions([item_id])
    item["comment_count"] = store.comment_counts([item_id])[item_id]
    item["bibtex"] = bibtex(context, item)
    item["similar"] = similar_items(context, item_id, similar) if similar else []
    return item


def similar_items(context: Context, item_id: int, limit: int = 8) -> list[dict[str, Any]]:
    """Items most like this one (semantic when vectors exist, else by title words); [] without an index."""
    from ..search import SearchIndexError

    try:
        hits = context.search.similar(item_id, limit, mode="hybrid")
    except (SearchIndexError, OSError, ValueError):  # no index built yet: the page still shows the item
        return []
    return [_hit(hit) for hit in hits]


def _hit(hit) -> dict[str, Any]:
    data = hit.to_dict()
    data["url"] = safe_url(data.get("url"))
    return data


def build_query(text: str, filters: dict[str, str | None]) -> str:
    """The search language text for free text plus form filters (``kind:paper author:"Jane Doe" after:2025``)."""
    parts = [text.strip()] if text and text.strip() else []
    for name in SEARCH_FILTERS:
        value = (filters.get(name) or "").strip().replace('"', "")
        if value:
            parts.append(f'{name}:"{value}"' if " " in value else f"{name}:{value}")
    return " ".join(parts)


def _no_results(query: str, mode: str, offset: int, limit: int, note: str = "") -> dict[str, Any]:
    return {"query": query, "mode": mode, "hits": [], "behind": {}, "coverage": {}, "catching_up": "", "note": note,
            "milliseconds": 0.0, "offset": offset, "limit": limit}


def search(context: Context, query: str, mode: str = "hybrid", limit: int = 20, offset: int = 0,
           keep_results: bool = False) -> dict[str, Any]:
    """Run a search; the result says which mode ran, how far the indexes are behind, and the hits."""
    from ..search import MODES, QueryTooLarge, SearchIndexError

    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
    if not query.strip():
        return _no_results(query, mode, offset, limit)
    try:
        results = context.search.search(query, mode=mode, limit=limit, offset=offset)
    except QueryTooLarge:
        raise  # a 414 or 400 naming the limit (app.py), not a page that says "search failed"
    except SearchIndexError as error:
        return _no_results(query, mode, offset, limit, str(error))
    except (OSError, ValueError) as error:  # tantivy reports a missing or unreadable index this way
        note = "the search index is not built yet: run `paperfeed index`" if "No such file" in str(error) or \
            "does not exist" in str(error) else f"search failed: {error}"
        return _no_results(query, mode, offset, limit, note)
    return _search_page(results, query, offset, limit, keep_results)


def cached_search(context: Context, query: str, mode: str = "hybrid", limit: int = 20,
                  offset: int = 0, keep_results: bool = False) -> dict[str, Any] | None:
    """``search``'s answer when it needs no search: a repeat the result cache holds for the store as it is now.

    Quick enough for the event loop (a version read and a lookup) where the store is a local file and this
    context's search service is open; None otherwise, and for anything else (a miss, an index not built yet),
    which ``search`` answers in a thread.
    """
    from ..search import MODES, QueryTooLarge

    service = context.search_if_open()
    if service is None or mode not in MODES or not query.strip() or context.store.path is None:
        return None
    try:
        results = service.cached(query, mode=mode, limit=limit, offset=offset)
    except QueryTooLarge:
        raise
    except (OSError, ValueError):  # what `search` explains: leave it to it
        return None
    return _search_page(results, query, offset, limit, keep_results) if results is not None else None


def _search_page(results, query: str, offset: int, limit: int, keep_results: bool = False) -> dict[str, Any]:
    hits = results.derived.get("web_hits")
    if hits is None:  # made once per cached result: a repeat reuses it (read-only from here on)
        hits = results.derived["web_hits"] = [_hit(hit) for hit in results.hits]
    return {"query": query, "mode": results.mode, "hits": hits, "behind": results.behind, "note": results.note,
            "milliseconds": round(results.milliseconds, 2), "offset": offset, "limit": limit, "total": results.total,
            "coverage": results.coverage, "catching_up": results.catching_up,
            **({SEARCH_RESULTS: results} if keep_results else {})}


SEARCH_RESULTS = "_results"
"""The key of a search page's ``SearchResults`` when asked to keep them (``keep_results``: the API's, for
``search_json``); not part of the page's data."""


def search_json(page: dict[str, Any]) -> bytes:
    """A search page as the API's JSON: its hits are serialized once per cached result (20 hits with snippets are
    most of the body), and a repeat splices those bytes in."""
    results = page.get(SEARCH_RESULTS)
    data = {key: value for key, value in page.items() if key != SEARCH_RESULTS}
    if results is not None:
        hits_json = results.derived.get("web_hits_json")
        if hits_json is None:
            hits_json = results.derived["web_hits_json"] = orjson.Fragment(orjson.dumps(data["hits"]))
        data["hits"] = hits_json
    return orjson.dumps(data)


def _topic_json(row: TopicRow, count: int | None = None) -> dict[str, Any]:
    data = {"name": row.name, "slug": row.slug, "description": row.description, "origin": row.origin,
            "cutoff": row.cutoff, "cutoff_precision": row.cutoff_precision}
    if count is not None:
        data["items"] = count
    return data


def topics(context: Context) -> list[dict[str, Any]]:
    """Every topic with its item count, busiest first."""
    def compute() -> list[dict[str, Any]]:
        counts = context.store.topic_item_counts()
        rows = [_topic_json(row, counts.get(row.id, 0)) for row in context.store.topics()]
        return sorted(rows, key=lambda row: (-row["items"], row["name"]))

    return cached(context, ("topics", context.settings.db), compute)


def find_topic(context: Context, slug: str) -> TopicRow:
    """The topic with this slug; NotFound if none."""
    for row in context.store.topics():
        if row.slug == slug:
            return row
    raise NotFound(f"no topic {slug!r}")


def topic_page(context: Context, slug: str, limit: int = 25, offset: int = 0, weeks: int = 26,
               authors: int = 15, all_items: bool = False) -> dict[str, Any]:
    """A topic's items newest first (with source labels), Collaborating Authors, and items per week.

    The items are those filed under the topic (at or above its cut-off); ``all_items`` lists those below too.
    """
    row = find_topic(context, slug)
    return cached(context, ("topic", context.settings.db, slug, limit, offset, weeks, authors, all_items),
                  lambda: _topic_page(context, row, limit, offset, weeks, authors, all_items))


TEASER_CHARS = 320
"""About three lines of a teaser in the main column at desktop width (CSS clamps it to three lines)."""


def teaser(abstract: str | None, limit: int = TEASER_CHARS) -> str:
    """The abstract's start, cut at a word boundary with an ellipsis when longer than ``limit``."""
    text = " ".join((abstract or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:.-–— ")
    return cut + "…"


def _topic_page(context: Context, row: TopicRow, limit: int, offset: int, weeks: int, authors: int,
                all_items: bool) -> dict[str, Any]:
    from ..authors import collaborating_authors
    from ..topics.trends import weekly_counts

    store = context.store
    filed, held = store.topic_counts(row.id)
    items = store.topic_items(row.id, limit=limit + 1, offset=offset, min_confidence=0.0 if all_items else None)
    shown = [item["id"] for item in items[:limit]]
    summaries = store.item_summaries(shown)
    abstracts = store.item_abstracts(shown, TEASER_CHARS + 80)
    for item in items:
        item["authors"] = summaries.get(item["id"], {}).get("authors", [])
        item["teaser"] = teaser(abstracts.get(item["id"]))
    people = collaborating_authors(store, row.id, limit=authors)
    by_key = {person["key"]: with_url(person) for person in people["authors"]}
    for person in people["authors"]:
        person["collaborators"] = []
    for edge in people["edges"]:
        edge["source_name"], edge["target_name"] = by_key[edge["source"]]["name"], by_key[edge["target"]]["name"]
        edge["source_url"], edge["target_url"] = by_key[edge["source"]]["url"], by_key[edge["target"]]["url"]
        # Who works with whom, from each person's side: their co-authors among the topic's most active people.
        for one, other in ((edge["source"], edge["target"]), (edge["target"], edge["source"])):
            by_key[one]["collaborators"].append({"name": by_key[other]["name"], "url": by_key[other]["url"],
                                                 "papers": edge["papers"]})
    return {**_topic_json(row), "items": items[:limit], "has_more": len(items) > limit, "offset": offset,
            "limit": limit, "all": all_items, "filed_items": filed, "below_cutoff": held - filed,
            "collaborating_authors": people,
            "trend": weekly_counts(store.topic_day_counts(row.id), weeks=weeks)}


def topic_trend_svg(context: Context, slug: str, weeks: int = 26) -> str:
    """The topic's items-per-week bar chart as an SVG document."""
    from ..topics.chart import weekly_svg
    from ..topics.trends import weekly_counts

    row = find_topic(context, slug)
    return cached(context, ("trend", context.settings.db, slug, weeks),
                  lambda: weekly_svg(xml_text(row.name),
                                     weekly_counts(context.store.topic_day_counts(row.id), weeks=weeks),
                                     chart_id=f"trend-{row.id}"))


def with_url(ref: dict[str, Any]) -> dict[str, Any]:
    """A person reference with its page's address: ``/people/<id>``, or ``/authors/<author id>`` for a name whose
    people are not decided yet."""
    ref["url"] = f"/people/{ref['id']}" if ref.get("id") is not None else f"/authors/{ref['author_id']}"
    return ref


def _profile_page(context: Context, profile: dict[str, Any]) -> dict[str, Any]:
    slugs = {row.name: row.slug for row in context.store.topics()}
    for topic in profile["topics"]:
        topic["slug"] = slugs.get(topic["name"])
    for collaborator in profile["collaborators"]:
        with_url(collaborator)
    return with_url(profile)


def person_page(context: Context, person_id: int, limit: int = 50) -> dict[str, Any]:
    """A person: names, papers, topics and collaborators; NotFound if no such person."""
    from ..authors import person_profile

    # ids are 64-bit: no larger one exists (and SQLite refuses to compare with one)
    profile = person_profile(context.store, person_id, paper_limit=limit) if 0 < person_id <= MAX_ID else None
    if profile is None:
        raise NotFound(f"no person {person_id}")
    return _profile_page(context, profile)


def author_page(context: Context, author_id: int, limit: int = 50) -> dict[str, Any]:
    """What an author id (a name; the address author pages had before people) stands for now; NotFound if none.

    ``redirect``: the one person the name stands for. ``people``: the several it stands for (a list to choose
    from). Else the name's papers as one page (a store whose people are not decided yet).
    """
    from ..authors import author_profile, people_of_author

    people = people_of_author(context.store, author_id) if 0 < author_id <= MAX_ID else []
    if not people:
        raise NotFound(f"no author {author_id}")
    if len(people) == 1 and people[0]["id"] is not None:
        return {"redirect": with_url(people[0])["url"], "person": people[0]["id"]}
    if len(people) > 1:
        return {"name": context.store.author_names([author_id])[author_id],
                "people": [_described(context, with_url(ref)) for ref in people]}
    return _profile_page(context, author_profile(context.store, people[0]["author_id"], paper_limit=limit))


def _described(context: Context, ref: dict[str, Any]) -> dict[str, Any]:
    """A person in a list to choose from: their topics and latest paper, to tell namesakes apart."""
    from ..authors import author_profile, person_profile

    store = context.store
    profile = (person_profile(store, ref["id"], paper_limit=1) if ref["id"] is not None
               else author_profile(store, ref["author_id"], paper_limit=1))
    ref["topics"] = [topic["name"] for topic in profile["topics"][:3]]
    ref["latest"] = profile["papers"][0]["title"] if profile["papers"] else ""
    ref["collaborators"] = [person["name"] for person in profile["collaborators"][:3]]
    return ref


def find_authors(context: Context, name: str) -> list[dict[str, Any]]:
    """The people a name refers to, each with its display name, papers count and page address."""
    from ..authors import people_named

    found = [with_url(ref) for ref in people_named(context.store, name)]
    if len(found) > 1:  # namesakes: say what tells them apart
        found = [_described(context, ref) for ref in found]
    return found


def bibtex_key(context: Context, item: dict[str, Any]) -> str:
    """The item's citation key, unique among the items that share its first author (``library.citation``)."""
    from ..library.citation import unique_keys

    works = context.store.first_author_works(item["id"]) if item.get("authors") else []
    if not any(work["id"] == item["id"] for work in works):
        works.append(item)
    return unique_keys(works)[item["id"]]


def bibtex(context: Context, item: dict[str, Any]) -> str:
    """A BibTeX entry for an item (``@article`` with eprint fields for arXiv papers, ``@misc`` for news)."""
    from ..library.citation import bibtex_entry

    return bibtex_entry(item, bibtex_key(context, item), safe_url(item.get("url")))


def span_label(day: str, span: str) -> str:
    """How the day, week or month holding ``day`` is named in navigation: ``Mon 29 Dec 2025``, ``Week of 22 Dec
    2025``, ``December 2025``."""
    from datetime import date

    from ..daily import date_range

    moment = date.fromisoformat(day)
    if span == "month":
        return moment.strftime("%B %Y")
    if span == "week":
        monday = date_range(moment, "week")[0]
        return f"Week of {monday.day} {monday:%b %Y}"
    return f"{moment:%a} {moment.day} {moment:%b %Y}"


def span_navigation(moment, span: str, page) -> dict[str, Any]:
    """Previous and next links of a day, week or month page: the nearest earlier and later ranges with papers."""
    def url(day: str) -> str:
        return f"/papers/{day}" + ("" if span == "day" else f"?span={span}")

    return {"title": span_label(moment.isoformat(), span),
            "previous_url": url(page.previous) if page.previous else None,
            "previous_label": span_label(page.previous, span) if page.previous else None,
            "next_url": url(page.next) if page.next else None,
            "next_label": span_label(page.next, span) if page.next else None}


def daily(context: Context, day: str | None = None, span: str = "day", limit: int = 50,
          offset: int = 0) -> dict[str, Any]:
    """The Daily Papers of a day (default: the latest day with papers), ISO week or month, by trending score."""
    from datetime import date, datetime, timezone

    from ..daily import TrendingWeights, daily_page

    if span not in ("day", "week", "month"):
        raise ValueError(f"unknown span {span!r}: choose day, week or month")
    if day is None:
        today = datetime.now(timezone.utc).date().isoformat()
        day = cached(context, ("latest-day", context.settings.db, today),
                     lambda: context.store.latest_daily_day(today)) or today
    try:
        moment = date.fromisoformat(day)
    except ValueError:
        raise ValueError(f"{day!r} is not a date: use YYYY-MM-DD") from None
    def compute() -> dict[str, Any]:
        built = daily_page(context.store, moment, span, TrendingWeights.from_settings(context.settings),
                           limit=limit, offset=offset)
        page = built.to_dict()
        page["day"] = moment.isoformat()
        page.update(span_navigation(moment, span, built))
        for entry, card in zip(page["entries"], built.entries):
            entry["links"] = item_links({"arxiv_id": card.arxiv_id, "doi": card.doi, "url": card.url}, card.records)
            entry["github_repo"] = next((link["url"] for link in entry["links"] if link["kind"] == "github"), None)
            entry["project_page"] = safe_url(entry.get("project_page"))
        for entry in page["entries"]:
            entry["url"] = safe_url(entry.get("url"))
        return page

    return cached(context, ("daily", context.settings.db, moment, span, limit, offset), compute)


RECOMMEND_DAYS = 30
"""Recommendations come from the month up to the store's latest day (a store of old papers still gets some)."""
RECOMMEND_PER_TAG = 5


def my_item(context: Context, user, item_id: int) -> dict[str, Any] | None:
    """A signed-in user's marks on an item (library state, tags, upvote); None when nobody is signed in."""
    if user is None:
        return None
    state, tags, voted, upvotes = context.store.item_marks(user.id, item_id)
    return {"state": state, "tags": tags, "voted": voted, "upvotes": upvotes}


def library(context: Context, user_id: int, recommend: bool = True) -> dict[str, Any]:
    """A user's library by tag (and untagged, and "not relevant"), with each tag's recommendations and reasons."""
    from datetime import date, datetime, timezone

    from ..library.recommend import recommend_for_tag

    store = context.store
    entries = store.library_entries(user_id)
    documents = store.item_documents([e.item_id for e in entries])

    def row(item_id: int, **extra: Any) -> dict[str, Any]:
        document = documents.get(item_id)
        return {"id": item_id, "title": document.title if document else f"item {item_id}",
                "published": document.published if document else None,
                "authors": document.authors if document else [], **extra}

    tags: dict[str, list[dict[str, Any]]] = {tag: [] for tag in sorted(store.library_tags(user_id))}
    untagged, rejected = [], []
    for entry in entries:
        if entry.state == "not_relevant":
            rejected.append(row(entry.item_id))
        elif not entry.tags:
            untagged.append(row(entry.item_id))
        for tag in entry.tags if entry.state == "saved" else ():
            tags.setdefault(tag, []).append(row(entry.item_id))
    recommendations: dict[str, list[dict[str, Any]]] = {}
    if recommend and tags:
        today = datetime.now(timezone.utc).date().isoformat()
        latest = date.fromisoformat(store.latest_daily_day(today) or today)
        embedder = context.pool.embedder()
        for tag in tags:
            found = recommend_for_tag(store, user_id, tag, embedder, today=latest, days=RECOMMEND_DAYS,
                                      limit=RECOMMEND_PER_TAG)
            titles = store.item_documents([r.item_id for r in found])
            recommendations[tag] = [{"id": r.item_id, "title": titles[r.item_id].title, "reason": r.reason,
                                     "terms": r.terms} for r in found if r.item_id in titles]
    return {"tags": [{"tag": tag, "items": items, "recommendations": recommendations.get(tag, [])}
                     for tag, items in tags.items()],
            "untagged": untagged, "not_relevant": rejected}


def sync_status(context: Context) -> list[dict[str, Any]]:
    """Each source's health: state, last success and error, next run, and the last 30 days with the reason for
    every empty one (``sync.health``). Not cached: it is a few small queries, and its answer moves with time."""
    from dataclasses import asdict

    from ..sync.health import store_health

    sources = []
    for health in store_health(context.store, context.settings):
        row = asdict(health)
        row["days"] = [{**day, "day": day["day"].isoformat()} for day in row["days"]]
        sources.append(row)
    return sources
