"""Comments: the item page's thread forms (POST, CSRF field) and their JSON API twins under /api/v1.

Posting and editing are rate-limited per user (``comment_rate_limit`` an hour, counted in the store) and sized
(``comment_max_chars``). A refused form comes back as the item page with the text still in its box, never lost.
A change drops this process's cached item and daily pages and parts (``shared_pages_changed``): the thread is on
the item page, its count on daily cards. Other processes drop them within a second (``web.changes``).
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Body, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ...library.comments import (CommentError, CommentLimits, delete_comment, edit_comment, hide_comment,
                                 post_comment, thread)
from ...storage import UserRow
from .. import queries
from ..changes import PARTS_CHANGED_BY
from ..pagecache import shared_pages_changed
from ..queries import MAX_ID
from ..rendering import json_response
from ..security import RateLimiter
from ..users import load_user
from .api import NOT_FOUND, Error
from .api_library import SIGN_IN, WRITE
from .deps import Ctx
from .pages import render_item

pages = APIRouter(include_in_schema=False)
api = APIRouter(tags=["comments"])

COMMENT_PARTS = PARTS_CHANGED_BY["comments"]
"""The cached page parts (and so pages) a comment changes."""
STATUS = {"invalid": 400, "too_long": 413, "not_found": 404, "forbidden": 403}
"""The HTTP status of each kind of CommentError."""
FORM_TEXT_CHARS = 200_000
"""A form field's hard cap (the body limit is lower still): comment_max_chars, checked after, keeps the text."""
API_TEXT_CHARS = 5000
"""The API's documented cap: a text just over it, every character JSON-escaped (up to 12 bytes each), stays under
web_max_body_bytes (64 KB by default), so it is refused as too long (422), not as too large a body (413).
comment_max_chars (4000 by default) is the limit a writer meets first."""


class Comment(BaseModel):
    id: int
    item_id: int
    author: str = Field(description="The commenter's name as shown (their address's local part)")
    mine: bool = Field(description="Written by the signed-in user")
    body: str = Field(description="The Markdown as written")
    html: str = Field(description="The Markdown as sanitised HTML (no raw HTML, no images; links get "
                                  "rel=\"nofollow noopener ugc\")")
    created_at: str
    edited_at: str | None
    hidden: bool = Field(description="Hidden by an admin (only admins see hidden comments)")
    can_edit: bool
    can_hide: bool


class CommentText(BaseModel):
    model_config = ConfigDict(strict=True)

    text: str = Field(min_length=1, max_length=API_TEXT_CHARS,
                      description="Markdown (at most comment_max_chars characters: 413 beyond)")


class HideRequest(BaseModel):
    model_config = ConfigDict(strict=True)

    hidden: bool = True


CommentId = Annotated[int, Path(ge=1, le=MAX_ID, description="A comment id (a positive 64-bit integer)")]
ItemId = Annotated[int, Path(ge=1, le=MAX_ID, description="An item id (a positive 64-bit integer)")]
LIMITED = {429: {"model": Error, "description": "Too many comments or edits this hour (comment_rate_limit); "
                                              "Retry-After says when to try again."}}
WRITES = {**SIGN_IN, **NOT_FOUND, **LIMITED,
          400: {"model": Error, "description": "An empty comment."},
          403: {"model": Error, "description": "Not your comment (or the CSRF token was refused)."},
          413: {"model": Error, "description": "Longer than comment_max_chars (or the body than web_max_body_bytes)."}}


def _limits(context) -> CommentLimits:
    return CommentLimits(max_chars=context.settings.comment_max_chars)


def _error(error: CommentError) -> HTTPException:
    return HTTPException(STATUS[error.kind], str(error))


def _count_write(request: Request, context, user: UserRow) -> None:
    """Count a post or edit against the user's hourly allowance; a 429 with Retry-After once it is spent."""
    limit = context.settings.comment_rate_limit
    if limit <= 0:
        return
    limiters = request.app.state.limiters
    limiter = limiters.get("comment")
    if limiter is None or limiter.limit != limit:
        limiter = limiters["comment"] = RateLimiter("comment", limit, 3600.0)
    wait = limiter.hit(context.store, f"user:{user.id}")
    if wait:
        seconds = max(1, math.ceil(wait))
        raise HTTPException(429, f"You have posted or edited {limit} comments in the last hour, the most allowed; "
                                 f"try again in {seconds} seconds.", headers={"Retry-After": str(seconds)})


def _signed_in(request: Request, context) -> UserRow:
    user = load_user(request, context)
    if user is None:
        raise HTTPException(401, "Sign in first: POST /login sets the session cookie.")
    return user


# -- the item page's forms -------------------------------------------------------------------------------------

FormText = Annotated[str, Form(max_length=FORM_TEXT_CHARS)]


def _to_thread(item_id: int, comment_id: int | None = None) -> RedirectResponse:
    return RedirectResponse(f"/items/{item_id}#{f'comment-{comment_id}' if comment_id else 'comments'}",
                            status_code=303)


def _refused(request: Request, context, item_id: int, status: int, message: str, text: str,
             editing: int | None = None, headers: dict[str, str] | None = None) -> Response:
    """The item page again, saying why, with the text kept in its box (new comment or the one being edited)."""
    response = render_item(request, context, item_id, status=status,
                           comment_form={"error": message, "text": text, "editing": editing})
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


@pages.post("/items/{item_id}/comments")
def post_form(request: Request, item_id: ItemId, context: Ctx, text: FormText = ""):
    """Add a comment from the item page's form."""
    item_id = queries.resolve_item(context, str(item_id))
    user = load_user(request, context)
    if user is None:
        return RedirectResponse(f"/login?next=/items/{item_id}%23comments", status_code=303)
    try:
        _count_write(request, context, user)
        done = post_comment(context.store, user, item_id, text, _limits(context))
    except CommentError as error:
        return _refused(request, context, item_id, STATUS[error.kind], str(error), text)
    except HTTPException as error:
        return _refused(request, context, item_id, error.status_code, str(error.detail), text,
                        headers=error.headers)
    shared_pages_changed(request, parts=COMMENT_PARTS)
    return _to_thread(item_id, done["id"])


def _form_comment(request: Request, context, comment_id: int) -> tuple[UserRow | None, int]:
    row = context.store.comment(comment_id)
    if row is None or row.deleted_at is not None:
        raise HTTPException(404, f"no comment {comment_id}")
    return load_user(request, context), row.item_id


@pages.post("/comments/{comment_id}/edit")
def edit_form(request: Request, comment_id: CommentId, context: Ctx, text: FormText = ""):
    """Replace the text of one's own comment."""
    user, item_id = _form_comment(request, context, comment_id)
    if user is None:
        return RedirectResponse(f"/login?next=/items/{item_id}%23comment-{comment_id}", status_code=303)
    try:
        _count_write(request, context, user)
        edit_comment(context.store, user, comment_id, text, _limits(context))
    except CommentError as error:
        if error.kind in ("not_found", "forbidden"):
            raise _error(error) from None
        return _refused(request, context, item_id, STATUS[error.kind], str(error), text, editing=comment_id)
    except HTTPException as error:
        return _refused(request, context, item_id, error.status_code, str(error.detail), text, editing=comment_id,
                        headers=error.headers)
    shared_pages_changed(request, parts=COMMENT_PARTS)
    return _to_thread(item_id, comment_id)


@pages.post("/comments/{comment_id}/delete")
def delete_form(request: Request, comment_id: CommentId, context: Ctx):
    """Delete one's own comment."""
    user, item_id = _form_comment(request, context, comment_id)
    if user is None:
        return RedirectResponse(f"/login?next=/items/{item_id}%23comments", status_code=303)
    try:
        delete_comment(context.store, user, comment_id)
    except CommentError as error:
        raise _error(error) from None
    shared_pages_changed(request, parts=COMMENT_PARTS)
    return _to_thread(item_id)


@pages.post("/comments/{comment_id}/hide")
def hide_form(request: Request, comment_id: CommentId, context: Ctx, hidden: FormText = "1"):
    """Hide a comment from readers, or (``hidden=0``) show it again: admins."""
    user, item_id = _form_comment(request, context, comment_id)
    if user is None:
        return RedirectResponse(f"/login?next=/items/{item_id}%23comments", status_code=303)
    try:
        hide_comment(context.store, user, comment_id, hidden != "0")
    except CommentError as error:
        raise _error(error) from None
    shared_pages_changed(request, parts=COMMENT_PARTS)
    return _to_thread(item_id, comment_id)


# -- the JSON API ----------------------------------------------------------------------------------------------

@api.get("/items/{item_id}/comments", response_model=list[Comment], responses=NOT_FOUND,
         summary="An item's comments")
def list_comments(request: Request, item_id: ItemId, context: Ctx):
    """The item's thread, oldest first (no sign-in needed; admins also see hidden comments, marked)."""
    item_id = queries.resolve_item(context, str(item_id))
    return json_response(thread(context.store, item_id, load_user(request, context)))


@api.post("/items/{item_id}/comments", response_model=Comment, status_code=201, responses=WRITES,
          summary="Comment on an item", openapi_extra=WRITE)
def create(request: Request, item_id: ItemId, context: Ctx, body: Annotated[CommentText, Body()]):
    """Add a comment in Markdown; answered with the comment as stored and rendered."""
    user = _signed_in(request, context)
    item_id = queries.resolve_item(context, str(item_id))
    _count_write(request, context, user)
    try:
        done = post_comment(context.store, user, item_id, body.text, _limits(context))
    except CommentError as error:
        raise _error(error) from None
    shared_pages_changed(request, parts=COMMENT_PARTS)
    return json_response(done, status=201)


@api.patch("/comments/{comment_id}", response_model=Comment, responses=WRITES, summary="Edit my comment",
           openapi_extra=WRITE)
def update(request: Request, comment_id: CommentId, context: Ctx, body: Annotated[CommentText, Body()]):
    """Replace the text of one of my comments."""
    user = _signed_in(request, context)
    _count_write(request, context, user)
    try:
        done = edit_comment(context.store, user, comment_id, body.text, _limits(context))
    except CommentError as error:
        raise _error(error) from None
    shared_pages_changed(request, parts=COMMENT_PARTS)
    return json_response(done)


@api.delete("/comments/{comment_id}", status_code=204, responses={**SIGN_IN, **NOT_FOUND, 403: WRITES[403]},
            summary="Delete my comment", openapi_extra=WRITE)
def remove(request: Request, comment_id: CommentId, context: Ctx):
    """Delete one of my comments: it leaves the thread and the counts (its text is erased)."""
    user = _signed_in(request, context)
    try:
        delete_comment(context.store, user, comment_id)
    except CommentError as error:
        raise _error(error) from None
    shared_pages_changed(request, parts=COMMENT_PARTS)
    return Response(status_code=204)


@api.post("/comments/{comment_id}/hide", response_model=Comment,
          responses={**SIGN_IN, **NOT_FOUND, 403: {"model": Error, "description": "Not an admin (or the CSRF "
                                                                                   "token was refused)."}},
          summary="Hide a comment (admins)", openapi_extra=WRITE)
def hide(request: Request, comment_id: CommentId, context: Ctx, body: Annotated[HideRequest | None, Body()] = None):
    """Hide a comment from readers; ``{"hidden": false}`` shows it again (no body, or null: hide)."""
    user = _signed_in(request, context)
    try:
        done = hide_comment(context.store, user, comment_id, (body or HideRequest()).hidden)
    except CommentError as error:
        raise _error(error) from None
    shared_pages_changed(request, parts=COMMENT_PARTS)
    return json_response(done)
