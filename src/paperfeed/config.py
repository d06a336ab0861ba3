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

    @classmethod
    def load(cls, **overrides: str | None) -> "Settings":
        """Settings from the environment, with explicit (non-None) overrides winning."""
        values = {}
        for setting in fields(cls):
            value = overrides.get(setting.name)
            if value is None:
                value = os.environ.get(setting.metadata["env"]) or None
            if value is not None:
                values[setting.name] = value
        settings = cls(**values)
        if not settings.db:
            settings = cls(**{**values, "db": _default_db()})
        return settings


def describe() -> list[tuple[str, str, str]]:
    """(name, environment variable, help) for every setting, for the docs and ``--help``."""
    return [(s.name, s.metadata["env"], s.metadata["help"]) for s in fields(Settings)]
