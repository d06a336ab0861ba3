"""A signed-in user's library (save with tags, "not relevant", upvotes, per-tag recommendations) and the digest
subscribe box with its confirm and unsubscribe pages. Every change is a POST; GET only shows."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from ...digest import DigestError
from ...digest.links import PAGES
from ...digest.send import subscribe as send_confirmation
from ...library import AccountError, CommunityError, LibraryError, check_email, mark_not_relevant, remove_item, save_item
from ...library.community import vote
from ...library.curation import CurationError, merge as merge_items, split as split_records
from .. import queries
from ..pagecache import shared_pages_changed
from ..rendering import render
from ..users import load_user, rate_limit
from .deps import Ctx

log = logging.getLogger("paperfeed.web")
router = APIRouter(include_in_schema=False)
FormText = Annotated[str, Form(max_length=1000)]


def _back(item_id: int) -> RedirectResponse:
    return RedirectResponse(f"/items/{item_id}", status_code=303)


def _sign_in(next_path: str, why: str = "save") -> RedirectResponse:
    """To the sign-in page, which says why it was sent there (``account.SIGN_IN_REASONS``) and comes back after."""
    return RedirectResponse(f"/login?next={next_path}&why={why}", status_code=303)


@router.get("/library")
def library(request: Request, context: Ctx):
    """Saved items by tag, untagged and "not relevant" ones, and each tag's recommendations with their reasons."""
    user = load_user(request, context)
    if user is None:
        return _sign_in("/library", "library")
    return render(request, "library.html", library=queries.library(context, user.id))


@router.post("/items/{item_id}/save")
def save(request: Request, item_id: int, context: Ctx, tags: FormText = ""):
    """Save an item with comma-separated tags added."""
    user = load_user(request, context)
    if user is None:
        return _sign_in(f"/items/{item_id}")
    names = [tag for tag in tags.split(",") if tag.strip()]
    try:
        save_item(context.store, user.id, str(item_id), names)
    except LibraryError as error:
        raise ValueError(str(error)) from None  # shown as a 400 page saying which tag was refused
    return _back(item_id)


@router.post("/items/{item_id}/not-relevant")
def not_relevant(request: Request, item_id: int, context: Ctx):
    """Mark an item "not relevant" (a negative for every tag's recommendations)."""
    user = load_user(request, context)
    if user is None:
        return _sign_in(f"/items/{item_id}")
    try:
        mark_not_relevant(context.store, user.id, str(item_id))
    except LibraryError as error:
        raise ValueError(str(error)) from None
    return _back(item_id)


@router.post("/items/{item_id}/remove")
def remove(request: Request, item_id: int, context: Ctx):
    """Take an item out of the library (saved or not relevant)."""
    user = load_user(request, context)
    if user is None:
        return _sign_in(f"/items/{item_id}")
    try:
        remove_item(context.store, user.id, str(item_id))
    except LibraryError as error:
        raise ValueError(str(error)) from None
    return _back(item_id)


@router.post("/items/{item_id}/vote")
def upvote(request: Request, item_id: int, context: Ctx, up: FormText = "1"):
    """Upvote an item (one vote per user) or, with ``up=0``, withdraw the vote."""
    user = load_user(request, context)
    if user is None:
        return _sign_in(f"/items/{item_id}")
    try:
        _, changed = vote(context.store, user.id, str(item_id), up != "0")
    except CommunityError as error:
        raise ValueError(str(error)) from None
    if changed:  # the daily ranking and the item's count move: anonymous pages of this process go
        shared_pages_changed(request, parts=("daily",))
    return _back(item_id)


@router.post("/digest/subscribe")
def subscribe(request: Request, context: Ctx, email: FormText = "", frequency: FormText = "daily"):
    """Add a pending subscriber and mail a confirmation link (double opt-in); rate-limited per client and address."""
    rate_limit(request, context, "subscribe", email)
    try:
        address = check_email(email)
    except AccountError as error:
        return render(request, "digest.html", status=400, title="Subscribe", message=str(error), form=None)
    user = load_user(request, context)
    # A signed-in user subscribing their own address gets their tags' recommendations in the digest.
    own = user.email if user is not None and user.email.lower() == address.lower() else None
    try:
        send_confirmation(context.store, context.settings, address, user_email=own,
                          frequency="weekly" if frequency == "weekly" else "daily")
    except DigestError as error:
        log.error("subscribe %s: %s", address, error)  # SMTP details are for the log, not the visitor
        return render(request, "digest.html", status=503, title="Subscribe",
                      message="The confirmation mail could not be sent just now; try again later.", form=None)
    # The same answer for a new, pending or active address: the page does not say who is subscribed.
    return render(request, "digest.html", title="Check your inbox", form=None,
                  message=f"If {address} is not subscribed yet, a confirmation link is on its way to it.")


@router.get("/digest/{action}")
def digest_link(request: Request, action: str, context: Ctx, token: str = ""):
    """A confirm or unsubscribe link: show a button (mail scanners fetch links, so GET changes nothing)."""
    title, button, _, _ = _page(action)
    if not token:
        return render(request, "digest.html", status=400, title=title, message="This link has no token.", form=None)
    return render(request, "digest.html", title=title, message=f"Press the button to {button.lower()}.",
                  form={"action": f"/digest/{action}", "token": token, "button": button})


@router.post("/digest/{action}")
def digest_act(request: Request, action: str, context: Ctx, token: FormText = ""):
    """Confirm or unsubscribe; the token comes from the form, or the URL for RFC 8058 one-click posts."""
    title, _, act, done = _page(action)
    token = token or request.query_params.get("token", "")
    try:
        subscriber = act(context.store, context.settings, token)
    except DigestError as error:
        return render(request, "digest.html", status=400, title=title, message=str(error), form=None)
    return render(request, "digest.html", title=title, message=done.format(email=subscriber.email), form=None)


def _page(action: str):
    """The title, button, action and result message of a digest link, shared with ``digest.links``."""
    found = PAGES.get(f"/digest/{action}")
    if found is None:
        raise HTTPException(404)
    return found


def _admin(request: Request, context, item_id: int):
    user = load_user(request, context)
    if user is not None and user.role != "admin":
        raise HTTPException(403, "Only an admin may split or merge items.")
    return user


@router.post("/items/{item_id}/split")
def split(request: Request, item_id: int, context: Ctx,
          records: Annotated[list[str], Form()] = []):
    """Split the ticked source records off into a new item (admins); go to the new item."""
    user = _admin(request, context, item_id)
    if user is None:
        return _sign_in(f"/items/{item_id}")
    try:
        done, _ = split_records(context.store, context.settings, str(item_id), list(records), f"web:{user.email}")
    except CurationError as error:
        raise ValueError(str(error)) from None
    return _back(done.other_id)


@router.post("/items/{item_id}/merge")
def merge(request: Request, item_id: int, context: Ctx, other: FormText = ""):
    """Join another item (id, arXiv id or DOI) into this one (admins)."""
    user = _admin(request, context, item_id)
    if user is None:
        return _sign_in(f"/items/{item_id}")
    try:
        done, _ = merge_items(context.store, context.settings, str(item_id), other.strip(), f"web:{user.email}")
    except CurationError as error:
        raise ValueError(str(error)) from None
    return _back(done.item_id)
