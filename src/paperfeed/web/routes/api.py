"""The JSON API under /api/v1: the pages' data from the same query layer, documented by OpenAPI at /docs."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import date as Date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from .. import queries
from ..queries import MAX_ID
from ..rendering import json_response
from .deps import Ctx, get_context

router = APIRouter(tags=["api"])


class Error(BaseModel):
    error: str
    status: int


class Source(BaseModel):
    format: str
    label: str | None
    record_id: str
    origin: str
    seen_at: str
    deleted: bool
    version: Literal["published", "preprint", "record"] = Field(
        description="published: the record names a DOI (not arXiv's own) or a venue; preprint: an arXiv id only")
    arxiv_id: str | None
    doi: str | None
    venue: str | None
    year: int | None
    reason: dict[str, Any] | None = Field(description="Why the record is in this item (null: stored before "
                                                      "reasons were kept)")
    why: str = Field(description="The reason in words")


class TopicRef(BaseModel):
    name: str
    slug: str | None
    assigned_by: str
    confidence: float


class Link(BaseModel):
    label: str
    url: str
    kind: str = Field(description="arxiv, pdf, doi, huggingface, github, project or source")


class AuthorRef(BaseModel):
    id: int | None
    """The person's id; None for a name whose people are not decided yet."""
    author_id: int
    name: str
    url: str


class Hit(BaseModel):
    id: int
    title: str
    score: float
    kind: str
    published: str | None
    authors: list[str]
    arxiv_id: str | None
    url: str | None
    snippet: str
    snippet_html: str


class Item(BaseModel):
    id: int
    kind: Literal["paper", "news"]
    title: str
    abstract: str
    authors: list[str]
    author_links: list[AuthorRef]
    arxiv_id: str | None
    doi: str | None
    url: str | None
    published: str | None
    year: int | None
    upvotes: int
    withdrawn: bool
    categories: list[str]
    topics: list[TopicRef]
    venue: str | None = Field(description="Where the work was published (its published version's venue)")
    tldr: str | None = Field(None, description="A one-line TL;DR made from the current abstract: its sentence "
                                               "that states the contribution, or a configured model's (null: none yet)")
    sources: list[Source]
    decisions: list[dict[str, Any]] = Field(description="A person's split and merge decisions about the item")
    comment_count: int = Field(description="Comments readers see on the item (GET /api/v1/items/{id}/comments)")
    links: list[Link]
    hugging_face: dict[str, Any] | None = Field(None, description="What Hugging Face Daily Papers gave: submitted_by, "
                                                "organization, github_repo, github_stars, ai_keywords, num_comments")
    bibtex: str
    similar: list[Hit]


class SearchResult(BaseModel):
    query: str
    mode: str
    hits: list[Hit]
    behind: dict[str, int]
    note: str
    milliseconds: float
    offset: int
    limit: int
    total: int | None = Field(None, description="How many items the query finds in all (keyword matches, with the "
                                                 "semantic ones fused in for hybrid); null for semantic search.")
    coverage: dict[str, dict[str, int]] = Field(
        default_factory=dict, description='While embeddings catch up after a large load: {"semantic": {"covered": N, '
        '"items": M}}, the items semantic results can find of the store\'s; {} when current or for keyword search.')
    catching_up: str = Field("", description='The coverage in words ("semantic results cover 1.2M of 2.7M papers; '
                                             'catching up"), or "".')


class Topic(BaseModel):
    name: str
    slug: str
    description: str
    origin: str
    cutoff: float | None
    cutoff_precision: float | None
    items: int


class SourceDay(BaseModel):
    day: Date
    new: int
    seen: int = Field(description="Records the source gave that the store already had.")
    runs: int
    failed: int
    reason: str | None = Field(description="Why nothing new came that day, in words; null on a day with new records.")


class SourceStatus(BaseModel):
    name: str
    kind: str
    label: str | None
    state: Literal["healthy", "failing", "stale", "never run"]
    summary: str
    last_success: str | None
    last_error: str | None
    last_error_at: str | None
    failures: int
    next_run: str | None
    next_run_note: str
    days: list[SourceDay] = Field(description="The last 30 days, today first.")


class TopicItem(BaseModel):
    id: int
    kind: str
    title: str
    published: str | None
    confidence: float
    sources: list[str]
    authors: list[str]


class TopicPage(BaseModel):
    name: str
    slug: str
    description: str
    origin: str
    cutoff: float | None
    cutoff_precision: float | None
    items: list[TopicItem]
    has_more: bool
    offset: int
    limit: int
    all: bool
    filed_items: int
    below_cutoff: int
    collaborating_authors: dict[str, Any]
    trend: list[dict[str, Any]]


class PersonRef(AuthorRef):
    papers: int


class Author(BaseModel):
    id: int | None
    author_id: int
    url: str
    name: str
    variants: list[str]
    papers_count: int
    papers: list[dict[str, Any]]
    topics: list[dict[str, Any]]
    collaborators: list[dict[str, Any]]


MAX_OFFSET = 1_000_000
"""Deepest ``offset`` into a topic's items (far past any real topic; a larger one is a 422, not a database error)."""

NOT_FOUND = {404: {"model": Error, "description": "No such item, topic or author."}}


@router.get("/items/{reference}", response_model=Item, responses=NOT_FOUND, summary="One item")
def item(reference: str, context: Ctx, similar: Annotated[int, Query(ge=0, le=50)] = 8):
    """An item by id, arXiv id or DOI: authors, provenance, links, topics with confidence, similar items, BibTeX."""
    return json_response(queries.item_page(context, queries.resolve_item(context, reference), similar))


@router.get("/items/{reference}/similar", response_model=list[Hit], responses=NOT_FOUND, summary="Similar items")
def similar(reference: str, context: Ctx, limit: Annotated[int, Query(ge=1, le=100)] = 10):
    """Items most like this one."""
    return json_response(queries.similar_items(context, queries.resolve_item(context, reference), limit))


class SearchParameters(BaseModel):
    """The search API's query parameters, validated as one model (one pydantic call, not one per parameter)."""

    q: str = Field(description="words, \"phrases\", prefix*, -exclude, author: topic: category: source: kind: "
                               "after: before: (at most search_max_chars characters, search_max_terms parts: "
                               "414/400 beyond)")
    mode: Literal["keyword", "semantic", "hybrid"] = "hybrid"
    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0, le=10000)
    kind: str = ""
    topic: str = ""
    author: str = ""
    after: str = ""
    before: str = ""


async def search(context: Ctx, parameters: Annotated[SearchParameters, Query()]):
    """Keyword, semantic or hybrid search; the filter parameters add to the query language in ``q``."""
    return await _search(context, parameters)


async def _search(context, p: SearchParameters) -> Response:
    query = queries.build_query(p.q, {"kind": p.kind, "topic": p.topic, "author": p.author, "after": p.after,
                                      "before": p.before})
    # A repeat is answered here on the event loop (no thread hop: under load that hop costs more than the
    # lookup); a search runs in a worker thread, as a sync endpoint would.
    page = queries.cached_search(context, query, p.mode, p.limit, p.offset, keep_results=True)
    if page is None:
        page = await run_in_threadpool(queries.search, context, query, p.mode, p.limit, p.offset, True)
    return Response(queries.search_json(page), media_type="application/json")


class QuickSearchRoute(APIRoute):
    """The search API's route: a query string that validates as ``SearchParameters`` in one pydantic call skips
    FastAPI's per-parameter solving (a third of a repeated search's CPU under load, py-spy); any other goes
    FastAPI's own way, so its 422 and the OpenAPI document are exactly what the declared parameters give."""

    def get_route_handler(self):
        documented = super().get_route_handler()
        borrow = asynccontextmanager(get_context)

        async def handler(request: Request) -> Response:
            try:
                # The last value of a repeated name, and unknown names ignored: as FastAPI reads them.
                parameters = SearchParameters.model_validate(dict(request.query_params))
            except ValidationError:
                return await documented(request)
            async with borrow(request) as context:
                return await _search(context, parameters)

        return handler


router.add_api_route("/search", search, methods=["GET"], response_model=SearchResult, summary="Search",
                     route_class_override=QuickSearchRoute)


def _real_day(value: str | None) -> str | None:
    """A YYYY-MM-DD that names a real day (2024-02-30 does not); a ValueError is the 422's text."""
    if value is not None:
        try:
            Date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a day of the calendar") from None
    return value


class DailyPage(BaseModel):
    span: Literal["day", "week", "month"]
    day: str
    start: str
    end: str
    total: int
    previous: str | None
    next: str | None
    title: str = Field(description="The day, week or month in words")
    previous_url: str | None
    previous_label: str | None
    next_url: str | None
    next_label: str | None
    note: str
    entries: list[dict[str, Any]] = Field(description="Cards: title, authors, teaser, tldr, hf_upvotes, local_upvotes, "
                                          "submitted_by, organization, github_repo, github_stars, keywords, "
                                          "hf_comments, comments (here), sources (labels in words), links, "
                                          "why (the score's terms)")


@router.get("/daily", response_model=DailyPage, summary="Daily Papers")
def daily(context: Ctx, date: Annotated[str | None, Query(description="YYYY-MM-DD; default: the latest day",
                                                         pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", json_schema_extra={
                                                             "format": "date"}), AfterValidator(_real_day)] = None,
          span: Literal["day", "week", "month"] = "day", limit: Annotated[int, Query(ge=1, le=500)] = 50,
          offset: Annotated[int, Query(ge=0)] = 0):
    """The papers of a day, ISO week or month, ranked by trending score, with upvotes and sources."""
    return json_response(queries.daily(context, date, span, limit, offset))


@router.get("/status", response_model=list[SourceStatus], summary="Sync health")
def status(context: Ctx):
    """Why no new papers? Each source's state, last success and error, next run, and its last 30 days, each
    empty day with its reason (weekend, arXiv holiday, not announced yet, no sync ran, the source failed)."""
    return json_response(queries.sync_status(context))


@router.get("/topics", response_model=list[Topic], summary="Topics")
def topics(context: Ctx):
    """Every topic with its item count, busiest first."""
    return json_response(queries.topics(context))


@router.get("/topics/{slug}", response_model=TopicPage, responses=NOT_FOUND, summary="One topic")
def topic(slug: str, context: Ctx, limit: Annotated[int, Query(ge=1, le=200)] = 25,
          offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0, weeks: Annotated[int, Query(ge=1, le=520)] = 26,
          all: Annotated[bool, Query(description="also list items below the topic's cut-off")] = False):  # noqa: A002
    """A topic's items newest first with source labels, its Collaborating Authors, and items per week.

    Items at or above the topic's calibrated cut-off (``filed_items``); ``all`` lists the ``below_cutoff`` ones too.
    """
    return json_response(queries.topic_page(context, slug, limit, offset, weeks, all_items=all))


@router.get("/authors", response_model=list[PersonRef], summary="Find people by name")
def authors(context: Ctx, name: Annotated[str, Query(min_length=1, max_length=200)]):
    """The people a name refers to (spellings are merged; one name may be several people), most papers first."""
    return json_response(queries.find_authors(context, name))


@router.get("/authors/{author_id}", response_model=Author, summary="One author name",
            responses={**NOT_FOUND, 300: {"model": list[PersonRef], "description": "The name is several people."}})
def author(author_id: Annotated[int, Path(ge=1, le=MAX_ID, description="An author id (a positive 64-bit integer)")],
           context: Ctx):
    """The person an author id (a name) stands for; 300 with the list when it stands for several people."""
    page = queries.author_page(context, author_id)
    if "redirect" in page:
        return json_response(queries.person_page(context, page["person"]))
    if "people" in page:
        return json_response(page["people"], status=300)
    return json_response(page)


@router.get("/people/{person_id}", response_model=Author, responses=NOT_FOUND, summary="One person")
def person(person_id: Annotated[int, Path(ge=1, le=MAX_ID, description="A person id (a positive 64-bit integer)")],
           context: Ctx):
    """A person: names, papers newest first, topics and collaborators with counts."""
    return json_response(queries.person_page(context, person_id))
