"""Register, log in and log out: POST forms (CSRF-checked by the middleware), rate-limited, Argon2id via ``library``.

Neither form tells who has an account. Sign-in answers alike, in about the same time, for an unknown address
and a wrong password, and its limits (``LoginPolicy``) slow guessing without locking the owner out. Register
asks only for an address and answers "check your mail"; the mail holds the link to choose a password, or, for
an address that has an account, says so (``digest.registration``).
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from ...digest.registration import registered_address, send_registration
from ...digest.send import DigestError
from ...library.accounts import MIN_PASSWORD, AccountError, Accounts, LoginPolicy, TooManyAttempts, check_email
from ..rendering import render
from ..security import CSRF_COOKIE, cookie_header
from ..users import client_address, rate_limit, safe_next, session_cookie, session_token, too_many
from .deps import Ctx

router = APIRouter(include_in_schema=False)
FormText = Annotated[str, Form(max_length=1000)]
log = logging.getLogger(__name__)
NO_MAIL = ("This server does not send mail, so accounts cannot be registered here; its operator can make one "
           "with `paperfeed users add`.")


def _signed_in(request: Request, accounts: Accounts, token: str, target: str) -> RedirectResponse:
    """Send the browser on with the new session's cookie."""
    response = RedirectResponse(safe_next(target), status_code=303)
    response.headers.append("set-cookie", session_cookie(request, token, int(accounts.session_days * 86400)))
    _rotate_csrf(request, response)
    return response


def _rotate_csrf(request: Request, response: RedirectResponse) -> None:
    # A new CSRF cookie whenever the session changes: a token seen before sign-in (say, on a shared machine)
    # is worthless after it.
    secure = request.scope.get("state", {}).get("secure_cookies", True)
    response.headers.append("set-cookie", cookie_header(CSRF_COOKIE, secrets.token_urlsafe(32), secure).decode())


def _page(request: Request, mode: str, status: int = 200, **values):
    values = {"email": "", "error": "", "message": "", "hint": "", "token": "", "next": "/library", **values}
    return render(request, "account.html", status=status, mode=mode, min_password=MIN_PASSWORD,
                  **{**values, "next": safe_next(values["next"])})


@router.get("/register")
def register_page(request: Request, context: Ctx, next: str = "/library"):
    """The registration form: an address to mail the link to (no form where this server sends no mail)."""
    if not context.settings.digest_from:
        return _page(request, "no-mail", message=NO_MAIL, next=next)
    return _page(request, "register", next=next)


@router.post("/register")
def register(request: Request, context: Ctx, email: FormText = "", next: FormText = "/library"):
    """Mail the address a link to finish registering (or, if it has an account, a note saying so)."""
    rate_limit(request, context, "register", email)
    if not context.settings.digest_from:
        return _page(request, "no-mail", status=503, message=NO_MAIL, next=next)
    try:
        address = check_email(email)
    except AccountError as error:
        return _page(request, "register", status=400, email=email, error=str(error), next=next)
    try:
        send_registration(context.store, context.settings, address, safe_next(next))
    except DigestError as error:
        log.error("register %s: %s", address, error)  # SMTP details are for the log, not the visitor
        return _page(request, "register", status=503, email=address, next=next,
                     error="The mail could not be sent just now; try again later.")
    # The same page whether or not the address has an account: only its mailbox learns which.
    return _page(request, "sent", email=address, next=next,
                 message=f"A mail is on its way to {address}: follow it to finish registering.")


@router.get("/register/confirm")
def register_confirm_page(request: Request, context: Ctx, email: str = "", token: str = "", next: str = "/library"):
    """The link from the mail: choose a password (GET changes nothing)."""
    try:
        address = registered_address(context.store, context.settings, email, token)
    except DigestError as error:
        return _page(request, "no-mail", status=400, message=str(error))
    return _page(request, "confirm", email=address, token=token, next=next)


@router.post("/register/confirm")
def register_confirm(request: Request, context: Ctx, email: FormText = "", token: FormText = "",
                     password: FormText = "", next: FormText = "/library"):
    """Make the account of a valid registration link and sign it in."""
    try:
        address = registered_address(context.store, context.settings, email, token)
    except DigestError as error:
        return _page(request, "no-mail", status=400, message=str(error))
    accounts = Accounts(context.store, context.settings.session_days)
    try:
        user_id = accounts.create(address, password)
    except AccountError as error:  # a short password, or the account was made with this link already
        return _page(request, "confirm", status=400, email=address, token=token, error=str(error), next=next)
    return _signed_in(request, accounts, accounts.open_session(user_id), next)


SIGN_IN_REASONS = {
    "library": "Your library (saved papers, tags and the recommendations made from them) belongs to an account: "
               "log in to see it, or register to start one.",
    "save": "Saving, tagging and voting on papers need an account: log in, or register, and you come back "
            "to the paper.",
}
"""What the sign-in page says to a visitor sent there (``?why=``): fixed texts, nothing from the URL is echoed."""


@router.get("/login")
def login_page(request: Request, context: Ctx, next: str = "/library", why: str = ""):
    """The sign-in form; a visitor redirected here from a page that needs an account is told why."""
    return _page(request, "login", next=next, hint=SIGN_IN_REASONS.get(why, ""))


@router.post("/login")
def login(request: Request, context: Ctx, email: FormText = "", password: FormText = "",
          next: FormText = "/library"):
    """Check the password (one message for any failure) and open a session."""
    accounts = Accounts(context.store, context.settings.session_days)
    try:
        token = accounts.sign_in(email, password, address=client_address(request),
                                 policy=LoginPolicy.from_settings(context.settings))
    except TooManyAttempts as refused:
        raise too_many(refused.wait) from None
    except AccountError:
        # The same words for an unknown address, a malformed one and a wrong password: no enumeration.
        return _page(request, "login", status=400, email=email, error="Wrong e-mail address or password.",
                     next=next)
    return _signed_in(request, accounts, token, next)


@router.post("/logout")
def logout(request: Request, context: Ctx):
    """End the session in the store and drop the cookie."""
    token = session_token(request)
    if token:
        Accounts(context.store).sign_out(token)
    response = RedirectResponse("/", status_code=303)
    response.headers.append("set-cookie", session_cookie(request, "", 0))
    _rotate_csrf(request, response)
    return response
