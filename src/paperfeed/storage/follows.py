"""Follows: a user's saved searches and followed topics, people and keywords, and their private feed key.

Written once for both backends on ``self.db`` (``storage.sql``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..normalize import utc_now
from .sql import Database

FOLLOW_KINDS = ("search", "topic", "person", "keyword")


@dataclass(frozen=True, slots=True)
class FollowRow:
    """One thing a user follows."""

    id: int
    user_id: int
    kind: str
    """search, topic, person or keyword."""
    target: str
    """The query as typed (search), the topic's slug, the person's id, or the keyword."""
    label: str
    in_digest: bool
    created_at: str


_COLUMNS = "id, user_id, kind, target, label, in_digest, created_at"


def _row(values: tuple) -> FollowRow:
    return FollowRow(values[0], values[1], values[2], values[3], values[4], bool(values[5]), values[6])


class FollowStorage:
    """What users follow, and the version of each user's feed key."""

    db: Database

    def add_follow(self, user_id: int, kind: str, target: str, label: str, in_digest: bool = False) -> FollowRow:
        """Follow ``target``; following it again keeps the one row and updates its label and digest choice."""
        with self.db.transaction():
            values = self.db.row(
                "INSERT INTO follows (user_id, kind, target, label, in_digest, created_at) "
                "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, kind, target) "
                f"DO UPDATE SET label = excluded.label, in_digest = excluded.in_digest RETURNING {_COLUMNS}",
                (user_id, kind, target, label, in_digest, utc_now()))
        return _row(values)

    def follows(self, user_id: int) -> list[FollowRow]:
        """The user's follows, oldest first."""
        return [_row(values) for values in self.db.rows(
            f"SELECT {_COLUMNS} FROM follows WHERE user_id = $1 ORDER BY id", (user_id,))]

    def follow(self, follow_id: int) -> FollowRow | None:
        values = self.db.row(f"SELECT {_COLUMNS} FROM follows WHERE id = $1", (follow_id,))
        return _row(values) if values else None

    def digest_follows(self, user_id: int) -> list[FollowRow]:
        """The follows the user wants in their digest mail, oldest first."""
        return [_row(values) for values in self.db.rows(
            f"SELECT {_COLUMNS} FROM follows WHERE user_id = $1 AND in_digest ORDER BY id", (user_id,))]

    def set_follow_digest(self, user_id: int, follow_id: int, in_digest: bool) -> bool:
        """Put a follow in or out of the user's digest; False when the user has no such follow."""
        with self.db.transaction():
            return self.db.run("UPDATE follows SET in_digest = $1 WHERE id = $2 AND user_id = $3",
                               (in_digest, follow_id, user_id)) > 0

    def remove_follow(self, user_id: int, follow_id: int) -> bool:
        """Stop following; False when the user has no such follow."""
        with self.db.transaction():
            return self.db.run("DELETE FROM follows WHERE id = $1 AND user_id = $2", (follow_id, user_id)) > 0

    def feed_key_version(self, user_id: int) -> int:
        """The version of the user's private feed key (0 until first revoked)."""
        return self.db.value("SELECT version FROM feed_keys WHERE user_id = $1", (user_id,), 0)

    def revoke_feed_key(self, user_id: int) -> int:
        """Retire the user's feed key: every feed URL made with it stops working. Returns the new version."""
        with self.db.transaction():
            return self.db.value(
                "INSERT INTO feed_keys (user_id, version) VALUES ($1, 1) "
                "ON CONFLICT (user_id) DO UPDATE SET version = feed_keys.version + 1 RETURNING version",
                (user_id,))
