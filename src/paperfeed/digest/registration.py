"""Registering on the web by mail: the answer is the same whether or not the address has an account.

``send_registration`` mails a link to finish registering to an address with no account, and to an address
that has one a note saying so (with the sign-in page), so the page that answers the form says the same for
both and the account's existence is told only to whoever reads that mailbox. The link is a signed token bound
to the address (``tokens.REGISTER``, valid for a day); ``registered_address`` checks it when the password is
chosen. Nothing is stored before that.
"""

from __future__ import annotations

import smtplib

from ..library.accounts import AccountError, check_email
from ..storage import Store
from . import tokens
from .send import DigestError, _environment, _message, _secret, _send_one, _url


def send_registration(store: Store, settings, email: str, next_path: str = "/library",
                      smtp: smtplib.SMTP | None = None) -> None:
    """Mail ``email`` the link to finish registering, or, when it has an account, a note saying so."""
    try:
        email = check_email(email)
    except AccountError as error:
        raise DigestError(str(error)) from None
    environment = _environment()
    if store.user_by_email(email) is not None:
        values = {"email": email, "login_url": _url(settings, "/login")}
        template, subject = "register_existing", "You already have a paperfeed account"
    else:
        token = tokens.make_token(_secret(store, settings), tokens.REGISTER, 0, email)
        values = {"email": email, "hours": tokens.REGISTER_SECONDS // 3600,
                  "register_url": _url(settings, "/register/confirm", email=email, token=token, next=next_path)}
        template, subject = "register", "Finish registering at paperfeed"
    message = _message(settings, email, subject, environment.get_template(f"{template}.txt").render(values),
                       environment.get_template(f"{template}.html").render(values))
    _send_one(settings, message, smtp)


def registered_address(store: Store, settings, email: str, token: str) -> str:
    """Return the address a registration link was sent to; raise DigestError if the link is not valid."""
    try:
        email = check_email(email)
        if tokens.token_subscriber(token.strip(), tokens.REGISTER) != 0:
            raise tokens.TokenError("not a registration token")
        tokens.verify_token(_secret(store, settings), token.strip(), tokens.REGISTER, email)
    except (AccountError, tokens.TokenError) as error:
        raise DigestError(f"invalid registration link: {error}") from None
    return email
