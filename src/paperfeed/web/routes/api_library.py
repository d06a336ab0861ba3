"""The signed-in part of the JSON API: who am I, my library with recommendations, and my marks on items.

The session is the same cookie the pages use. Changes are POSTs with a JSON body and the ``X-CSRF-Token`` header
(the middleware refuses any other unsafe request); ``GET /api/v1/me`` hands a signed-in script the token
matching its CSRF cookie. No API key scheme: a script signs in through ``/login`` like a browser.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ...library import CommunityError, LibraryError, mark_not_relevant, remove_item, save_item
from ...library.community import vote
from ...storage import UserRow
from .. import queries
from ..pagecache import shared_pages_changed
from ..rendering import json_response
from ..users import load_user
from .api import NOT_FOUND, Error
from .deps import Ctx

router = APIRouter(tags=["account"])
SIGN_IN = {401: {"model": Error, "description": "Not signed in (no valid session cookie)."}}


class Me(BaseModel):
    id: int
    email: str
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


def _user(request: Request, context) -> UserRow:
    user = load_user(request, context)
    if user is None:
        raise HTTPException(401, "Sign in first: POST /login sets the session cookie.")
    return user


def _mine(context, user: UserRow, item_id: int) -> Response:
    return json_response({"item_id": item_id, **queries.my_item(context, user, item_id)})


@router.get("/me", response_model=Me, responses=SIGN_IN, summary="The signed-in user")
def me(request: Request, context: Ctx):
    """The signed-in user, and the CSRF token their POSTs must carry."""
    user = _user(request, context)
    return json_response({"id": user.id, "email": user.email,
                          "csrf_token": request.scope.get("state", {}).get("csrf_token", "")})


@router.get("/library", response_model=Library, responses=SIGN_IN, summary="My library")
def library(request: Request, context: Ctx, recommend: bool = True):
    """Saved items by tag (each tag with its recommendations and their reasons), untagged and "not relevant"."""
    return json_response(queries.library(context, _user(request, context).id, recommend))


@router.get("/items/{item_id}/mine", response_model=Mine, responses={**SIGN_IN, **NOT_FOUND},
            summary="My marks on an item")
def mine(request: Request, item_id: int, context: Ctx):
    """Whether the item is in my library, with which tags, and whether I upvoted it."""
    user = _user(request, context)
    return _mine(context, user, queries.resolve_item(context, str(item_id)))


class SaveRequest(BaseModel):
    tags: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=50)


class VoteRequest(BaseModel):
    up: bool = True


def _change(request: Request, context, item_id: int, act) -> Response:
    """Apply ``act(user id, item reference)`` for the signed-in user; answer with their marks on the item."""
    user = _user(request, context)
    item_id = queries.resolve_item(context, str(item_id))  # an unknown item is a 404, as on GET
    try:
        act(user.id, str(item_id))
    except (LibraryError, CommunityError) as error:
        raise ValueError(str(error)) from None  # a 400 naming what was refused (a bad tag, say)
    return _mine(context, user, item_id)


@router.post("/items/{item_id}/save", response_model=Mine, responses={**SIGN_IN, **NOT_FOUND},
             summary="Save an item with tags")
def save(request: Request, item_id: int, context: Ctx, body: Annotated[SaveRequest, Body()] = SaveRequest()):
    """Save an item to my library, adding ``tags`` to those it has."""
    return _change(request, context, item_id, lambda user, ref: save_item(context.store, user, ref, body.tags))


@router.post("/items/{item_id}/not-relevant", response_model=Mine, responses={**SIGN_IN, **NOT_FOUND},
             summary="Mark an item not relevant")
def not_relevant(request: Request, item_id: int, context: Ctx):
    """A negative for every tag's recommendations."""
    return _change(request, context, item_id, lambda user, ref: mark_not_relevant(context.store, user, ref))


@router.post("/items/{item_id}/remove", response_model=Mine, responses={**SIGN_IN, **NOT_FOUND},
             summary="Take an item out of my library")
def remove(request: Request, item_id: int, context: Ctx):
    """Saved or not relevant, it leaves the library (its tags go with it)."""
    return _change(request, context, item_id, lambda user, ref: remove_item(context.store, user, ref))


@router.post("/items/{item_id}/vote", response_model=Mine, responses={**SIGN_IN, **NOT_FOUND},
             summary="Upvote an item or withdraw the vote")
def upvote(request: Request, item_id: int, context: Ctx, body: Annotated[VoteRequest, Body()] = VoteRequest()):
    """One vote per user and item; ``{"up": false}`` withdraws it."""
    def act(user: int, ref: str) -> None:
        _, changed = vote(context.store, user, ref, body.up)
        if changed:  # the daily ranking and the item's count move: anonymous pages of this process go
            shared_pages_changed(request)

    return _change(request, context, item_id, act)
