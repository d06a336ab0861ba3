"""Who is asking: the session cookie, the signed-in user, rate limits on the account and subscribe forms."""

from __future__ import annotations

import math

from fastapi import HTTPException, Request

from ..library.accounts import Accounts
from ..storage import UserRow
from .context import Context
from .security import RateLimiter, cookie_header

SESSION_COOKIE = "pf_session"
LIMITS = {
    "register": (10, 3600.0),
    "subscribe": (5, 3600.0),
}
"""(hits, seconds) per client address, and per e-mail address: stops the register form and the subscribe box
from being used to mail-bomb an address. Counted in the store, so the limits hold across every worker and host
serving it. Sign-in has its own limits (``library.accounts.LoginPolicy``: per account and address, with
backoff), which cannot be turned against the owner."""


def make_limiters() -> dict[str, RateLimiter]:
    """One limiter per rate-limited form; the counts live in the store, shared by every worker."""
    return {name: RateLimiter(name, limit, window) for name, (limit, window) in LIMITS.items()}


def client_address(request: Request) -> str:
    """The client's address (the proxy's forwarded one where `paperfeed serve` trusts it)."""
    return request.client.host if request.client else "unknown"


def too_many(wait: float) -> HTTPException:
    """A 429 saying how long to wait, with Retry-After."""
    seconds = max(1, math.ceil(wait))
    return HTTPException(429, f"Too many attempts; try again in {seconds} seconds.",
                         headers={"Retry-After": str(seconds)})


def rate_limit(request: Request, context: Context, name: str, *keys: str) -> None:
    """Count a hit for the client (and each key); raise 429 with Retry-After when one is over its limit."""
    limiter: RateLimiter = request.app.state.limiters[name]
    for key in (f"ip:{client_address(request)}", *(f"key:{k.strip().lower()}" for k in keys if k)):
        wait = limiter.hit(context.store, key)
        if wait:
            raise too_many(wait)


def session_token(request: Request) -> str:
    """The session cookie's token, or ""."""
    return request.scope.get("state", {}).get("cookies", {}).get(SESSION_COOKIE, "")


def load_user(request: Request, context: Context) -> UserRow | None:
    """Resolve the session cookie to its user and keep it on the request (templates show who is signed in)."""
    state = request.scope.setdefault("state", {})
    if "user" not in state:
        token = session_token(request)
        accounts = Accounts(context.store, context.settings.session_days)
        state["user"] = accounts.session_user(token) if token else None
    return state["user"]


def session_cookie(request: Request, token: str, max_age: int) -> str:
    """The Set-Cookie value of the session cookie (HttpOnly, SameSite=Lax, Secure where kept)."""
    secure = request.scope.get("state", {}).get("secure_cookies", True)
    return cookie_header(SESSION_COOKIE, token, secure, max_age).decode()


def safe_next(target: str, default: str = "/library") -> str:
    """A local path to go to after signing in; anything else (another site, ``//host``) gets ``default``."""
    if target.startswith("/") and not target.startswith(("//", "/\\")) and "\n" not in target and "\r" not in target:
        return target
    return default
