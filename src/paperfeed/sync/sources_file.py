"""Read sources from a TOML file (``paperfeed sources import``): pure, returns rows or errors with places."""

from __future__ import annotations

import tomllib
from typing import Any

from ..storage import SourceRow
from .kinds import SourceConfigError, make_source

_TOP_LEVEL = {"name", "kind", "url", "label"}


def read_sources(text: str, allow_private: bool = False) -> tuple[list[SourceRow], list[str]]:
    """Parse ``[[source]]`` entries (or ``[sources.NAME]`` tables); return the valid rows and one error per bad entry.

    A file that is not TOML raises SourceConfigError naming the line and column.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SourceConfigError(f"not valid TOML: {error}") from None
    entries: list[tuple[str, dict[str, Any]]] = []
    for index, entry in enumerate(document.get("source") or [], start=1):
        entries.append((f"[[source]] {index}", entry))
    for name, entry in (document.get("sources") or {}).items():
        entries.append((f"[sources.{name}]", {"name": name, **entry} if isinstance(entry, dict) else entry))
    if not entries:
        raise SourceConfigError("no sources found: write [[source]] entries with name and kind")
    rows, errors = [], []
    for place, entry in entries:
        if not isinstance(entry, dict):
            errors.append(f"{place}: expected a table")
            continue
        options = {key.replace("-", "_"): value for key, value in entry.items() if key not in _TOP_LEVEL}
        try:
            url = entry.get("url")
            rows.append(make_source(str(entry.get("name") or ""), str(entry.get("kind") or ""),
                                    None if url is None else str(url),
                                    None if entry.get("label") is None else str(entry["label"]), options,
                                    allow_private))
        except SourceConfigError as error:
            errors.append(f"{place}: {error}")
    return rows, errors
