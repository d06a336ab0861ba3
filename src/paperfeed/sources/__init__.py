"""Source formats: one module per format, each turning bytes into normalized Records.

Every format module defines ``FORMAT`` (its name), ``sniff(head: bytes, name: str) -> bool``
(a cheap look at the first bytes and the file name) and
``parse(data: bytes, context: ParseContext) -> Iterator[Record]`` which raises ParseError
with a place for bad input.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

from ..records import ParseError

# Sniffing order matters: specific formats before the generic ones they resemble
# (arXiv RSS before news feeds, the Hugging Face JSON before JSON Lines, the scholarly APIs' JSON documents
# before both); a Zotero database (binary SQLite) first of all.
_MODULES = {
    "zotero": "zotero",
    "arxiv-atom": "arxiv_atom",
    "arxiv-oai": "arxiv_oai",
    "arxiv-rss": "arxiv_rss",
    "feed": "news_feed",
    "mods": "mods",
    "dblp": "dblp",
    "biorxiv": "biorxiv",
    "openreview": "openreview",
    "crossref": "crossref",
    "semantic-scholar": "semantic_scholar",
    "csl-json": "csl_json",
    "hf-daily": "hf_daily",
    "jsonl": "jsonl",
    "bibtex": "bibtex",
    "ris": "ris",
    "csv": "csv_table",
    "capture": "capture",
}

SNIFF_BYTES = 8192


def format_modules() -> list[ModuleType]:
    """All format modules, in sniffing order."""
    return [import_module(f"{__name__}.{module}") for module in _MODULES.values()]


def format_names() -> list[str]:
    """The names accepted by ``--format``."""
    return list(_MODULES)


def get_format(name: str) -> ModuleType:
    """Return the module for a format name, or raise ValueError listing the known ones."""
    if name not in _MODULES:
        raise ValueError(f"unknown format {name!r}; known formats: {', '.join(format_names())}")
    return import_module(f"{__name__}.{_MODULES[name]}")


def detect_format(data: bytes, name: str) -> ModuleType:
    """Pick the format module for a file from its first bytes and its name."""
    head = data[:SNIFF_BYTES]
    for module in format_modules():
        if module.sniff(head, name):
            return module
    raise ParseError("unknown format: not any of " + ", ".join(format_names())
                     + " (use --format to say which)", "byte 0")
