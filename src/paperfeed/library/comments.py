"""Discussion threads: signed-in users comment on items in Markdown; authors edit and delete their own, admins hide.

Markdown becomes HTML in two steps, each a safety on its own. markdown-it-py (CommonMark) runs with raw HTML
off, so ``<script>`` typed in a comment is text, not a tag; then nh3 (the Rust ``ammonia`` sanitiser, maintained;
bleach is deprecated) keeps only an allow-list of tags and attributes, links only to http(s) and mailto, and
sets ``rel="nofollow noopener ugc"`` on every link (a comment's link is the commenter's, not the site's
endorsement). No images: a comment must not make every reader's browser fetch from a host its author chose (a
tracking pixel), and the pages' Content-Security-Policy allows images from this site only anyway; ``![alt](url)``
shows as a link instead.

The HTML is rendered when a comment is written and stored beside its text: rendering costs about 0.3 to 0.9 ms a
comment of 600 characters, so a 200-comment thread read 0.4 ms with stored HTML against 182 ms rendering on read
(``bench/comments.py``, docs/benchmarks.md); ``RENDERER_VERSION`` names the rendering, and a comment
stored by another one is rendered again when read (a GET never writes) until it is next edited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import nh3
from markdown_it import MarkdownIt

from ..storage import CommentRow, Store, UserRow

RENDERER_VERSION = 1
"""Bump when the Markdown options or the allow-list change: stored HTML of an older version is made again."""

ALLOWED_TAGS = {"p", "br", "hr", "em", "strong", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li",
                "a", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td"}
# No style attribute: the pages' CSP refuses inline styles, and markdown-it's table alignment is all it would carry.
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
LINK_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow noopener ugc"

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]).disable("image")
_cleaner = nh3.Cleaner(tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=LINK_SCHEMES, link_rel=LINK_REL,
                       strip_comments=True)


class CommentError(ValueError):
    """A comment that cannot be written as asked; ``kind`` says why (the web answers with its status)."""

    def __init__(self, message: str, kind: str = "invalid") -> None:
        super().__init__(message)
        self.kind = kind
        """invalid (empty text), too_long, not_found, forbidden."""


@dataclass(slots=True, frozen=True)
class CommentLimits:
    max_chars: int = 4000
    """Longest comment text in characters (the ``comment_max_chars`` setting)."""


def render_markdown(text: str) -> str:
    """Sanitised HTML of a comment's Markdown: no raw HTML, no scripts or event handlers, http(s)/mailto links."""
    return _cleaner.clean(_markdown.render(text)).strip()


def _checked_text(text: str, limits: CommentLimits) -> str:
    text = text.replace("\r\n", "\n").replace("\x00", "").strip()
    if not text:
        raise CommentError("the comment is empty: write something first")
    if len(text) > limits.max_chars:
        raise CommentError(f"the comment is {len(text)} characters long; at most {limits.max_chars} are allowed "
                           "(the comment_max_chars setting)", kind="too_long")
    return text


def _find(store: Store, comment_id: int) -> CommentRow:
    row = store.comment(comment_id)
    if row is None or row.deleted_at is not None:
        raise CommentError(f"no comment {comment_id}", kind="not_found")
    return row


def _own(store: Store, user: UserRow, comment_id: int, verb: str) -> CommentRow:
    row = _find(store, comment_id)
    if row.user_id != user.id:
        raise CommentError(f"comment {comment_id} is not yours to {verb}", kind="forbidden")
    if row.hidden_at is not None and user.role != "admin":
        raise CommentError(f"comment {comment_id} was hidden by an admin", kind="forbidden")
    return row


def author_name(email: str) -> str:
    """What a comment shows of its author: the address's local part (accounts have no display name, and the full
    address is not for every reader, nor for scrapers)."""
    return email.split("@", 1)[0] or "someone"


def comment_json(row: CommentRow, viewer: UserRow | None) -> dict[str, Any]:
    """A comment as pages and the API show it to ``viewer`` (who may edit, delete or hide it)."""
    mine = viewer is not None and viewer.id == row.user_id
    admin = viewer is not None and viewer.role == "admin"
    return {"id": row.id, "item_id": row.item_id, "author": author_name(row.author_email), "mine": mine,
            "body": row.body, "html": row.body_html, "created_at": row.created_at, "edited_at": row.edited_at,
            "hidden": row.hidden_at is not None, "can_edit": mine and row.hidden_at is None,
            "can_hide": admin}


def _fresh(row: CommentRow) -> CommentRow:
    """``row`` with HTML of the current renderer: made again on read (not stored: a GET never writes) when an older
    renderer stored it; editing the comment stores the new rendering."""
    if row.html_version != RENDERER_VERSION and row.body:
        row.body_html = render_markdown(row.body)
        row.html_version = RENDERER_VERSION
    return row


def thread(store: Store, item_id: int, viewer: UserRow | None) -> list[dict[str, Any]]:
    """An item's comments, oldest first, as ``viewer`` sees them (admins see hidden ones, marked)."""
    admin = viewer is not None and viewer.role == "admin"
    return [comment_json(_fresh(row), viewer)
            for row in store.item_comments(item_id, include_hidden=admin)]


def post_comment(store: Store, user: UserRow, item_id: int, text: str,
                 limits: CommentLimits = CommentLimits()) -> dict[str, Any]:
    """Add ``user``'s comment to an item (which must exist); return it."""
    text = _checked_text(text, limits)
    if not store.item_exists(item_id):
        raise CommentError(f"no item {item_id}", kind="not_found")
    comment_id = store.add_comment(item_id, user.id, text, render_markdown(text), RENDERER_VERSION)
    return comment_json(_find(store, comment_id), user)


def edit_comment(store: Store, user: UserRow, comment_id: int, text: str,
                 limits: CommentLimits = CommentLimits()) -> dict[str, Any]:
    """Replace the text of ``user``'s own comment; return it."""
    text = _checked_text(text, limits)
    _own(store, user, comment_id, "edit")
    if not store.edit_comment(comment_id, text, render_markdown(text), RENDERER_VERSION):
        raise CommentError(f"no comment {comment_id}", kind="not_found")  # deleted meanwhile
    return comment_json(_find(store, comment_id), user)


def delete_comment(store: Store, user: UserRow, comment_id: int) -> int:
    """Delete ``user``'s own comment (its text is erased); return its item."""
    row = _own(store, user, comment_id, "delete")
    store.delete_comment(comment_id)
    return row.item_id


def hide_comment(store: Store, admin: UserRow, comment_id: int, hidden: bool = True) -> dict[str, Any]:
    """Hide a comment from readers, or show it again (admins only); return it."""
    if admin.role != "admin":
        raise CommentError("only an admin may hide comments (`paperfeed users role EMAIL admin`)", kind="forbidden")
    _find(store, comment_id)
    store.hide_comment(comment_id, admin.id, hidden)
    return comment_json(_find(store, comment_id), admin)
