"""Per-host politeness: a minimum interval between requests and a cap on calls per window.

The decisions (which group a URL belongs to, how long to wait) are pure; ``Pacer`` applies them
with a clock and a sleep that tests can replace.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlsplit

ARXIV = "arxiv"
HUGGING_FACE = "huggingface"
# The scholarly APIs, each paced as one group whatever the URL (a mirror or a test server is paced the same):
# - OpenReview answers 429 past a limit it does not publish: one request at a time, openreview_interval apart
#   (docs: https://docs.openreview.net/how-to-guides/data-retrieval-and-modification/ , "How to get all notes").
# - Crossref states its limit in X-Rate-Limit-Limit / X-Rate-Limit-Interval on every response and caps concurrency
#   (https://www.crossref.org/documentation/retrieve-metadata/rest-api/access-and-authentication/): one at a
#   time, crossref_interval apart, longer when the headers ask (``advertised_interval``).
# - dblp asks for "at least one or two seconds between two consecutive requests" and answers 429 with Retry-After
#   (https://dblp.org/faq/1474706.html): dblp_interval, 2 s.
# - Semantic Scholar: 1 request / s with an API key, a pool shared by every anonymous caller without one
#   (https://www.semanticscholar.org/product/api): semantic_scholar_interval, 3 s.
OPENREVIEW = "openreview"
CROSSREF = "crossref"
DBLP = "dblp"
SEMANTIC_SCHOLAR = "semantic-scholar"
_SCHOLARLY_HOSTS = {OPENREVIEW: ("openreview.net",), CROSSREF: ("api.crossref.org",),
                    DBLP: ("dblp.org", "dblp.uni-trier.de", "dblp.dagstuhl.de"),
                    SEMANTIC_SCHOLAR: ("api.semanticscholar.org",)}
MAX_ADVERTISED_INTERVAL = 60.0
"""Longest spacing a server's advertised rate limit may impose (a hostile header cannot stall a sync for days)."""


@dataclass(frozen=True, slots=True)
class Rule:
    """How often one group of hosts may be asked."""

    interval: float = 0.0
    """Seconds from the end of one request to the start of the next."""
    max_calls: int = 0
    """Calls allowed per ``window`` seconds (0: no cap)."""
    window: float = 0.0


def group_for(url: str, kind: str | None = None) -> str:
    """Name the politeness group of a request: arXiv's interfaces share one, Hugging Face has its own, else the host.

    A source kind counts as much as the host, so a mirror of arXiv is treated as arXiv.
    """
    host = (urlsplit(url).hostname or "").lower()
    if kind in ("arxiv", "arxiv-oai") or host == "arxiv.org" or host.endswith(".arxiv.org"):
        return ARXIV
    if kind == "hf-daily" or host == "huggingface.co" or host.endswith(".huggingface.co"):
        return HUGGING_FACE
    for group, hosts in _SCHOLARLY_HOSTS.items():
        if kind == group or any(host == name or host.endswith("." + name) for name in hosts):
            return group
    port = urlsplit(url).port
    return f"{host}:{port}" if port else host


def advertised_interval(headers: dict[str, str]) -> float | None:
    """The spacing a server's ``X-Rate-Limit-Limit`` / ``X-Rate-Limit-Interval`` headers ask for (Crossref sends
    them: "N requests per Ns"), in seconds; None when absent or unreadable."""
    limit, interval = headers.get("x-rate-limit-limit", "").strip(), headers.get("x-rate-limit-interval", "").strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h)?", interval)
    if not limit.isdigit() or int(limit) <= 0 or not match:
        return None
    seconds = float(match.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[match.group(2) or "s"]
    return min(seconds / int(limit), MAX_ADVERTISED_INTERVAL)


def wait_needed(rule: Rule, now: float, last_end: float | None, recent_calls: deque[float],
                advertised: float = 0.0) -> float:
    """Seconds to wait before the next request under ``rule``, given when the last one ended and when recent
    calls (within the window) ended; ``advertised``: the spacing the server itself last asked for, which can
    only make the rule stricter."""
    wait = 0.0
    interval = max(rule.interval, advertised)
    if last_end is not None and interval > 0:
        wait = max(wait, last_end + interval - now)
    if rule.max_calls and len(recent_calls) >= rule.max_calls:
        wait = max(wait, recent_calls[-rule.max_calls] + rule.window - now)
    return max(wait, 0.0)


@dataclass(slots=True)
class _GroupState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_end: float | None = None
    calls: deque[float] = field(default_factory=deque)
    advertised: float = 0.0


class Pacer:
    """Hold each group to its rule; one request at a time per group, so arXiv sees a single connection's pace."""

    def __init__(self, rules: dict[str, Rule], default: Rule, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rules = rules
        self.default = default
        self.clock = clock
        self.sleep = sleep
        self._groups: dict[str, _GroupState] = {}
        self._lock = threading.Lock()

    def rule(self, group: str) -> Rule:
        """Return the rule of a group."""
        return self.rules.get(group, self.default)

    def _state(self, group: str) -> _GroupState:
        with self._lock:
            return self._groups.setdefault(group, _GroupState())

    def adopt_advertised(self, group: str, headers: dict[str, str]) -> None:
        """Space the group's next requests at least as the server's rate-limit headers ask (kept until the
        server advertises another figure)."""
        interval = advertised_interval(headers)
        if interval is not None:
            self._state(group).advertised = interval

    def slot(self, group: str) -> "_Slot":
        """Return a context manager that waits for the group's turn and marks the request's end on exit."""
        return _Slot(self, group)


class _Slot:
    def __init__(self, pacer: Pacer, group: str) -> None:
        self.pacer = pacer
        self.state = pacer._state(group)
        self.rule = pacer.rule(group)

    def __enter__(self) -> None:
        self.state.lock.acquire()
        pacer, state, rule = self.pacer, self.state, self.rule
        while (wait := wait_needed(rule, pacer.clock(), state.last_end, state.calls, state.advertised)) > 0:
            pacer.sleep(wait)

    def __exit__(self, *exc_info: object) -> None:
        # Calls are counted when they end, not when they start: the server saw them no earlier than that,
        # so the cap holds from the server's side too.
        pacer, state, rule = self.pacer, self.state, self.rule
        now = state.last_end = pacer.clock()
        if rule.max_calls:
            state.calls.append(now)
            while state.calls and state.calls[0] <= now - rule.window:
                state.calls.popleft()
        self.state.lock.release()
