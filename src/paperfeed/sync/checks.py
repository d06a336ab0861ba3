"""Pure checks and readings of fetched bodies: is this what the source should send, and what does it say."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlencode

from ..records import ParseError
from ..sources.common import root_local_name

_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.IGNORECASE | re.DOTALL)
_NOT_TEXT = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip", "application/gzip",
             "application/x-tar", "application/octet-stream")
_OAI_ERROR = re.compile(rb'<error\s+code="([^"]+)"\s*>([^<]*)</error>')
_RESPONSE_DATE = re.compile(rb"<responseDate>\s*(\d{4}-\d{2}-\d{2})")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

FEED_ROOTS = {"rss", "RDF", "feed"}


def check_body(body: bytes, content_type: str, status: int, expected: str) -> None:
    """Raise ParseError (at byte 0) for an empty body, an HTML page, or a content type that cannot hold ``expected``."""
    if not body.strip():
        raise ParseError(f"empty response (HTTP {status}), expected {expected}", "byte 0")
    if _HTML_START.match(body[:4096].lstrip(b"\xef\xbb\xbf")):
        raise ParseError(f"the server sent an HTML page (HTTP {status}, {content_type or 'no content type'}), "
                         f"not {expected}: an error page, a login wall, or not the right URL", "byte 0")
    media = content_type.split(";", 1)[0].strip().lower()
    if media.startswith(_NOT_TEXT):
        raise ParseError(f"wrong content type {media!r}, expected {expected}", "byte 0")


def check_feed(body: bytes) -> None:
    """Raise ParseError unless the body's root element is a feed (rss, RDF or Atom feed)."""
    root = root_local_name(body[:8192])
    if root not in FEED_ROOTS:
        found = f"the root element is <{root}>" if root else "no XML root element"
        raise ParseError(f"not an RSS or Atom feed: {found}", "byte 0")


def oai_error(body: bytes) -> tuple[str, str] | None:
    """Return (code, message) of an OAI-PMH error response, or None; errors come in small bodies, a regex suffices."""
    match = _OAI_ERROR.search(body[:16384])
    if match is None:
        return None
    return match.group(1).decode("ascii", "replace"), match.group(2).decode("utf-8", "replace").strip()


def response_day(body: bytes) -> str | None:
    """The ``YYYY-MM-DD`` of an OAI-PMH response's ``<responseDate>``, or None."""
    match = _RESPONSE_DATE.search(body[:4096])
    return match.group(1).decode() if match else None


def oai_list_url(base: str, prefix: str, set_spec: str | None, since: str | None = None,
                 until: str | None = None) -> str:
    """A ListRecords URL; without dates it names the harvest itself (the origin its records are stored under)."""
    query = {"verb": "ListRecords", "metadataPrefix": prefix}
    if set_spec:
        query["set"] = set_spec
    if since:
        query["from"] = since
    if until:
        query["until"] = until
    return f"{base}?{urlencode(query)}"


def oai_token_url(base: str, token: str) -> str:
    """The ListRecords URL that continues a harvest after ``token``."""
    return f"{base}?{urlencode({'verb': 'ListRecords', 'resumptionToken': token})}"


def quiet_day_note(day: str, what: str) -> str:
    """Say that a day had nothing, and why that is normal (weekend) or likely (holiday)."""
    try:
        weekday = date.fromisoformat(day).weekday()
    except ValueError:
        return f"{day}: no {what}"
    reason = "weekend, nothing is announced" if weekday >= 5 else "no announcements that day (holiday?)"
    return f"{day} ({_WEEKDAYS[weekday]}): no {what}, {reason}"
