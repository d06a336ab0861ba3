"""Rendered pages for visitors who are not signed in, reused across requests with their per-visitor part filled in.

A page such as Daily Papers is the same for every anonymous visitor but one thing: the CSRF token in its forms
(subscribe, save), which is derived from that visitor's own cookie. So the whole response is kept once and, on
a hit, the token it was rendered with is swapped for this visitor's. The token is 64 hex characters of an HMAC
under the server's key, so it cannot occur anywhere else in the page by chance.

A hit never reaches the router: no thread hop, no store connection, no template. That is what takes the daily
page from about 300 to well over 500 requests per second on two workers (``bench/web.py``).

Staleness is bounded three ways, as for ``partcache.cached``: an entry is dropped as soon as the store's search
change log moves (every item insert, update, delete or retag; polled at most every ``POLL_SECONDS``); the pages
of a kind are dropped when the store's change counter of that kind moves (``web.changes``: what the log does not
see, votes and comments, made through any worker; read at most every ``changes.POLL_SECONDS``); and after
``max_age`` seconds at most (anything else). A signed-in visitor's pages are never cached: they show that
visitor's own marks. A route that changes what anonymous pages show and the store version does not see (a vote,
a comment) says so with ``shared_pages_changed``; when its answer is a success (2xx or 3xx) this process drops
the pages of that kind at once, without waiting for the poll. Nothing else empties the cache:
a POST that changed nothing shared (a refused or unknown request, 405, a sign-in, a save to a library) leaves
it alone, so anonymous POSTs cannot be used to make every page render afresh.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from .changes import Seen
from .partcache import forget_cached

POLL_SECONDS = 1.0
"""How often the store's change-log position is read for the version check (once per process, not per hit)."""
MAX_BYTES = 64 * 1024 * 1024
"""Most bytes of page bodies kept per server process; the least recently used pages go first."""

CACHEABLE = re.compile(r"^/(?:|papers/\d{4}-\d{2}-\d{2}|topics|topics/[a-z0-9-]+|items/\d+|authors/\d+)$")
"""Pages that look the same to every visitor who is not signed in (feeds, search and the API are left out)."""


CHANGED = "pagecache.shared_pages_changed"
"""Key in the request's ASGI state set by ``shared_pages_changed`` (the kinds of parts changed, or ALL)."""
ALL = ("*",)
PAGES_SHOWING = {"daily": re.compile(r"^/(?:papers/.*)?$"), "item": re.compile(r"^/items/")}
"""The cached pages that show each kind of page part (``queries`` cache keys): a vote drops only the daily
pages, a comment the item pages and the daily pages (their cards count comments)."""


def shared_pages_changed(request, parts: tuple[str, ...] | None = None) -> None:
    """Say that this request changed what anonymous pages show beyond the store version (a vote, a comment); the
    pages of this process that show it are dropped once the request is answered with a success (other processes
    drop theirs when the store's change counter, moved with the write, is next read: ``web.changes``).
    ``parts``: the kinds of cached page parts it changed (``partcache.forget_cached``; a vote moves only the daily
    ranking), or None for all."""
    request.scope.setdefault("state", {})[CHANGED] = parts or ALL
    forget_cached(parts)  # the page parts the pages are made of, so a re-rendered page shows the change


@dataclass(slots=True)
class CachedPage:
    version: int
    stored_at: float
    token: bytes
    """The CSRF token the body was rendered with (swapped for the visitor's on a hit)."""
    headers: list[tuple[bytes, bytes]]
    body: bytes


class PageCache:
    """An LRU of rendered pages keyed by path and query, valid for one store version and ``max_age`` seconds."""

    def __init__(self, version: Callable[[], int], max_age: float = 60.0, max_bytes: int = MAX_BYTES,
                 shared_changes: Callable[[], dict[str, int]] | None = None) -> None:
        self._version_of_store = version
        self._shared_changes = shared_changes
        """The store's change counters (``changes.latest_counts``): a kind that moved drops its pages."""
        self._seen_changes = Seen()
        self.max_age = max_age
        self.max_bytes = max_bytes
        self._pages: OrderedDict[tuple[str, bytes], CachedPage] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._version = -1
        self._polled_at = float("-inf")
        self.generation = 0
        """Moves with every ``clear``: a page rendered across a clear is not kept (``put``'s ``generation``)."""

    def version(self) -> int:
        """The store's change-log position, read at most every POLL_SECONDS; first, the pages of the kinds
        whose change counters moved (a vote or a comment through another process) are dropped."""
        if self._shared_changes is not None:
            self._drop_shared_changes()
        now = time.monotonic()
        if now - self._polled_at >= POLL_SECONDS:
            self._polled_at = now
            self._version = self._version_of_store()
        return self._version

    def _drop_shared_changes(self) -> None:
        self._seen_changes.act(self._shared_changes(), self._drop_parts)

    def _drop_parts(self, parts: set[str]) -> None:
        """Drop the pages that show any of ``parts`` (every page when one is not in PAGES_SHOWING)."""
        if all(part in PAGES_SHOWING for part in parts):
            for part in parts:
                self.clear(PAGES_SHOWING[part])
        else:
            self.clear()

    def get(self, key: tuple[str, bytes]) -> CachedPage | None:
        version = self.version()
        with self._lock:
            page = self._pages.get(key)
            if page is None:
                return None
            if page.version != version or time.monotonic() - page.stored_at >= self.max_age:
                self._drop(key)
                return None
            self._pages.move_to_end(key)
            return page

    def put(self, key: tuple[str, bytes], page: CachedPage, generation: int | None = None) -> None:
        """Keep ``page``, unless it is too large or the cache was cleared since ``generation`` was read."""
        if len(page.body) > self.max_bytes // 8:
            return
        with self._lock:
            if generation is not None and generation != self.generation:
                return
            if key in self._pages:
                self._drop(key)
            self._pages[key] = page
            self._bytes += len(page.body)
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._pages)))

    def clear(self, paths: re.Pattern | None = None) -> None:
        """Drop every page, or those whose path matches ``paths``."""
        with self._lock:
            self.generation += 1
            if paths is None:
                self._pages.clear()
                self._bytes = 0
            else:
                for key in [key for key in self._pages if paths.match(key[0])]:
                    self._drop(key)

    def __len__(self) -> int:
        return len(self._pages)

    def _drop(self, key: tuple[str, bytes]) -> None:
        self._bytes -= len(self._pages.pop(key).body)


class PageCacheMiddleware:
    """Serve anonymous GETs of ``CACHEABLE`` pages from a ``PageCache``; fill it from the app's answers.

    Runs inside ``SecurityMiddleware``, which has already read the cookies and set the visitor's CSRF token
    (and adds the security headers and the CSRF cookie to whatever is sent from here).
    """

    def __init__(self, app, cache: PageCache, session_cookie: str) -> None:
        self.app = app
        self.cache = cache
        self.session_cookie = session_cookie

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.get("state") or {}
        if scope["method"] != "GET":
            if scope["method"] in ("HEAD", "OPTIONS"):
                await self.app(scope, receive, send)
                return
            status = 0

            async def watch(message):
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            await self.app(scope, receive, watch)
            # Only a success from a route that changed shared pages drops them; clearing moves the generation,
            # so a page rendered while the change was being written is not kept either.
            changed = (scope.get("state") or {}).get(CHANGED)
            if changed and 200 <= status < 400:
                if all(kind in PAGES_SHOWING for kind in changed):
                    for kind in changed:
                        self.cache.clear(PAGES_SHOWING[kind])
                else:
                    self.cache.clear()
            return
        if self.session_cookie in state.get("cookies", {}) or not CACHEABLE.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        key = (scope["path"], scope.get("query_string", b""))
        token = state.get("csrf_token", "").encode()
        if len(token) != 64:  # not the HMAC the cache can swap: serve this one fresh
            await self.app(scope, receive, send)
            return
        page = self.cache.get(key)
        if page is not None:
            body = page.body.replace(page.token, token)
            await send({"type": "http.response.start", "status": 200,
                        "headers": [*page.headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self._fill(scope, receive, send, key, token)

    async def _fill(self, scope, receive, send, key, token: bytes) -> None:
        version = self.cache.version()  # read before rendering: a change made meanwhile drops this entry
        generation = self.cache.generation
        started: dict = {}
        parts: list[bytes] = []

        async def capture(message):
            if message["type"] == "http.response.start":
                started.update(message)
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
                if not message.get("more_body", False) and _storable(started):
                    headers = [(name, value) for name, value in started.get("headers", [])
                               if name.lower() != b"content-length"]
                    self.cache.put(key, CachedPage(version, time.monotonic(), token, headers, b"".join(parts)),
                                   generation)
            await send(message)

        await self.app(scope, receive, capture)


def _storable(started: dict) -> bool:
    """Only a complete 200 HTML answer that sets nothing for its visitor (no cookie) is shared."""
    if started.get("status") != 200:
        return False
    names = {name.lower(): value for name, value in started.get("headers", [])}
    return b"set-cookie" not in names and names.get(b"content-type", b"").startswith(b"text/html")
