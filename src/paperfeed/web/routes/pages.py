"""HTML pages: home, search, item, sync status, topics, topic, authors, people. Each reads through ``queries`` like its API twin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse

from ...library.comments import thread as comment_thread
from .. import queries
from ..rendering import render
from ..users import load_user
from .deps import Ctx

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20


@router.get("/")
def home(request: Request, context: Ctx):
    """Daily Papers of the latest day with papers."""
    return render(request, "daily.html", page=queries.daily(context), canonical=False)


@router.get("/papers/{day}")
def papers(request: Request, day: str, context: Ctx, span: str = "day",
           page: Annotated[int, Query(ge=1, le=1000)] = 1):
    """Daily Papers of a day, or of the ISO week or month holding it (``?span=week``)."""
    data = queries.daily(context, day, span, limit=50, offset=(page - 1) * 50)
    return render(request, "daily.html", page=data, number=page)


@router.get("/search")
def search_page(request: Request, context: Ctx, q: str = "", mode: str = "hybrid",
                kind: str = "", topic: str = "", author: str = "", after: str = "", before: str = "",
                page: Annotated[int, Query(ge=1, le=500)] = 1):
    """Search with filters; the query language works in the box too."""
    filters = {"kind": kind, "topic": topic, "author": author, "after": after, "before": before}
    query = queries.build_query(q, filters)
    if mode not in ("keyword", "semantic", "hybrid"):
        mode = "hybrid"  # a hand-edited URL gets the default, not an error page
    results = queries.search(context, query, mode, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE)
    has_more = len(results["hits"]) > PAGE_SIZE
    results["hits"] = results["hits"][:PAGE_SIZE]
    topics = [t for t in queries.topics(context) if t["items"]]
    return render(request, "search.html", q=q, mode=mode, filters=filters, query=query, results=results,
                  page=page, has_more=has_more, topics=topics)


@router.get("/items/{reference}")
def item(request: Request, reference: str, context: Ctx):
    """An item: authors, abstract, provenance, links, topics with confidence, similar items, BibTeX."""
    item_id = queries.resolve_item(context, reference)
    if reference != str(item_id):  # one address per item: /items/2401.01234 moves to /items/<id>
        return RedirectResponse(f"/items/{item_id}", status_code=301)
    return render_item(request, context, item_id)


def render_item(request: Request, context, item_id: int, status: int = 200, comment_form: dict | None = None):
    """The item page; ``comment_form`` (an error and the text to keep) when a comment was refused."""
    user = load_user(request, context)
    return render(request, "item.html", status=status, item=queries.item_page(context, item_id),
                  mine=queries.my_item(context, user, item_id), admin=user is not None and user.role == "admin",
                  comments=comment_thread(context.store, item_id, user), comment_form=comment_form)


@router.get("/status")
def status(request: Request, context: Ctx):
    return render(request, "status.html", sources=queries.sync_status(context))


@router.get("/topics")
def topics(request: Request, context: Ctx):
    """Every topic with its item count."""
    # A topic with no items yet has nothing to show: it is listed once it has some.
    return render(request, "topics.html", topics=[topic for topic in queries.topics(context) if topic["items"]])


@router.get("/topics/{slug}")
def topic(request: Request, slug: str, context: Ctx, page: Annotated[int, Query(ge=1, le=10000)] = 1,
          all: bool = False):  # noqa: A002 (the page's own parameter name: ?all=1)
    """A topic: items newest first with source labels, Collaborating Authors, the trend chart.

    Items at or above the topic's cut-off; ``?all=1`` also those below it.
    """
    data = queries.topic_page(context, slug, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, all_items=all)
    return render(request, "topic.html", topic=data, page=page, chart=queries.topic_trend_svg(context, slug))


@router.get("/authors")
def authors(request: Request, context: Ctx, name: str = ""):
    """Find people by name; one match goes straight to their page."""
    found = queries.find_authors(context, name) if name.strip() else []
    if len(found) == 1:
        return RedirectResponse(found[0]["url"], status_code=303)
    return render(request, "authors.html", name=name, found=found, several=False)


@router.get("/authors/{author_id}")
def author(request: Request, author_id: int, context: Ctx):
    """A name, as author pages were addressed: its one person's page, or a list when it is several people."""
    page = queries.author_page(context, author_id)
    if "redirect" in page:
        return RedirectResponse(page["redirect"], status_code=301)
    if "people" in page:
        return render(request, "authors.html", name=page["name"], found=page["people"], several=True)
    return render(request, "author.html", author=page)


@router.get("/people/{person_id}")
def person(request: Request, person_id: int, context: Ctx):
    """A person: names, papers, topics, collaborators."""
    return render(request, "author.html", author=queries.person_page(context, person_id))
