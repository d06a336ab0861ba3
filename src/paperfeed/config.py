"""Settings: one typed table with defaults and help, read when asked (nothing is built at import time)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path


def _default_db() -> str:
    from platformdirs import user_data_dir

    return str(Path(user_data_dir("paperfeed")) / "paperfeed.db")


@dataclass(frozen=True, slots=True)
class Settings:
    """paperfeed's settings; each can be set by the environment variable named in its metadata."""

    db: str = field(default="", metadata={"env": "PAPERFEED_DB", "help": (
        "Store URL: sqlite:///path.db or a file path (PostgreSQL arrives with its issue). "
        "Default: paperfeed.db in the user's data directory.")})
    index_dir: str = field(default="", metadata={"env": "PAPERFEED_INDEX_DIR", "help": (
        "Directory of the search indexes (keyword and vectors). Default: beside the SQLite file, "
        "as <db>.search/.")})
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
    arxiv_interval: float = field(default=3.0, metadata={"env": "PAPERFEED_ARXIV_INTERVAL", "help": (
        "Seconds between two requests to arXiv (API, OAI-PMH and RSS together); arXiv asks for 3.")})
    hf_max_calls: int = field(default=500, metadata={"env": "PAPERFEED_HF_MAX_CALLS", "help": (
        "Hugging Face API calls allowed per `hf_window` seconds (anonymous limit: 500 per 5 minutes).")})
    hf_window: float = field(default=300.0, metadata={"env": "PAPERFEED_HF_WINDOW", "help": (
        "Length in seconds of the Hugging Face rate-limit window.")})
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
        settings = cls(**values)
        if not settings.db:
            settings = cls(**{**values, "db": _default_db()})
        return settings


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


def describe() -> list[tuple[str, str, str]]:
    """(name, environment variable, help) for every setting, for the docs and ``--help``."""
    return [(s.name, s.metadata["env"], s.metadata["help"]) for s in fields(Settings)]
