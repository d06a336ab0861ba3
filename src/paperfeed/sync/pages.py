"""What a fetcher yields (a Page with its cursor), what it is given (FetchContext), and the checked GET they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

from ..fetch import HttpClient, Response
from ..records import ParseError
from .checks import check_body


@dataclass(slots=True)
class Page:
    """One fetched body to store (or none), and the cursor that holds once it is stored."""

    url: str
    """The URL actually fetched (for error messages)."""
    origin: str
    """Where its records are said to come from; stable across retries so that a refetch is recognised."""
    format: str
    data: bytes | None
    cursor: dict[str, Any]
    note: str | None = None


@dataclass(slots=True)
class FetchContext:
    """What a fetcher needs besides its source."""

    client: HttpClient
    since: str | None = None
    """``--since``: start there instead of at the stored cursor."""
    today: date = field(default_factory=date.today)
    contact: str = ""
    """PAPERFEED_CONTACT: sent as Crossref's ``mailto`` (its polite pool)."""
    semantic_scholar_api_key: str = ""


def get_checked(context: FetchContext, url: str, kind: str, expected: str, cursor: dict[str, Any] | None = None,
                check: Callable[[bytes], None] | None = None, headers: dict[str, str] | None = None) -> Response:
    """GET ``url`` and check that the body is what the source sends (``expected`` names it in the error)."""
    validators = cursor or {}
    response = context.client.get(url, kind=kind, etag=validators.get("etag"),
                                  last_modified=validators.get("last_modified"), headers=headers)
    if not response.not_modified:
        try:
            check_body(response.content, response.content_type, response.status, expected)
            if check:
                check(response.content)
        except ParseError as error:
            raise ParseError(error.message, f"{url} {error.place}") from None
    return response
