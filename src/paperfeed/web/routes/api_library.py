"""The signed-in part of the JSON API: who am I, my library with recommendations, and my marks on items.

The session is the same cookie the pages use. Changes are POSTs with a JSON body and the ``X-CSRF-Token`` header
(the middleware refuses any other unsafe request); ``GET /api/v1/me`` hands a signed-in script the token
matching its CSRF cookie. No API key scheme: a script signs in through ``/login`` like a browser.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ...library import CommunityError, LibraryError, mark_not_relevant, remove_item, save_item
from ...library.community import vote
from ...library.curation import CurationError, merge as merge_items, split as split_records
from ...storage import UserRow
from .. import queries
from ..pagecache import shared_pages_changed
from ..queries import MAX_ID
from ..rendering import json_response
from ..users import load_user
from ..writes import write_turn
from .api import NOT_FOUND, Error
from .deps import Ctx

router = APIRouter(tags=["account"])
SIGN_IN = {401: {"model": Error, "description": "Not signed in (no valid session cookie)."}}
CHANGE = {**SIGN_IN, **NOT_FOUND,
          400: {"model": Error, "description": "The change was refused (a bad tag, say); the text says why."}}
# The security schemes are declared in app.py (SECURITY_SCHEMES): the session cookie for every call here, and
# for a change also the CSRF cookie with its matching X-CSRF-Token header.
READ = {"security": [{"session": []}]}
WRITE = {"security": [{"session": [], "csrfCookie": [], "csrfToken": []}]}


class Me(BaseModel):
    id: int
    email: str
    role: str = Field(description="user, or admin (may split and merge items)")
    csrf_token: str = Field(description="Send it as the X-CSRF-Token header with every POST.")


class Mine(BaseModel):
    item_id: int
    state: str | None = Field(description="saved, not_relevant, or null when not in the library")
    tags: list[str]
    voted: bool
    upvotes: int


class Library(BaseModel):
    tags: list[dict[str, Any]]
    untagged: list[dict[str, Any]]
    not_relevant: list[dict[str, Any]]


ItemId = Annotated[int, Path(ge=1, le=MAX_ID, description="An item id (a positive 64-bit integer)")]


def _user(request: Request, context) -> UserRow:
    user = load_user(request, context)
    if user is None:
        raise HTTPException(401, "Sign in first: POST /login sets the session cookie.")
    return user


def _mine(context, user: UserRow, item_id: int) -> Response:
    return json_response({"item_id": item_id, **queries.my_item(context, user, item_id)})


@router.get("/me", response_model=Me, responses=SIGN_IN, summary="The signed-in user", openapi_extra=READ)
def me(request: Request, context: Ctx):
    """The signed-in user, and the CSRF token their POSTs must carry."""
    user = _user(request, context)
    return json_response({"id": user.id, "email": user.email, "role": user.role,
                          "csrf_token": request.scope.get("state", {}).get("csrf_token", "")})


@router.get("/library", response_model=Library, responses=SIGN_IN, summary="My library", openapi_extra=READ)
def library(request: Request, context: Ctx, recommend: bool = True):
    """Saved items by tag (each tag with its recommendations and their reasons), untagged and "not relevant"."""
    return json_response(queries.library(context, _user(request, context).id, recommend))


@router.get("/items/{item_id}/mine", response_model=Mine, responses={**SIGN_IN, **NOT_FOUND},
            summary="My marks on an item", openapi_extra=READ)
async def mine(request: Request, item_id: ItemId, context: Ctx):
    """Whether the item is in my library, with which tags, and whether I upvoted it."""
    if context.store.path is not None:
        # Three indexed reads of a local file (the session, the item, the marks: about 0.1 ms) are answered on the
        # event loop, as a repeated search is: under load the thread hop they would take costs more than they do.
        # A database server's round trips go to a thread.
        return _read_mine(request, context, item_id)
    return await run_in_threadpool(_read_mine, request, context, item_id)


def _read_mine(request: Request, context, item_id: int) -> Response:
    user = _user(request, context)
    return _mine(context, user, queries.resolve_item(context, str(item_id)))


class SaveRequest(BaseModel):
    model_config = ConfigDict(strict=True)  # JSON types as documented: no 0 for false, no 1 for "1"

    tags: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=50)


class VoteRequest(BaseModel):
    model_config = ConfigDict(strict=True)

    up: bool = True


def _change(request: Request, context, item_id: int, act) -> Response:
    """Apply ``act(user id, item id)`` for the signed-in user; answer with their marks on the item."""
    user = _user(request, context)
    item_id = queries.resolve_item(context, str(item_id))  # an unknown item is a 404, as on GET
    try:
        # The item id is resolved, so the turn (which the other writes of every worker queue for) holds only the
        # write; an item deleted meanwhile (an admin's merge) fails the write's reference to it: nothing is stored.
        with write_turn(context.store):
            act(user.id, item_id)
    except (LibraryError, CommunityError) as error:
        raise ValueError(str(error)) from None  # a 400 naming what was refused (a bad tag, say)
    return _mine(context, user, item_id)


@router.post("/items/{item_id}/save", response_model=Mine, responses=CHANGE,
             summary="Save an item with tags", openapi_extra=WRITE)
def save(request: Request, item_id: ItemId, context: Ctx, body: Annotated[SaveRequest | None, Body()] = None):
    """Save an item to my library, adding ``tags`` to those it has (no body, or null: no tags)."""
    body = body or SaveRequest()
    return _change(request, context, item_id, lambda user, ref: save_item(context.store, user, ref, body.tags))


@router.post("/items/{item_id}/not-relevant", response_model=Mine, responses=CHANGE,
             summary="Mark an item not relevant", openapi_extra=WRITE)
def not_relevant(request: Request, item_id: ItemId, context: Ctx):
    """A negative for every tag's recommendations."""
    return _change(request, context, item_id, lambda user, ref: mark_not_relevant(context.store, user, ref))


@router.post("/items/{item_id}/remove", response_model=Mine, responses=CHANGE,
             summary="Take an item out of my library", openapi_extra=WRITE)
def remove(request: Request, item_id: ItemId, context: Ctx):
    """Saved or not relevant, it leaves the library (its tags go with it)."""
    return _change(request, context, item_id, lambda user, ref: remove_item(context.store, user, ref))


@router.post("/items/{item_id}/vote", response_model=Mine, responses=CHANGE,
             summary="Upvote an item or withdraw the vote", openapi_extra=WRITE)
def upvote(request: Request, item_id: ItemId, context: Ctx, body: Annotated[VoteRequest | None, Body()] = None):
    """One vote per user and item; ``{"up": false}`` withdraws it (no body, or null: an upvote)."""
    body = body or VoteRequest()

    def act(user: int, ref: str) -> None:
        _, changed = vote(context.store, user, ref, body.up)
        if changed:  # the daily ranking and the item's count move: anonymous pages of this process go
            shared_pages_changed(request, parts=("daily",))

    return _change(request, context, item_id, act)


ADMIN = {**CHANGE, 403: {"model": Error, "description": "Signed in, but not an admin (or the CSRF token was refused)."}}


class SplitRequest(BaseModel):
    # Bounded so that the largest valid body stays well under web_max_body_bytes (64 KB by default).
    records: list[Annotated[str, Field(max_length=200)]] = Field(
        min_length=1, max_length=200, description="Record ids of the item's sources (as in its sources[].record_id)")


class MergeRequest(BaseModel):
    other: str = Field(max_length=1000, description="The item to join into this one (id, arXiv id or DOI); it goes")


class Decision(BaseModel):
    decision_id: int
    kind: Literal["split", "merge"]
    item_id: int
    other_id: int
    records: list[str]


def admin_of(request: Request, context) -> UserRow:
    """The signed-in admin; 401 when nobody is signed in, 403 for a user who is not an admin."""
    user = _user(request, context)
    if user.role != "admin":
        raise HTTPException(403, "Only an admin may split or merge items (`paperfeed users role EMAIL admin`).")
    return user


def _curate(act) -> dict[str, Any]:
    try:
        done, _ = act()
    except CurationError as error:
        raise ValueError(str(error)) from None  # a 400 naming the record or item refused
    return {"decision_id": done.decision_id, "kind": done.kind, "item_id": done.item_id, "other_id": done.other_id,
            "records": done.records}


@router.post("/items/{item_id}/split", response_model=Decision, responses=ADMIN, summary="Split records off an item",
             openapi_extra=WRITE)
def split(request: Request, item_id: ItemId, context: Ctx, body: Annotated[SplitRequest, Body()]):
    """Move the named source records into a new item (admins). Remembered: ingest never joins them again."""
    user = admin_of(request, context)
    item_id = queries.resolve_item(context, str(item_id))
    return json_response(_curate(lambda: split_records(context.store, context.settings, str(item_id), body.records,
                                                       f"web:{user.email}")))


@router.post("/items/{item_id}/merge", response_model=Decision, responses=ADMIN, summary="Merge another item in",
             openapi_extra=WRITE)
def merge(request: Request, item_id: ItemId, context: Ctx, body: Annotated[MergeRequest, Body()]):
    """Join item ``other`` into this one (admins): its records, identifiers, library entries and votes move."""
    user = admin_of(request, context)
    item_id = queries.resolve_item(context, str(item_id))
    other = queries.resolve_item(context, body.other)
    return json_response(_curate(lambda: merge_items(context.store, context.settings, str(item_id), str(other),
                                                     f"web:{user.email}")))
