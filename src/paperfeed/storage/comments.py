"""Comments: one flat discussion thread per item.

Written once for both backends on ``self.db`` (``storage.sql``). Every write commits with the move of the
comments counter (``daily.count_shared_change``), which tells every server process to drop its cached pages. The text is
stored as its author typed it (``body``, Markdown) beside the sanitised HTML made from it on write
(``body_html``, with the ``html_version`` of the renderer that made it): ``library.comments`` renders, this
area only keeps. A delete is soft (``deleted_at`` set, the text erased, the row kept, so an id never names
another comment); an admin's hide keeps the text, for admins. Neither is counted or shown to readers.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..normalize import utc_now
from .daily import count_shared_change
from .sql import Database

_COLUMNS = ("c.id, c.item_id, c.user_id, u.email, c.body, c.body_html, c.html_version, c.created_at, c.edited_at, "
            "c.deleted_at, c.hidden_at")


@dataclass(slots=True)
class CommentRow:
    id: int
    item_id: int
    user_id: int
    author_email: str
    body: str
    """The Markdown as typed ("" once deleted)."""
    body_html: str
    """Sanitised HTML rendered from ``body`` by renderer ``html_version``."""
    html_version: int
    created_at: str
    edited_at: str | None
    deleted_at: str | None
    hidden_at: str | None
    """Hidden by an admin: shown to admins only, not counted."""


class CommentStorage:
    """Comments on items: add, edit, soft delete, hide, list, count."""

    db: Database

    def add_comment(self, item_id: int, user_id: int, body: str, body_html: str, html_version: int) -> int:
        """Store a new comment; return its id."""
        with self.db.transaction():
            comment_id = int(self.db.value(
                "INSERT INTO comments (item_id, user_id, body, body_html, html_version, created_at) "
                "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                (item_id, user_id, body.replace("\x00", ""), body_html, html_version, utc_now())))
            count_shared_change(self.db, "comments")
        return comment_id

    def comment(self, comment_id: int) -> CommentRow | None:
        """One comment (deleted and hidden ones too), or None."""
        row = self.db.row(f"SELECT {_COLUMNS} FROM comments c JOIN users u ON u.id = c.user_id WHERE c.id = $1",
                          (comment_id,))
        return CommentRow(*row) if row else None

    def item_comments(self, item_id: int, include_hidden: bool = False, limit: int = 1000) -> list[CommentRow]:
        """An item's comments, oldest first: not deleted, and not hidden unless ``include_hidden`` (admins)."""
        hidden = "" if include_hidden else " AND c.hidden_at IS NULL"
        return [CommentRow(*row) for row in self.db.rows(
            f"SELECT {_COLUMNS} FROM comments c JOIN users u ON u.id = c.user_id "
            f"WHERE c.item_id = $1 AND c.deleted_at IS NULL{hidden} ORDER BY c.id LIMIT $2", (item_id, limit))]

    def edit_comment(self, comment_id: int, body: str, body_html: str, html_version: int) -> bool:
        """Replace a comment's text (not a deleted one); False when there is none to edit."""
        return self._counted(
            "UPDATE comments SET body = $1, body_html = $2, html_version = $3, edited_at = $4 "
            "WHERE id = $5 AND deleted_at IS NULL",
            (body.replace("\x00", ""), body_html, html_version, utc_now(), comment_id))

    def delete_comment(self, comment_id: int) -> bool:
        """Soft-delete a comment: its text is erased, its row stays; False when it was gone already."""
        return self._counted("UPDATE comments SET deleted_at = $1, body = '', body_html = '' "
                             "WHERE id = $2 AND deleted_at IS NULL", (utc_now(), comment_id))

    def hide_comment(self, comment_id: int, admin_id: int, hidden: bool = True) -> bool:
        """Hide a comment from readers (``hidden``) or show it again; False when that changed nothing."""
        if hidden:
            return self._counted("UPDATE comments SET hidden_at = $1, hidden_by = $2 "
                                 "WHERE id = $3 AND hidden_at IS NULL", (utc_now(), admin_id, comment_id))
        return self._counted("UPDATE comments SET hidden_at = NULL, hidden_by = NULL "
                             "WHERE id = $1 AND hidden_at IS NOT NULL", (comment_id,))

    def _counted(self, sql: str, params: tuple) -> bool:
        """Run one change to a comment; when it changed a row, move the comments counter in its transaction."""
        with self.db.transaction():
            changed = self.db.run(sql, params) > 0
            if changed:
                count_shared_change(self.db, "comments")
        return changed

    def comment_counts(self, item_ids: list[int]) -> dict[int, int]:
        """Shown comments (neither deleted nor hidden) of each of ``item_ids`` (0 for none); one query."""
        counts = dict.fromkeys(item_ids, 0)
        if not counts:
            return counts
        d = self.db.dialect
        counts.update((item_id, int(count)) for item_id, count in self.db.rows(
            f"SELECT item_id, count(*) FROM comments WHERE item_id {d.in_array(1)} "
            "AND deleted_at IS NULL AND hidden_at IS NULL GROUP BY item_id", (d.array(list(counts)),)))
        return counts
