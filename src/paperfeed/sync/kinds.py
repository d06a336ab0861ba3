"""The source kinds, their default endpoints and options, and validation of a source's configuration (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..fetch.urls import UnsafeURLError, check_syntax, refused_reason
from ..normalize import utc_now
from ..storage import SourceRow


class SourceConfigError(ValueError):
    """A source configuration that cannot work (unknown kind, missing categories, bad URL or date)."""


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of live source."""

    name: str
    summary: str
    default_url: str | None
    """None: the user must give ``--url``."""
    rate_limit: str


KINDS: dict[str, Kind] = {kind.name: kind for kind in (
    Kind("arxiv", "daily new papers of categories via arXiv RSS, full metadata via the API id_list in batches",
         "https://rss.arxiv.org/rss", "1 request / 3 s, shared with arxiv-oai, over one connection"),
    Kind("arxiv-oai", "bulk OAI-PMH harvest of a set and date range (arXivRaw by default), resumable",
         "https://oaipmh.arxiv.org/oai", "1 request / 3 s, shared with arxiv, over one connection"),
    Kind("hf-daily", "Hugging Face daily papers, one request per date",
         "https://huggingface.co/api/daily_papers", "at most 500 calls per 5 minutes"),
    Kind("feed", "any news RSS or Atom feed", None, "1 request / s per host"),
    Kind("biorxiv", "bioRxiv preprints posted each day via the details API, 100 per request (medRxiv: --url "
         "https://api.biorxiv.org/details/medrxiv)", "https://api.biorxiv.org/details/biorxiv",
         "1 request / s per host (bioRxiv publishes no limit; PAPERFEED_HOST_INTERVAL)"),
    Kind("openreview", "accepted papers of a venue via API v2 notes?content.venueid=, paged by offset "
         "(--venue ICLR.cc/2025/Conference)", "https://api2.openreview.net/notes",
         "one request at a time, 1 / s (PAPERFEED_OPENREVIEW_INTERVAL; OpenReview answers 429 past its limit)"),
    Kind("crossref", "works indexed since the last harvest via /works with --filter and/or --query, cursor "
         "deep paging, mailto from PAPERFEED_CONTACT (polite pool)", "https://api.crossref.org/works",
         "one request at a time, 1 / s (PAPERFEED_CROSSREF_INTERVAL), slower when X-Rate-Limit-* asks"),
    Kind("dblp", "publications matching --query via the search API, paged by f (h hits a page)",
         "https://dblp.org/search/publ/api", "1 request / 2 s (PAPERFEED_DBLP_INTERVAL), as dblp's FAQ asks"),
    Kind("semantic-scholar", "papers matching --query via Graph API bulk search (token paging), newer "
         "publication dates on later syncs; PAPERFEED_SEMANTIC_SCHOLAR_API_KEY sent as x-api-key",
         "https://api.semanticscholar.org/graph/v1/paper/search/bulk",
         "1 request / 3 s (PAPERFEED_SEMANTIC_SCHOLAR_INTERVAL; 1 / s with a key)"),
)}
PAGE_SIZE_MAX = {"openreview": 1000, "crossref": 1000, "dblp": 1000}
"""Largest page each paged API serves (OpenReview's and Crossref's ``rows`` cap, dblp's ``h`` cap); the default.
Semantic Scholar's bulk search pages are fixed at 1000 by the API."""
_KIND_OPTIONS = {"venue": ("openreview",), "query": ("crossref", "dblp", "semantic-scholar"),
                 "filter": ("crossref",), "page_size": tuple(PAGE_SIZE_MAX)}
"""Options that only some kinds read: given to another kind they would be silently ignored, so they are refused."""
BIORXIV_PAGE = 100
"""Records per page of the bioRxiv details API (fixed by the API: the cursor moves by this much)."""
DEFAULT_API_URL = "https://export.arxiv.org/api/query"
DEFAULT_METADATA_PREFIX = "arXivRaw"
API_BATCH = 100
"""Ids per arXiv API id_list request: one request instead of a hundred, well within what the API returns."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CATEGORY = re.compile(r"^[a-z-]+(\.[A-Za-z-]+)?$")
_OPTION_KEYS = {"categories", "set", "from", "until", "metadata_prefix", "api_url", "since", *_KIND_OPTIONS}
_VENUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9._-]+)*$")
_CROSSREF_FILTER = re.compile(r"^[a-z][a-z0-9.-]*:[^,\s]+$")
_MANAGED_FILTERS = ("from-index-date", "until-index-date")
MAX_QUERY_CHARS = 500
"""Longest --query or --filter kept (a search box, not a document)."""


def _day(value: Any, what: str) -> str:
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise SourceConfigError(f"{what} {value!r} is not a date (YYYY-MM-DD)") from None


def _check_url(value: str, what: str, allow_private: bool) -> None:
    try:
        _, host, _ = check_syntax(value)
    except UnsafeURLError as error:
        raise SourceConfigError(f"{what}: {error}") from None
    # A literal address can be judged now; host names are resolved and judged at every fetch.
    try:
        reason = refused_reason(host.strip("[]"))
    except ValueError:
        return
    if reason and not allow_private:
        raise SourceConfigError(f"{what} {value!r} is a {reason} address "
                                "(set PAPERFEED_ALLOW_PRIVATE_URLS=1 to allow it)")


def make_source(name: str, kind: str, url: str | None = None, label: str | None = None,
                options: dict[str, Any] | None = None, allow_private: bool = False) -> SourceRow:
    """Validate a source's configuration and return the row to store."""
    if not _NAME.match(name or ""):
        raise SourceConfigError(f"source name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
    if kind not in KINDS:
        raise SourceConfigError(f"unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    options = {key: value for key, value in (options or {}).items() if value not in (None, "", [], ())}
    unknown = set(options) - _OPTION_KEYS
    if unknown:
        raise SourceConfigError(f"unknown option(s) {', '.join(sorted(unknown))}; known: "
                                f"{', '.join(sorted(_OPTION_KEYS))}")
    if url:
        _check_url(url, "--url", allow_private)
    if options.get("api_url"):
        _check_url(str(options["api_url"]), "--api-url", allow_private)
    categories = options.get("categories")
    if isinstance(categories, str):
        categories = [part.strip() for part in categories.split(",") if part.strip()]
    if categories is not None:
        bad = [category for category in categories if not _CATEGORY.match(str(category))]
        if bad:
            raise SourceConfigError(f"not arXiv categories: {', '.join(map(str, bad))} (e.g. cs.LG,cs.CL)")
        options["categories"] = list(categories)
    if kind == "arxiv" and not options.get("categories"):
        raise SourceConfigError("kind arxiv needs --categories (e.g. cs.LG,cs.CL)")
    if kind == "feed" and not url:
        raise SourceConfigError("kind feed needs --url (the feed's address)")
    _check_scholarly_options(kind, options)
    for key in ("from", "until", "since"):
        if key in options:
            options[key] = _day(options[key], f"--{key}")
    if options.get("from") and options.get("until") and options["from"] > options["until"]:
        raise SourceConfigError(f"--from {options['from']} is after --until {options['until']}")
    return SourceRow(name=name, kind=kind, url=url or None, label=label or None, options=options,
                     created_at=utc_now())


def _check_scholarly_options(kind: str, options: dict[str, Any]) -> None:
    for key, kinds in _KIND_OPTIONS.items():
        if key in options and kind not in kinds:
            raise SourceConfigError(f"--{key.replace('_', '-')} is for kind(s) {', '.join(kinds)}, not {kind}")
    for key in ("query", "filter", "venue"):
        if key in options:
            options[key] = str(options[key]).strip()
            if not options[key] or len(options[key]) > MAX_QUERY_CHARS:
                raise SourceConfigError(f"--{key} must be 1 to {MAX_QUERY_CHARS} characters")
    if kind == "openreview":
        if not options.get("venue"):
            raise SourceConfigError("kind openreview needs --venue (a venue id, e.g. ICLR.cc/2025/Conference)")
        if not _VENUE.match(options["venue"]):
            raise SourceConfigError(f"--venue {options['venue']!r} is not an OpenReview venue id "
                                    "(e.g. ICLR.cc/2025/Conference)")
    if kind in ("dblp", "semantic-scholar") and not options.get("query"):
        raise SourceConfigError(f"kind {kind} needs --query (the search terms)")
    if kind == "crossref":
        if not options.get("query") and not options.get("filter"):
            raise SourceConfigError("kind crossref needs --filter (e.g. prefix:10.1101,type:journal-article) "
                                    "and/or --query: without one it would harvest all of Crossref")
        for part in str(options.get("filter") or "").split(",") if options.get("filter") else ():
            if not _CROSSREF_FILTER.match(part.strip()):
                raise SourceConfigError(f"--filter {part!r} is not name:value (e.g. issn:1234-5678, "
                                        "has-relation:true)")
            if part.strip().split(":", 1)[0] in _MANAGED_FILTERS:
                raise SourceConfigError(f"--filter {part!r}: give the index dates as --from/--until "
                                        "(the sync moves them forward itself)")
    if "page_size" in options:
        limit = PAGE_SIZE_MAX[kind]
        try:
            size = int(options["page_size"])
        except (TypeError, ValueError):
            size = 0
        if not 1 <= size <= limit or str(options["page_size"]).strip() != str(size):
            raise SourceConfigError(f"--page-size {options['page_size']!r} must be a whole number from 1 to "
                                    f"{limit} (the most kind {kind} serves in one page)")
        options["page_size"] = size


def base_url(source: SourceRow) -> str:
    """The source's URL, or its kind's default endpoint."""
    return (source.url or KINDS[source.kind].default_url or "").rstrip("/") if source.kind != "feed" else source.url
