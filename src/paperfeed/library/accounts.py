"""Accounts (e-mail + Argon2id password hash) and sessions (random tokens stored only as hashes).

Why argon2-cffi over bcrypt: Argon2id is memory-hard (bcrypt is not) and was the Password Hashing
Competition's winner; argon2-cffi's ``PasswordHasher`` picks RFC 9106 parameters, encodes them in the
hash string and says when a stored hash needs a rehash, and it has no 72-byte password limit.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..storage import Store, UserRow

MIN_PASSWORD = 8
MAX_EMAIL = 254
# A conservative addr-spec: dot-atom local part, a domain of labels. Quoted local parts and IP literals
# are refused: they are rare, and every character they allow is one more way to smuggle a header.
_EMAIL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
_HASHER = None


class AccountError(ValueError):
    """A bad e-mail address or password, a taken address, failed credentials."""


def check_email(address: str) -> str:
    """Return the address stripped of surrounding blanks, or raise AccountError saying what is wrong."""
    if not isinstance(address, str):
        raise AccountError("e-mail address must be text")
    if any(ch in address for ch in "\r\n\x00"):
        raise AccountError(f"e-mail address {address!r} contains a line break or NUL (refused: header injection)")
    address = address.strip()
    if len(address) > MAX_EMAIL:
        raise AccountError(f"e-mail address of {len(address)} characters is longer than {MAX_EMAIL}")
    if not _EMAIL.match(address):
        raise AccountError(f"{address!r} is not a valid e-mail address (expected name@example.org)")
    return address


def _hasher() -> PasswordHasher:
    global _HASHER
    if _HASHER is None:  # built on first use, not at import
        _HASHER = PasswordHasher()
    return _HASHER


def hash_password(password: str) -> str:
    """Hash a password with Argon2id; refuse one shorter than MIN_PASSWORD characters."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password must be at least {MIN_PASSWORD} characters")
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Say whether ``password`` matches the stored hash."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    """Return the stored form of a session token: its SHA-256 (the token itself is 256 random bits)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Accounts:
    """Create users, sign them in and out, and resolve sessions."""

    def __init__(self, store: Store, session_days: float = 30.0) -> None:
        self.store = store
        self.session_days = session_days

    def create(self, email: str, password: str) -> int:
        """Create an account; raise AccountError for a bad or taken address or a short password."""
        email = check_email(email)
        user_id = self.store.create_user(email, hash_password(password))
        if user_id is None:
            raise AccountError(f"an account for {email} exists already")
        return user_id

    def user(self, email: str) -> UserRow:
        """Return the account of ``email`` or raise AccountError."""
        user = self.store.user_by_email(check_email(email))
        if user is None:
            raise AccountError(f"no account for {email}")
        return user

    def sign_in(self, email: str, password: str, now: datetime | None = None) -> str:
        """Check the password and open a session; return its token (the only copy)."""
        user = self.store.user_by_email(check_email(email))
        # The same message for an unknown address and a wrong password: no account enumeration.
        if user is None or not verify_password(user.password_hash, password):
            raise AccountError("wrong e-mail address or password")
        if _hasher().check_needs_rehash(user.password_hash):
            self.store.set_password_hash(user.id, _hasher().hash(password))
        now = now or datetime.now(timezone.utc)
        token = secrets.token_urlsafe(32)
        self.store.create_session(user.id, token_hash(token), _stamp(now),
                                  _stamp(now + timedelta(days=self.session_days)))
        return token

    def session_user(self, token: str, now: datetime | None = None) -> UserRow | None:
        """Return the user of a live session token, or None."""
        user_id = self.store.session_user(token_hash(token), _stamp(now or datetime.now(timezone.utc)))
        return self.store.user_by_id(user_id) if user_id is not None else None

    def sign_out(self, token: str) -> bool:
        """End a session; False when the token opened none."""
        return self.store.delete_session(token_hash(token))
