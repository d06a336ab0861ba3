"""Register, log in and log out: POST forms (CSRF-checked by the middleware), rate-limited, Argon2id via ``library``."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from ...library.accounts import MIN_PASSWORD, AccountError, Accounts
from ..rendering import render
from ..security import CSRF_COOKIE, cookie_header
from ..users import rate_limit, safe_next, session_cookie, session_token
from .deps import Ctx

router = APIRouter(include_in_schema=False)
FormText = Annotated[str, Form(max_length=1000)]


def _signed_in(request: Request, accounts: Accounts, email: str, password: str, target: str) -> RedirectResponse:
    """Open a session and send the browser on with its cookie."""
    token = accounts.sign_in(email, password)
    response = RedirectResponse(safe_next(target), status_code=303)
    response.headers.append("set-cookie", session_cookie(request, token, int(accounts.session_days * 86400)))
    _rotate_csrf(request, response)
    return response


def _rotate_csrf(request: Request, response: RedirectResponse) -> None:
    # A new CSRF cookie whenever the session changes: a token seen before sign-in (say, on a shared machine)
    # is worthless after it.
    secure = request.scope.get("state", {}).get("secure_cookies", True)
    response.headers.append("set-cookie", cookie_header(CSRF_COOKIE, secrets.token_urlsafe(32), secure).decode())


@router.get("/register")
def register_page(request: Request, context: Ctx, next: str = "/library"):
    """The registration form."""
    return render(request, "account.html", mode="register", email="", error="", next=safe_next(next),
                  min_password=MIN_PASSWORD)


@router.post("/register")
def register(request: Request, context: Ctx, email: FormText = "", password: FormText = "",
             next: FormText = "/library"):
    """Create an account and sign it in; a bad or taken address or short password shows the form again."""
    rate_limit(request, context, "register")
    accounts = Accounts(context.store, context.settings.session_days)
    try:
        accounts.create(email, password)
        return _signed_in(request, accounts, email, password, next)
    except AccountError as error:
        return render(request, "account.html", status=400, mode="register", email=email, error=str(error),
                      next=safe_next(next), min_password=MIN_PASSWORD)


@router.get("/login")
def login_page(request: Request, context: Ctx, next: str = "/library"):
    """The sign-in form."""
    return render(request, "account.html", mode="login", email="", error="", next=safe_next(next),
                  min_password=MIN_PASSWORD)


@router.post("/login")
def login(request: Request, context: Ctx, email: FormText = "", password: FormText = "",
          next: FormText = "/library"):
    """Check the password (one message for any failure) and open a session."""
    rate_limit(request, context, "login", email)
    accounts = Accounts(context.store, context.settings.session_days)
    try:
        return _signed_in(request, accounts, email, password, next)
    except AccountError:
        # The same words for an unknown address, a malformed one and a wrong password: no enumeration.
        return render(request, "account.html", status=400, mode="login", email=email,
                      error="Wrong e-mail address or password.", next=safe_next(next), min_password=MIN_PASSWORD)


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

