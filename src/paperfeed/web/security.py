"""Security of the web app: headers (CSP), CSRF on every unsafe method, cookie flags, the signing key, rate limits.

CSRF uses the signed double-submit pattern: a random ``pf_csrf`` cookie (HttpOnly, SameSite=Lax) and, in every
form, a token that is the HMAC of that cookie, and of the session cookie when there is one, under the server's
key. A cross-site page can neither read the cookie nor compute the token, and a cookie planted by a sibling
subdomain does not match a token it cannot sign. Binding the session in means a token obtained without the
session (before signing in, or in another session with the same planted cookie) does not pass for it, while the
forms of visitors who are not signed in (log in, register, subscribe) keep working on the cookie alone.
The check runs in ASGI middleware before routing, so a POST route added later is covered without opting in.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from functools import lru_cache
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

CSRF_COOKIE = "pf_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = b"x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
ONE_CLICK_PATHS = {"/digest/unsubscribe"}
ONE_CLICK_FORM = {"List-Unsubscribe": ["One-Click"]}
MAX_FORM_BYTES = 64 * 1024
"""Forms here hold a few short fields; a larger body to a form route is refused rather than buffered."""

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# The trend chart is an SVG document shown through <img>: its own <style> must apply, and nothing else may load.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


def load_secret(store) -> bytes:
    """Return the web signing key: made at random on first use and kept in the store, so every worker and
    every host serving the store signs alike (the ``secret_key`` setting overrides it; see ``create_app``)."""
    return bytes.fromhex(store.app_secret("web", lambda: secrets.token_hex(32)))


def csrf_token(secret: bytes, cookie_value: str, session: str = "") -> str:
    """The form token matching a ``pf_csrf`` cookie value and the session cookie's value ("" when none)."""
    message = b"csrf:" + cookie_value.encode()
    if session:
        message += b"|session:" + hashlib.sha256(session.encode()).hexdigest().encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


@lru_cache(maxsize=1024)
def is_loopback(host: str) -> bool:
    """Whether a Host header names this machine (where browsers accept Secure cookies over plain HTTP).

    Remembered per Host value: every request asks, and parsing an address costs more than the rest of the check."""
    name = host[1:host.find("]")] if host.startswith("[") else host.split(":")[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def cookie_header(name: str, value: str, secure: bool, max_age: int | None = None) -> bytes:
    """A Set-Cookie value: HttpOnly, SameSite=Lax, Path=/, Secure when the browser will keep it."""
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts).encode()


def wants_secure(scope) -> bool:
    """Secure cookies over HTTPS and on loopback; plain HTTP to another host (a LAN install) cannot keep them."""
    if scope.get("scheme") == "https":
        return True
    host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
    return is_loopback(host) or not host


class SecurityMiddleware:
    """Add the security headers, issue the CSRF cookie, and refuse unsafe requests without a valid token."""

    def __init__(self, app, secret: bytes, session_cookie: str = "pf_session") -> None:
        self.app = app
        self.secret = secret
        self.session_cookie = session_cookie

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get(b"cookie", b"").decode("latin-1"))
        except Exception:  # a malformed Cookie header is treated as no cookie, not a server error
            cookies = SimpleCookie()
        existing = cookies[CSRF_COOKIE].value if CSRF_COOKIE in cookies else ""
        cookie_value = existing if len(existing) == 43 else secrets.token_urlsafe(32)
        state = scope.setdefault("state", {})
        session = cookies[self.session_cookie].value if self.session_cookie in cookies else ""
        state["csrf_token"] = csrf_token(self.secret, cookie_value, session)
        state["cookies"] = {key: morsel.value for key, morsel in cookies.items()}
        secure = wants_secure(scope)
        state["secure_cookies"] = secure

        if scope["method"] not in SAFE_METHODS:
            refused, receive = await self._check(scope, receive, headers, existing, session)
            if refused:
                await _plain(send, 403, f"Forbidden: {refused}.\n", headers)
                return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                out = list(message.get("headers", []))
                names = {name.lower() for name, _ in out}
                if b"content-security-policy" not in names:
                    out.append((b"content-security-policy", CSP.encode()))
                out += [pair for pair in HEADERS if pair[0] not in names]
                if cookie_value != existing:
                    out.append((b"set-cookie", cookie_header(CSRF_COOKIE, cookie_value, secure)))
                message = {**message, "headers": out}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _check(self, scope, receive, headers, cookie_value: str, session: str):
        """Return (reason refused or "", a receive that replays the body read here)."""
        given = headers.get(CSRF_HEADER, b"").decode("latin-1")
        body = b""
        if not given:
            content_type = headers.get(b"content-type", b"").split(b";")[0].strip()
            if content_type != b"application/x-www-form-urlencoded":
                if not cookie_value:
                    return "missing CSRF cookie (load the page again)", receive
                return "a form post or an X-CSRF-Token header is required", receive
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return "client went away", receive
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > MAX_FORM_BYTES:
                    return "form too large", receive
            form = parse_qs(body.decode("latin-1"))
            # RFC 8058 one-click unsubscribe: a mail client posts exactly this body with no cookie; the signed
            # token in the URL is its authority (the route verifies it), so a CSRF token cannot be asked for.
            if scope.get("path") in ONE_CLICK_PATHS and form == ONE_CLICK_FORM:
                return "", _replay(body, receive)
            given = form.get(CSRF_FIELD, [""])[0]
        if not cookie_value:
            return "missing CSRF cookie (load the page again)", receive
        expected = csrf_token(self.secret, cookie_value, session)
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return "invalid or missing CSRF token (load the page again)", receive
        return "", _replay(body, receive) if body else receive


def _replay(body: bytes, receive):
    """Return a receive that hands the route the body the middleware already read."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _plain(send, status: int, text: str, headers) -> None:
    body = text.encode()
    wants_json = b"application/json" in headers.get(b"accept", b"")
    if wants_json:
        import orjson

        body = orjson.dumps({"error": text.strip()})
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json" if wants_json else b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"content-security-policy", CSP.encode()), *HEADERS]})
    await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """About ``limit`` hits per key in any ``window`` seconds, counted in the store so every worker shares them.

    Counters are fixed windows in the store (``storage.limits``); the estimate slides: the previous window's
    hits count in proportion to how much of it still lies within ``window`` seconds of now (the sliding-window
    counter of Cloudflare and nginx). Refused hits count too, so hammering keeps a client out.
    """

    def __init__(self, name: str, limit: int, window: float) -> None:
        self.name = name
        self.limit = limit
        self.window = window
        self._pruned_before = 0

    def hit(self, store, key: str, now: float | None = None) -> float:
        """Record a hit; return 0 if allowed, else about how many seconds until one would be."""
        now = time.time() if now is None else now
        start = int(now // self.window * self.window)
        hits, previous = store.count_hit(f"{self.name}:{key}", start, start - int(self.window))
        if self._pruned_before < start - self.window:  # once per window per process: old counters go
            self._pruned_before = int(start - self.window)
            store.forget_hits_before(self._pruned_before)
        elapsed = (now - start) / self.window
        if previous * (1 - elapsed) + hits <= self.limit:
            return 0.0
        if hits < self.limit:  # the previous window's share is what is over: wait until enough of it has slid out
            return max(1.0, start + self.window * (1 - (self.limit - hits) / previous) - now)
        # This window alone is full: it becomes the previous one, and must slide out far enough for one more.
        return max(1.0, start + self.window * (2 - (self.limit - 1) / hits) - now)
