"""Request body limits: a body over its route's limit is answered 413 without being read.

The limit is checked twice: from ``Content-Length`` before the app sees the request (nothing of the body is
read; uvicorn stops reading the socket once its small buffer is full), and while the body streams in (chunked
uploads, or a client that sends more than it announced), as soon as the count passes the limit. Either way the
answer carries ``Connection: close``, so the server drops the connection instead of reading the rest.

Every route here takes small bodies (forms of a few fields, JSON of a few tags), so one limit, the setting
``web_max_body_bytes``, serves them all; a route that needs more (an upload) gets its own entry in ``routes``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .rendering import API_PREFIX
from .security import CSP, HEADERS


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes (or the limit of the first ``routes`` pattern the path matches)."""

    def __init__(self, app, limit: int, routes: Sequence[tuple[str, int]] = ()) -> None:
        self.app = app
        self.limit = limit
        self.routes = [(re.compile(pattern), most) for pattern, most in routes]

    def limit_for(self, path: str) -> int:
        for pattern, most in self.routes:
            if pattern.match(path):
                return most
        return self.limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = self.limit_for(path)
        announced = _content_length(scope)
        if announced is not None and announced > limit:
            await _too_large(send, scope, f"{announced:,} bytes announced", limit)
            return

        received = 0
        exceeded = False
        answered = False

        async def counted_receive():
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # The app sees a client that went away; the 413 below is what the client gets.
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            nonlocal answered
            if exceeded and not answered:
                return  # whatever the app says about the cut-off body, the answer is the 413
            if message["type"] == "http.response.start":
                answered = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not exceeded or answered:
                raise
        if exceeded and not answered:
            await _too_large(send, scope, f"more than {limit:,} bytes sent", limit)


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.strip()
            return int(text) if text.isdigit() else None
    return None


async def _too_large(send, scope, what: str, limit: int) -> None:
    path = scope.get("path", "")
    message = (f"Request body too large for {path}: {what}, at most {limit:,} bytes are accepted "
               "(setting web_max_body_bytes).")
    headers = dict(scope.get("headers", ()))
    if path.startswith(API_PREFIX) or b"application/json" in headers.get(b"accept", b""):
        import orjson

        body, kind = orjson.dumps({"error": message, "status": 413}), b"application/json"
    else:
        body, kind = (message + "\n").encode(), b"text/plain; charset=utf-8"
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", kind), (b"content-length", str(len(body)).encode()), (b"connection", b"close"),
        (b"content-security-policy", CSP.encode()), *HEADERS]})
    await send({"type": "http.response.body", "body": body})
