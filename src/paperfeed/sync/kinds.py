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
)}
BIORXIV_PAGE = 100
"""Records per page of the bioRxiv details API (fixed by the API: the cursor moves by this much)."""
DEFAULT_API_URL = "https://export.arxiv.org/api/query"
DEFAULT_METADATA_PREFIX = "arXivRaw"
API_BATCH = 100
"""Ids per arXiv API id_list request: one request instead of a hundred, well within what the API returns."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CATEGORY = re.compile(r"^[a-z-]+(\.[A-Za-z-]+)?$")
_OPTION_KEYS = {"categories", "set", "from", "until", "metadata_prefix", "api_url", "since"}


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
    for key in ("from", "until", "since"):
        if key in options:
            options[key] = _day(options[key], f"--{key}")
    if options.get("from") and options.get("until") and options["from"] > options["until"]:
        raise SourceConfigError(f"--from {options['from']} is after --until {options['until']}")
    return SourceRow(name=name, kind=kind, url=url or None, label=label or None, options=options,
                     created_at=utc_now())


def base_url(source: SourceRow) -> str:
    """The source's URL, or its kind's default endpoint."""
    return (source.url or KINDS[source.kind].default_url or "").rstrip("/") if source.kind != "feed" else source.url
