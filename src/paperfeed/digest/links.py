"""The digest's links as a small WSGI app: confirm (double opt-in) and RFC 8058 one-click unsubscribe.

GET never changes anything: mail scanners fetch links, so a GET shows a page whose button POSTs. A POST
to the unsubscribe URL with the body ``List-Unsubscribe=One-Click`` (what mail clients send, RFC 8058)
unsubscribes at once; the signed token is its authority, so such a route takes no CSRF token. The web
app can mount ``make_app`` or call ``send.confirm``/``send.unsubscribe`` from its own routes.
"""

from __future__ import annotations

from typing import Callable, Iterable
from urllib.parse import parse_qs

from .send import DigestError, _environment, confirm, unsubscribe

MAX_BODY = 8192

PAGES = {
    "/digest/confirm": ("Confirm your subscription", "Confirm", confirm, "Subscribed: {email} will get the digest."),
    "/digest/unsubscribe": ("Unsubscribe", "Unsubscribe", unsubscribe, "Unsubscribed: no more digests to {email}."),
}


def make_app(open_store: Callable, settings) -> Callable:
    """Return a WSGI app serving the digest links against stores opened by ``open_store()``."""

    def app(environ, start_response) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path not in PAGES:
            return _page(start_response, "404 Not Found", "Not found", "No such page.")
        title, button, action, done = PAGES[path]
        query = parse_qs(environ.get("QUERY_STRING", ""))
        token = (query.get("token") or [""])[0]
        if method == "GET":
            if not token:
                return _page(start_response, "400 Bad Request", title, "This link has no token.")
            return _page(start_response, "200 OK", title, f"Press the button to {button.lower()}.",
                         action=path, token=token, button=button)
        if method != "POST":
            return _page(start_response, "405 Method Not Allowed", title, "Use GET or POST.")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > MAX_BODY:
            return _page(start_response, "413 Content Too Large", title, "Request body too large.")
        form = parse_qs(environ["wsgi.input"].read(length).decode("utf-8", "replace")) if length else {}
        token = (form.get("token") or [token])[0]
        try:
            with open_store() as store:
                subscriber = action(store, settings, token)
        except DigestError as error:
            return _page(start_response, "400 Bad Request", title, str(error))
        return _page(start_response, "200 OK", title, done.format(email=subscriber.email))

    return app


def _page(start_response, status: str, title: str, message: str, **form) -> list[bytes]:
    body = _environment().get_template("page.html").render(
        title=title, message=message, action=form.get("action"), token=form.get("token", ""),
        button=form.get("button", "")).encode()
    start_response(status, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body))),
                            ("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer")])
    return [body]
