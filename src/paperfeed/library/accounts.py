"""Accounts (e-mail + Argon2id password hash) and sessions (random tokens stored only as hashes).

Signing in does the same work for an address with no account (Argon2id against a dummy hash) as for one with
an account, and is limited (``LoginPolicy``) so that guessing is slow without locking the owner out: failures
are counted per (account, client address) pair, per account and per client address, in the store.

Why argon2-cffi over bcrypt: Argon2id is memory-hard (bcrypt is not) and was the Password Hashing
Competition's winner; argon2-cffi's ``PasswordHasher`` picks RFC 9106 parameters, encodes them in the
hash string and says when a stored hash needs a rehash, and it has no 72-byte password limit.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
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
_DUMMY_HASH = ""


class AccountError(ValueError):
    """A bad e-mail address or password, a taken address, failed credentials."""


class TooManyAttempts(AccountError):
    """Sign-in refused without checking the password: too many recent failures; ``wait`` seconds to go."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"too many failed sign-ins; try again in {max(1, int(wait + 0.999))} seconds")
        self.wait = wait


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """How failed sign-ins slow down guessing, over a sliding ``window`` of seconds.

    - pair: ``pair_limit`` failures for one account from one client address lock that pair (not the account)
      until the oldest of them leaves the window;
    - account: once an account has ``account_limit`` failures from all addresses together, an address that has
      itself failed for it waits 2**(failures - account_limit) seconds (at most ``window``) after its last
      failure before it is heard again; an address that has not failed for it is never held back, so the owner
      signs in while the account is under attack;
    - address: ``address_limit`` failures from one client address, whatever the accounts, stop that address
      (password spraying across accounts) until they leave the window.

    Unknown addresses count exactly like known ones, so a refusal says nothing about who has an account.
    """

    window: float = 900.0
    pair_limit: int = 5
    account_limit: int = 10
    address_limit: int = 30

    @classmethod
    def from_settings(cls, settings) -> "LoginPolicy":
        return cls(window=float(settings.login_window), pair_limit=int(settings.login_pair_limit),
                   account_limit=int(settings.login_account_limit), address_limit=int(settings.login_address_limit))

    def wait(self, store: Store, account: str, address: str, now: float) -> float:
        """Seconds before ``address`` may try ``account`` again (0: now)."""
        since = now - self.window
        for_account, for_pair, for_address, pair_last = store.login_failures(account, address, since)
        waits = [0.0]
        if self.address_limit and for_address >= self.address_limit:
            waits.append(store.nth_latest_login_failure(since, self.address_limit, address) - since)
        if self.pair_limit and for_pair >= self.pair_limit:
            waits.append(store.nth_latest_login_failure(since, self.pair_limit, address, account) - since)
        if self.account_limit and for_account >= self.account_limit and pair_last is not None:
            delay = min(self.window, 2.0 ** min(for_account - self.account_limit, 64))
            waits.append(pair_last + delay - now)
        return max(waits)


def account_key(email: str) -> str:
    """What failed sign-ins are counted under: the SHA-256 of the address as typed, stripped and lowercased."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


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


def _dummy_hash() -> str:
    """A hash of a random password with the current parameters, checked when no account matches."""
    global _DUMMY_HASH
    if not _DUMMY_HASH:
        _DUMMY_HASH = _hasher().hash(secrets.token_urlsafe(16))
    return _DUMMY_HASH


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


def new_session_token() -> str:
    """A random session token (256 bits, URL-safe) that does not start with "-": people pass it on the command
    line (``paperfeed users logout TOKEN``), where a leading "-" reads as an option (1 token in 64 did)."""
    token = secrets.token_urlsafe(32)
    while token.startswith("-"):
        token = secrets.token_urlsafe(32)
    return token


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

    def sign_in(self, email: str, password: str, now: datetime | None = None, address: str | None = None,
                policy: LoginPolicy | None = None) -> str:
        """Check the password and open a session; return its token (the only copy).

        With a client ``address`` and a ``policy``, failures are recorded and a client over a limit gets
        TooManyAttempts before any password is checked. An address with no account costs the same Argon2id
        verification as a wrong password does, so the answer's timing does not tell them apart.
        """
        email = check_email(email)
        when = now or datetime.now(timezone.utc)
        moment = when.timestamp()
        key = account_key(email)
        if policy is not None and address is not None:
            wait = policy.wait(self.store, key, address, moment)
            if wait > 0:
                raise TooManyAttempts(wait)
        dummy = _dummy_hash()  # made once per process, before the lookup: even the first miss costs one hash
        user = self.store.user_by_email(email)
        matches = verify_password(user.password_hash if user else dummy, password)
        # The same message for an unknown address and a wrong password: no account enumeration.
        if user is None or not matches:
            if policy is not None and address is not None:
                self.store.record_login_failure(key, address, moment)
                self.store.forget_login_failures_before(moment - 2 * policy.window)
            raise AccountError("wrong e-mail address or password")
        if address is not None:
            self.store.forget_login_failures(key, address)
        if _hasher().check_needs_rehash(user.password_hash):
            self.store.set_password_hash(user.id, _hasher().hash(password))
        return self.open_session(user.id, when)

    def open_session(self, user_id: int, now: datetime | None = None) -> str:
        """Open a session for an account whose owner has just proved who they are; return its token."""
        now = now or datetime.now(timezone.utc)
        token = new_session_token()
        self.store.create_session(user_id, token_hash(token), _stamp(now),
                                  _stamp(now + timedelta(days=self.session_days)))
        return token

    def session_user(self, token: str, now: datetime | None = None) -> UserRow | None:
        """Return the user of a live session token, or None."""
        return self.store.session_account(token_hash(token), _stamp(now or datetime.now(timezone.utc)))

    def sign_out(self, token: str) -> bool:
        """End a session; False when the token opened none."""
        return self.store.delete_session(token_hash(token))
