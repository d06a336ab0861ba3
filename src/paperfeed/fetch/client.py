"""The one HTTP client every fetcher uses: timeouts, retries with backoff, politeness, conditional GET.

Redirects are followed by hand so that every hop passes the URL safety check, and bodies are read
with a size cap so a hostile server cannot fill memory.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Callable
from urllib.parse import urljoin

import httpx

from .. import __version__
from .politeness import ARXIV, CROSSREF, DBLP, HUGGING_FACE, OPENREVIEW, SEMANTIC_SCHOLAR, Pacer, Rule, group_for
from .guard import CheckedTransport
from .urls import Resolver, UnsafeURLError, check_url, resolve

MAX_BODY_BYTES = 256 * 1024 * 1024
"""Bigger than any real OAI page or feed (arXiv pages are a few MB); past it the response is refused."""
MAX_REDIRECTS = 5
ATTEMPT_DEADLINE_FACTOR = 10
"""An attempt may take this many read timeouts in all, so a server dripping a byte at a time cannot hang a sync."""
_REDIRECTS = {301, 302, 303, 307, 308}


class FetchError(RuntimeError):
    """A request that failed for good (after retries, or at once for a 4xx); ``url`` says which."""

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.message = message
        self.url = url

    def __str__(self) -> str:
        return f"{self.message} ({self.url})"


@dataclass(slots=True)
class Response:
    """A finished response: the body, and the validators for the next conditional GET."""

    url: str
    status: int
    content: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    attempts: int = 1
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def not_modified(self) -> bool:
        """True for a 304: the server has nothing newer than the validators we sent."""
        return self.status == 304


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Read a Retry-After header (seconds, or an HTTP date) as seconds from now; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return max(moment.timestamp() - (time.time() if now is None else now), 0.0)


def backoff_delay(attempt: int, base: float, ceiling: float, retry_after: float | None,
                  rand: Callable[[float, float], float] = random.uniform) -> float | None:
    """Seconds to wait before retry number ``attempt + 1``: doubling with jitter, at least the server's Retry-After.

    None when the server asks for longer than ``ceiling``: waiting that long inside one sync is worse than failing.
    """
    if retry_after is not None and retry_after > ceiling:
        return None
    exponential = min(base * (2 ** attempt), ceiling)
    # Jitter in the upper half keeps the doubling while spreading clients that failed together.
    delay = rand(exponential / 2, exponential) if exponential > 0 else 0.0
    return max(delay, retry_after or 0.0)


class HttpClient:
    """GET with timeouts, retries, per-group politeness, size caps and URL safety on every hop."""

    def __init__(self, *, user_agent: str, pacer: Pacer, timeout: float = 30.0, retries: int = 4,
                 retry_delay: float = 2.0, retry_max_delay: float = 300.0, allow_private: bool = False,
                 sleep: Callable[[float], None] = time.sleep, transport: httpx.BaseTransport | None = None,
                 resolver: Resolver = resolve) -> None:
        self.pacer = pacer
        self.timeout = timeout
        self.retries = retries
        self.retry_delay = retry_delay
        self.retry_max_delay = retry_max_delay
        self.allow_private = allow_private
        self.sleep = sleep
        self.resolver = resolver
        # One keep-alive connection per host: arXiv asks for its requests over a single connection.
        limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
        # The URL check below refuses early with a clear message; the transport checks again the very
        # addresses it connects to, so a name that resolves differently the second time gains nothing.
        self._http = httpx.Client(
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(timeout), follow_redirects=False, limits=limits,
            transport=transport or CheckedTransport(limits, allow_private, resolver),
        )

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> "HttpClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(self, url: str, *, kind: str | None = None, etag: str | None = None,
            last_modified: str | None = None, headers: dict[str, str] | None = None) -> Response:
        """Fetch ``url``; a 304 comes back as a Response with ``not_modified``; failures raise FetchError.

        ``headers``: extra request headers (an API key); never part of an error message."""
        headers = dict(headers or {})
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        attempt, hops = 0, 0
        while True:
            try:
                check_url(url, self.allow_private, self.resolver)
            except UnsafeURLError as error:
                raise FetchError(str(error), url) from None
            retry_after = None
            group = group_for(url, kind)
            try:
                with self.pacer.slot(group):
                    response = self._send(url, headers)
                    self.pacer.adopt_advertised(group, response.headers)
            except UnsafeURLError as error:  # raised at connect time: the name now resolves somewhere refused
                raise FetchError(str(error), url) from None
            except httpx.TimeoutException as error:
                problem = f"timed out after {self.timeout:g} s ({type(error).__name__})"
            except httpx.TransportError as error:
                problem = f"network error: {error or type(error).__name__}"
            else:
                if response.status in _REDIRECTS and "location" in response.headers:
                    hops += 1
                    if hops > MAX_REDIRECTS:
                        raise FetchError(f"more than {MAX_REDIRECTS} redirects", url)
                    url = urljoin(url, response.headers["location"])
                    continue
                response.attempts = attempt + 1
                if response.status < 300 or response.status == 304:
                    return response
                if response.status != 429 and response.status < 500:
                    raise FetchError(f"HTTP {response.status} {_reason(response.status)}", url)
                problem = f"HTTP {response.status} {_reason(response.status)}"
                retry_after = retry_after_seconds(response.headers.get("retry-after"))
            if attempt >= self.retries:
                raise FetchError(f"{problem}; gave up after {attempt + 1} attempts", url)
            delay = backoff_delay(attempt, self.retry_delay, self.retry_max_delay, retry_after)
            if delay is None:
                raise FetchError(f"{problem}; the server asks to retry after {retry_after:.0f} s, longer than "
                                 f"PAPERFEED_RETRY_MAX_DELAY ({self.retry_max_delay:g} s)", url)
            self.sleep(delay)
            attempt += 1

    def _send(self, url: str, headers: dict[str, str]) -> Response:
        deadline = time.monotonic() + self.timeout * ATTEMPT_DEADLINE_FACTOR
        with self._http.stream("GET", url, headers=headers) as reply:
            chunks, size = [], 0
            for chunk in reply.iter_bytes():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise FetchError(f"response larger than {MAX_BODY_BYTES // (1024 * 1024)} MB refused", url)
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("the response took too long as a whole")
                chunks.append(chunk)
            lowered = {key.lower(): value for key, value in reply.headers.items()}
            return Response(url=url, status=reply.status_code, content=b"".join(chunks),
                            content_type=lowered.get("content-type", ""), etag=lowered.get("etag"),
                            last_modified=lowered.get("last-modified"), headers=lowered)


def _reason(status: int) -> str:
    try:
        return httpx.codes(status).phrase
    except ValueError:
        return ""


def user_agent(contact: str) -> str:
    """Name paperfeed and the operator's contact, as arXiv asks of automated clients."""
    return f"paperfeed/{__version__} (+{contact})" if contact else f"paperfeed/{__version__} (no contact configured)"


def client_from_settings(settings, sleep: Callable[[float], None] = time.sleep) -> HttpClient:
    """Build the client and its politeness rules from Settings."""
    pacer = Pacer({ARXIV: Rule(interval=settings.arxiv_interval),
                   HUGGING_FACE: Rule(max_calls=settings.hf_max_calls, window=settings.hf_window),
                   OPENREVIEW: Rule(interval=settings.openreview_interval),
                   CROSSREF: Rule(interval=settings.crossref_interval),
                   DBLP: Rule(interval=settings.dblp_interval),
                   SEMANTIC_SCHOLAR: Rule(interval=settings.semantic_scholar_interval)},
                  default=Rule(interval=settings.host_interval), sleep=sleep)
    return HttpClient(user_agent=user_agent(settings.contact), pacer=pacer, timeout=settings.http_timeout,
                      retries=settings.http_retries, retry_delay=settings.retry_delay,
                      retry_max_delay=settings.retry_max_delay, allow_private=settings.allow_private_urls,
                      sleep=sleep)
