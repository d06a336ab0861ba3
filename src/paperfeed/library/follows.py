"""Saved searches and follows: a signed-in user follows a search, a topic, a person or a keyword.

Each follow has its own feed (Atom and JSON Feed) under the user's private feed token, and may join the user's
digest mail, where it gets a section of what is new for it. The token is an HMAC of the user and a version
kept in the store: revoking bumps the version, so every URL handed out before stops working at once, and a
leaked database holds no token.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Callable

from ..storage import FOLLOW_KINDS, FollowRow, Store

KEYWORD_MAX = 64
SEARCH_MAX = 500
FOLLOWS_MAX = 200
"""Follows one user may keep (each is a feed and a digest section: a bound on what one account costs)."""
FEED_KEY = "feeds"
"""The store secret (``app_secret``) feed tokens are signed with."""

SearchFunction = Callable[[str, int], list[int]]
"""(query, limit) -> item ids, best first: how a saved search or a keyword is run (keyword mode)."""


class FollowError(ValueError):
    """A follow that cannot be made: unknown kind, no such topic or person, a query too long."""


def describe(store: Store, kind: str, target: str) -> tuple[str, str]:
    """Check what is followed and name it: (normalised target, label). Raises FollowError saying why not."""
    if kind not in FOLLOW_KINDS:
        raise FollowError(f"unknown kind {kind!r}: follow one of {', '.join(FOLLOW_KINDS)}")
    text = " ".join((target or "").split())
    if not text:
        raise FollowError(f"say what to follow: a {kind}")
    if any(ord(ch) < 32 for ch in target.replace("\n", " ").replace("\t", " ")):
        raise FollowError("control characters are not allowed")
    if kind == "search":
        if len(text) > SEARCH_MAX:
            raise FollowError(f"a saved search is at most {SEARCH_MAX} characters")
        return text, f"Search: {text}"
    if kind == "keyword":
        if len(text) > KEYWORD_MAX:
            raise FollowError(f"a keyword is at most {KEYWORD_MAX} characters")
        return text.lower(), f"Keyword: {text.lower()}"
    if kind == "topic":
        slug = text.lower()
        for row in store.topics():
            if row.slug == slug:
                return slug, f"Topic: {row.name}"
        raise FollowError(f"no topic {text!r}")
    try:
        person_id = int(text)
    except ValueError:
        raise FollowError(f"a person is followed by id (the number in /people/<id>), not {text!r}") from None
    found = store.people([person_id]) if 0 < person_id < 2 ** 63 else {}
    if person_id not in found:
        raise FollowError(f"no person {person_id}")
    return str(person_id), f"Person: {found[person_id][0]}"


def add_follow(store: Store, user_id: int, kind: str, target: str, in_digest: bool = False) -> FollowRow:
    """Follow ``target`` (checked and named by ``describe``); following it again updates the digest choice."""
    normalised, label = describe(store, kind, target)
    existing = store.follows(user_id)
    if len(existing) >= FOLLOWS_MAX and not any(f.kind == kind and f.target == normalised for f in existing):
        raise FollowError(f"at most {FOLLOWS_MAX} follows per account: remove one first")
    return store.add_follow(user_id, kind, normalised, label, in_digest)


def follow_item_ids(store: Store, follow: FollowRow, search: SearchFunction | None, limit: int = 50) -> list[int]:
    """The items a follow covers, best first (newest first for topics and people); [] for a search or a keyword
    when no search function is available."""
    if follow.kind == "topic":
        for row in store.topics():
            if row.slug == follow.target:
                return [item["id"] for item in store.topic_items(row.id, limit=limit)]
        return []  # the topic is gone
    if follow.kind == "person":
        from ..authors import person_profile

        profile = person_profile(store, int(follow.target), paper_limit=limit)
        return [paper["id"] for paper in profile["papers"]][:limit] if profile else []
    if search is None:
        return []
    query = f'"{follow.target}"' if follow.kind == "keyword" and " " in follow.target else follow.target
    return search(query, limit)


def feed_secret(store: Store) -> bytes:
    import secrets

    return bytes.fromhex(store.app_secret(FEED_KEY, lambda: secrets.token_hex(32)))


def feed_token(store: Store, user_id: int) -> str:
    """The user's current private feed token (``<user>-<version>-<mac>``)."""
    version = store.feed_key_version(user_id)
    return f"{user_id}-{version}-{_mac(feed_secret(store), user_id, version)}"


def feed_token_user(store: Store, token: str) -> int | None:
    """The user a feed token belongs to, or None when it is malformed, forged or revoked."""
    parts = (token or "").split("-")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit() or len(parts[0]) > 19:
        return None
    user_id, version = int(parts[0]), int(parts[1])
    if not hmac.compare_digest(parts[2], _mac(feed_secret(store), user_id, version)):
        return None
    return user_id if store.feed_key_version(user_id) == version else None


def _mac(secret: bytes, user_id: int, version: int) -> str:
    return hmac.new(secret, f"feed:{user_id}:{version}".encode(), hashlib.sha256).hexdigest()[:32]
