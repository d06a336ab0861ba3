"""Highlighted snippets: the stretch of an abstract with the most query terms, matches marked."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

WIDTH = 240
_WORD_START = re.compile(r"\w")


@dataclass(slots=True)
class Snippet:
    """Text fragments in order; ``marked`` fragments matched the query."""

    fragments: list[tuple[str, bool]]

    def html(self) -> str:
        """The snippet as HTML: text escaped, matches in ``<mark>``."""
        return "".join(f"<mark>{html.escape(text)}</mark>" if marked else html.escape(text)
                       for text, marked in self.fragments)

    def plain(self, open_mark: str = "[", close_mark: str = "]") -> str:
        return "".join(f"{open_mark}{text}{close_mark}" if marked else text for text, marked in self.fragments)


@lru_cache(maxsize=1024)
def _candidates(starts: tuple[str, ...]) -> re.Pattern:
    # Index terms are stems, and a word's stem starts it: only words starting with one are candidates.
    return re.compile(r"\b(?:" + "|".join(map(re.escape, starts)) + r")\w*", re.IGNORECASE)


def _cut(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen [start, end) to whole words."""
    if start > 0:
        space = text.rfind(" ", 0, start)
        start = space + 1 if space >= 0 and start - space < 30 else start
    if end < len(text):
        space = text.find(" ", end)
        end = space if 0 <= space and space - end < 30 else end
    return start, end


def make_snippet(text: str, query_terms: set[str], analyze: Callable[[str], list[str]],
                 prefixes: tuple[str, ...] = (), width: int = WIDTH) -> Snippet:
    """Pick the ``width``-character stretch of ``text`` holding the most query terms and mark them.

    ``analyze`` maps a word to its index terms, so "models" matches a query for "model" while
    "modest" does not.
    """
    if not text:
        return Snippet([])
    starts = tuple(sorted(set(query_terms) | set(prefixes), key=len, reverse=True))
    found: list[re.Match] = []
    if starts:
        for match in _candidates(starts).finditer(text):
            word = match.group()
            if word.lower().startswith(prefixes or ("\0",)) or query_terms.intersection(analyze(word)):
                found.append(match)
    if not found:
        start, end = _cut(text, 0, width)
        return Snippet([(text[start:end] + (" …" if end < len(text) else ""), False)])
    # The window starting just before some match that covers the most matches (two pointers).
    best, best_count, last = 0, 0, 0
    for first in range(len(found)):
        while last < len(found) and found[last].end() <= found[first].start() + width:
            last += 1
        if last - first > best_count:
            best, best_count = first, last - first
    lead = min(40, found[best].start())
    start, end = _cut(text, found[best].start() - lead, found[best].start() - lead + width)
    fragments: list[tuple[str, bool]] = [("… ", False)] if start > 0 else []
    cursor = start
    for match in found:
        if match.start() < start or match.end() > end:
            continue
        if match.start() > cursor:
            fragments.append((text[cursor:match.start()], False))
        fragments.append((match.group(), True))
        cursor = match.end()
    if end > cursor:
        fragments.append((text[cursor:end], False))
    if end < len(text):
        fragments.append((" …", False))
    return Snippet(fragments)
