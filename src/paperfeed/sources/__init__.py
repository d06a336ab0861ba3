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
# (arXiv RSS before news feeds, the Hugging Face JSON before JSON Lines).
_MODULES = (
    "arxiv_atom",
    "arxiv_oai",
    "arxiv_rss",
    "news_feed",
    "hf_daily",
    "jsonl",
    "bibtex",
    "csv_table",
    "capture",
)

SNIFF_BYTES = 8192


def format_modules() -> list[ModuleType]:
    """All format modules, in sniffing order."""
    return [import_module(f"{__name__}.{name}") for name in _MODULES]


def format_names() -> list[str]:
    """The names accepted by ``--format``."""
    return [module.FORMAT for module in format_modules()]


def get_format(name: str) -> ModuleType:
    """Return the module for a format name, or raise ValueError listing the known ones."""
    for module in format_modules():
        if module.FORMAT == name:
            return module
    raise ValueError(f"unknown format {name!r}; known formats: {', '.join(format_names())}")


def detect_format(data: bytes, name: str) -> ModuleType:
    """Pick the format module for a file from its first bytes and its name."""
    head = data[:SNIFF_BYTES]
    for module in format_modules():
        if module.sniff(head, name):
            return module
    raise ParseError("unknown format: not any of " + ", ".join(format_names())
                     + " (use --format to say which)", "byte 0")
