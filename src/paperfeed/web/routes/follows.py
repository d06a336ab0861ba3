"""Saved searches and follows: the /follows page and its forms, the private feeds under a user's feed token
(each follow, each library tag, an OPML list of them all), and the JSON API for follows.

Private feeds are read by feed readers, which carry no cookie: the token in the URL is the credential, so it is
long, signed, revocable (``POST /follows/revoke``) and never logged by us; the responses say ``no-store`` and
``noindex``. Every change is a POST (forms with the CSRF field, the API with the X-CSRF-Token header).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Body, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field, StrictBool

from ...library.follows import (FollowError, add_follow, feed_token, feed_token_user, follow_item_ids)
from ...normalize import xml_text
from ...storage import FollowRow
from .. import queries
from ..rendering import json_response, render
from ..users import load_user
from .api import NOT_FOUND, Error
from .deps import Ctx
from .feeds import FEED_SIZE, FEED_TYPES, AtomResponse, FeedKind, OPMLResponse, _entries, feed_base, feed_response

router = APIRouter(include_in_schema=False)
api_router = APIRouter(tags=["account"])
FormText = Annotated[str, Form(max_length=1000)]
PRIVATE = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer"}
SIGN_IN = {401: {"model": Error, "description": "Not signed in (no valid session cookie)."}}
WRITE = {"security": [{"session": [], "csrfCookie": [], "csrfToken": []}]}
READ = {"security": [{"session": []}]}


def _search_function(context):
    """Run a saved search or a keyword in keyword mode (what a feed reader polling often should cost)."""
    def run(query: str, limit: int) -> list[int]:
        return [hit["id"] for hit in queries.search(context, query, "keyword", limit, 0)["hits"]]
    return run


def _feeds(request: Request, context, user_id: int, follows: list[FollowRow]) -> dict:
    base = feed_base(request)
    token = feed_token(context.store, user_id)
    rows = []
    for follow in follows:
        path = f"{base}feeds/{token}/follows/{follow.id}"
        rows.append({"id": follow.id, "kind": follow.kind, "target": follow.target, "label": follow.label,
                     "in_digest": follow.in_digest, "atom": f"{path}.atom", "json": f"{path}.json",
                     "page": _page_of(base, follow)})
    tags = sorted(context.store.library_tags(user_id))
    tag_feeds = [{"tag": tag, "atom": f"{base}feeds/{token}/library/{quote(tag, safe='')}.atom",
                  "json": f"{base}feeds/{token}/library/{quote(tag, safe='')}.json"} for tag in tags]
    return {"follows": rows, "tags": tag_feeds, "opml": f"{base}feeds/{token}/feeds.opml"}


def _page_of(base: str, follow: FollowRow) -> str:
    if follow.kind == "topic":
        return f"{base}topics/{quote(follow.target)}"
    if follow.kind == "person":
        return f"{base}people/{follow.target}"
    query = f'"{follow.target}"' if follow.kind == "keyword" and " " in follow.target else follow.target
    return f"{base}search?q={quote(query)}&mode=keyword"


# -- the page and its forms ---------------------------------------------------------------------------------


@router.get("/follows")
def follows_page(request: Request, context: Ctx):
    """Your saved searches and follows, each with its feeds and its digest choice; your library tags' feeds."""
    user = load_user(request, context)
    if user is None:
        return RedirectResponse("/login?next=/follows", status_code=303)
    return render(request, "follows.html", feeds=_feeds(request, context, user.id, context.store.follows(user.id)),
                  subscription=context.store.user_subscriber(user.id))


@router.post("/follows")
def follow_form(request: Request, context: Ctx, kind: FormText = "", target: FormText = "", digest: FormText = "",
                next: FormText = "/follows"):
    """Follow a search, topic, person or keyword (from its page's button, or the /follows form)."""
    user = load_user(request, context)
    if user is None:
        return RedirectResponse(f"/login?next={quote(next if next.startswith('/') else '/follows')}", 303)
    try:
        add_follow(context.store, user.id, kind, target, in_digest=bool(digest))
    except FollowError as error:
        raise ValueError(str(error)) from None  # a 400 page saying why
    return RedirectResponse("/follows", status_code=303)


@router.post("/follows/{follow_id}/remove")
def unfollow_form(request: Request, follow_id: int, context: Ctx):
    user = load_user(request, context)
    if user is None:
        return RedirectResponse("/login?next=/follows", status_code=303)
    if not context.store.remove_follow(user.id, follow_id):
        raise HTTPException(404, "You follow nothing with that number.")
    return RedirectResponse("/follows", status_code=303)


@router.post("/follows/{follow_id}/digest")
def digest_form(request: Request, follow_id: int, context: Ctx, digest: FormText = ""):
    user = load_user(request, context)
    if user is None:
        return RedirectResponse("/login?next=/follows", status_code=303)
    if not context.store.set_follow_digest(user.id, follow_id, bool(digest)):
        raise HTTPException(404, "You follow nothing with that number.")
    return RedirectResponse("/follows", status_code=303)


@router.post("/follows/digest-frequency")
def frequency_form(request: Request, context: Ctx, frequency: FormText = ""):
    """Daily or weekly digests, for the signed-in owner of the subscription."""
    user = load_user(request, context)
    if user is None:
        return RedirectResponse("/login?next=/follows", status_code=303)
    subscription = context.store.user_subscriber(user.id)
    if subscription is None:
        raise HTTPException(404, "You have no digest subscription: subscribe on Daily Papers first.")
    if frequency not in ("daily", "weekly"):
        raise ValueError("frequency is daily or weekly")
    context.store.set_subscriber_frequency(subscription.id, frequency)
    return RedirectResponse("/follows", status_code=303)


@router.post("/follows/revoke")
def revoke_form(request: Request, context: Ctx):
    """A new feed token: every feed address given out before stops working."""
    user = load_user(request, context)
    if user is None:
        return RedirectResponse("/login?next=/follows", status_code=303)
    context.store.revoke_feed_key(user.id)
    return RedirectResponse("/follows", status_code=303)


# -- private feeds under the token ---------------------------------------------------------------------------


def _token_user(context, token: str) -> int:
    user_id = feed_token_user(context.store, token)
    if user_id is None:
        raise HTTPException(404, "No such feed: the address is wrong or was revoked (see /follows for the new one).")
    return user_id


def _private(response: Response) -> Response:
    response.headers.update(PRIVATE)
    return response


@router.get("/feeds/{token}/follows/{follow_id}.{kind}", response_class=AtomResponse,
            responses={200: FEED_TYPES})
def follow_feed(request: Request, token: Annotated[str, Path(max_length=100)], follow_id: int, kind: FeedKind,
                context: Ctx) -> Response:
    user_id = _token_user(context, token)
    follow = context.store.follow(follow_id) if 0 < follow_id <= queries.MAX_ID else None
    if follow is None or follow.user_id != user_id:
        raise HTTPException(404, "No such feed.")
    base = feed_base(request)
    ids = follow_item_ids(context.store, follow, _search_function(context), FEED_SIZE)
    return _private(feed_response(kind, f"paperfeed — {follow.label}",
                                  f"{base}feeds/{token}/follows/{follow_id}.{kind}", _page_of(base, follow), base,
                                  _entries(context, ids)))


@router.get("/feeds/{token}/library/{tag}.{kind}", response_class=AtomResponse, responses={200: FEED_TYPES})
def library_tag_feed(request: Request, token: Annotated[str, Path(max_length=100)],
                     tag: Annotated[str, Path(max_length=200)], kind: FeedKind, context: Ctx) -> Response:
    user_id = _token_user(context, token)
    entries = [entry for entry in context.store.library_entries(user_id)
               if entry.state == "saved" and tag in entry.tags]
    if not entries and tag not in context.store.library_tags(user_id):
        raise HTTPException(404, "No such tag in this library.")
    base = feed_base(request)
    ids = [entry.item_id for entry in entries][-FEED_SIZE:][::-1]  # the latest saved first
    return _private(feed_response(kind, f"paperfeed — library: {tag}",
                                  f"{base}feeds/{token}/library/{quote(tag, safe='')}.{kind}", f"{base}library",
                                  base, _entries(context, ids)))


@router.get("/feeds/{token}/feeds.opml")
def opml(request: Request, token: Annotated[str, Path(max_length=100)], context: Ctx) -> Response:
    """Every feed of the user as OPML 2.0, for a feed reader's import."""
    user_id = _token_user(context, token)
    feeds = _feeds(request, context, user_id, context.store.follows(user_id))
    root = ET.Element("opml", {"version": "2.0"})
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = "paperfeed feeds"
    body = ET.SubElement(root, "body")
    for row in feeds["follows"]:
        ET.SubElement(body, "outline", {"type": "rss", "text": xml_text(row["label"]), "title": xml_text(row["label"]),
                                        "xmlUrl": row["atom"], "htmlUrl": row["page"]})
    for row in feeds["tags"]:
        label = xml_text(f"Library: {row['tag']}")
        ET.SubElement(body, "outline", {"type": "rss", "text": label, "title": label, "xmlUrl": row["atom"]})
    document = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8")
    return _private(OPMLResponse(document, headers={"Content-Disposition": 'attachment; filename="paperfeed.opml"'}))


# -- JSON API ---------------------------------------------------------------------------------------------------


class Follow(BaseModel):
    id: int
    kind: Literal["search", "topic", "person", "keyword"]
    target: str
    label: str
    in_digest: bool
    atom: str = Field(description="Its Atom feed (a private address: the token in it is the credential).")
    json_feed: str = Field(alias="json", description="Its JSON Feed 1.1.")
    page: str


class Follows(BaseModel):
    follows: list[Follow]
    tags: list[dict[str, str]]
    opml: str


class NewFollow(BaseModel):
    kind: Literal["search", "topic", "person", "keyword"]
    target: str = Field(min_length=1, max_length=1000,
                        description="The query as typed, a topic's slug, a person's id, or a keyword.")
    in_digest: StrictBool = False


def _api_user(request: Request, context):
    user = load_user(request, context)
    if user is None:
        raise HTTPException(401, "Sign in first: POST /login sets the session cookie.")
    return user


@api_router.get("/follows", response_model=Follows, responses=SIGN_IN, summary="My follows and their feeds",
                openapi_extra=READ)
def api_follows(request: Request, context: Ctx):
    """Your saved searches and follows with their private feed addresses, your library tags' feeds, and OPML."""
    user = _api_user(request, context)
    return json_response(_feeds(request, context, user.id, context.store.follows(user.id)))


@api_router.post("/follows", response_model=Follow, summary="Follow a search, topic, person or keyword",
                 responses={**SIGN_IN, 400: {"model": Error, "description": "The follow was refused; the text says why."}},
                 openapi_extra=WRITE)
def api_follow(request: Request, context: Ctx, body: Annotated[NewFollow, Body()]):
    user = _api_user(request, context)
    try:
        follow = add_follow(context.store, user.id, body.kind, body.target, body.in_digest)
    except FollowError as error:
        raise HTTPException(400, str(error)) from None
    [row] = _feeds(request, context, user.id, [follow])["follows"]
    return json_response(row)


@api_router.delete("/follows/{follow_id}", status_code=204, summary="Stop following",
                   responses={**SIGN_IN, **NOT_FOUND}, openapi_extra=WRITE)
def api_unfollow(request: Request, context: Ctx,
                 follow_id: Annotated[int, Path(ge=1, le=queries.MAX_ID, description="A follow's id")]):
    user = _api_user(request, context)
    if not context.store.remove_follow(user.id, follow_id):
        raise HTTPException(404, "You follow nothing with that number.")
    return Response(status_code=204)
