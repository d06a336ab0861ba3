"""Signed tokens for confirmation and unsubscribe links: HMAC-SHA256 from the standard library.

Why hmac over itsdangerous: a token here signs three fields (purpose, subscriber, expiry) bound to the
subscriber's address; twenty lines of ``hmac`` with ``compare_digest`` do that with no dependency, and
binding the address in means a token stops working if the row is ever reused for another address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

import orjson

CONFIRM = "confirm"
UNSUBSCRIBE = "unsubscribe"
REGISTER = "register"
CONFIRM_SECONDS = 7 * 24 * 3600
"""A confirmation link works for a week; unsubscribe links never expire (RFC 8058 mail stays in inboxes)."""
REGISTER_SECONDS = 24 * 3600
"""A link to finish registering works for a day."""
LIFETIMES = {CONFIRM: CONFIRM_SECONDS, REGISTER: REGISTER_SECONDS}


class TokenError(ValueError):
    """A token that is malformed, forged, expired or for another purpose."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_secret() -> str:
    """Return a fresh 256-bit signing secret."""
    return secrets.token_hex(32)


def _mac(secret: str, payload: str, email: str) -> str:
    message = f"{payload}|{email.lower()}".encode()
    return _b64(hmac.new(secret.encode(), message, hashlib.sha256).digest())


def make_token(secret: str, purpose: str, subscriber_id: int, email: str, now: float | None = None) -> str:
    """Sign a token saying ``purpose`` for one subscriber (confirm and register tokens expire, unsubscribe ones
    do not). A register token is for an address with no subscriber row: its id is 0, the address is bound in."""
    expires = int((now or time.time()) + LIFETIMES[purpose]) if purpose in LIFETIMES else 0
    payload = _b64(orjson.dumps([purpose, subscriber_id, expires]))
    return f"{payload}.{_mac(secret, payload, email)}"


def token_subscriber(token: str, purpose: str) -> int:
    """Read the subscriber id out of a token without trusting it yet (``verify_token`` checks it)."""
    try:
        payload, _ = token.split(".", 1)
        found, subscriber_id, _ = orjson.loads(_unb64(payload))
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise TokenError("malformed token") from None
    if found != purpose or not isinstance(subscriber_id, int):
        raise TokenError(f"not a {purpose} token")
    return subscriber_id


def verify_token(secret: str, token: str, purpose: str, email: str, now: float | None = None) -> int:
    """Return the subscriber id of a valid token for ``purpose`` and ``email``; raise TokenError if not."""
    subscriber_id = token_subscriber(token, purpose)
    payload, mac = token.split(".", 1)
    if not hmac.compare_digest(mac, _mac(secret, payload, email)):
        raise TokenError("token signature does not match")
    expires = orjson.loads(_unb64(payload))[2]
    if expires and (now or time.time()) > expires:
        raise TokenError("token expired: subscribe again for a new confirmation link")
    return subscriber_id
