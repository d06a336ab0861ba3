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


_ASCII_WORD = re.compile(r"[A-Za-z0-9_]+")
_ASCII_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _spans(text: str, starts: tuple[str, ...]) -> list[tuple[int, int]]:
    r"""(start, end) of every word of ``text`` that starts with one of ``starts`` (case-insensitive), in order:
    what ``_candidates(starts).finditer(text)`` finds.

    For ASCII text and ASCII word terms (nearly every abstract) each term is looked up with ``str.find`` in the
    lowercased text, which is several times quicker than the case-insensitive alternation scanning every
    position; in ASCII, lowercasing keeps every index and ``\w`` is [A-Za-z0-9_], so the words found are the same.
    """
    if not (text.isascii() and all(start.isascii() and _ASCII_WORD.fullmatch(start) for start in starts)):
        return [match.span() for match in _candidates(starts).finditer(text)]
    lowered = text.lower()
    word_end = _ASCII_WORD.match
    found: set[int] = set()
    for start in {start.lower() for start in starts}:
        at = lowered.find(start)
        while at >= 0:
            if at == 0 or lowered[at - 1] not in _ASCII_WORD_CHARS:
                found.add(at)
            at = lowered.find(start, at + 1)
    return [(at, word_end(text, at).end()) for at in sorted(found)]


def remembering(analyze: Callable[[str], list[str]]) -> Callable[[str], frozenset[str]]:
    """``analyze`` remembering its answers, for one search's snippets: the words that start like a query term
    recur from abstract to abstract (model, models, modelling), and each is analysed once."""
    seen: dict[str, frozenset[str]] = {}

    def terms(word: str) -> frozenset[str]:
        found = seen.get(word)
        if found is None:
            found = seen[word] = frozenset(analyze(word))
        return found

    return terms


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
    found: list[tuple[int, int]] = []
    if starts:
        for start, end in _spans(text, starts):
            word = text[start:end]
            if word.lower().startswith(prefixes or ("\0",)) or not query_terms.isdisjoint(analyze(word)):
                found.append((start, end))
    if not found:
        start, end = _cut(text, 0, width)
        return Snippet([(text[start:end] + (" …" if end < len(text) else ""), False)])
    # The window starting just before some match that covers the most matches (two pointers).
    best, best_count, last = 0, 0, 0
    for first in range(len(found)):
        while last < len(found) and found[last][1] <= found[first][0] + width:
            last += 1
        if last - first > best_count:
            best, best_count = first, last - first
    lead = min(40, found[best][0])
    start, end = _cut(text, found[best][0] - lead, found[best][0] - lead + width)
    fragments: list[tuple[str, bool]] = [("… ", False)] if start > 0 else []
    cursor = start
    for match_start, match_end in found:
        if match_start < start or match_end > end:
            continue
        if match_start > cursor:
            fragments.append((text[cursor:match_start], False))
        fragments.append((text[match_start:match_end], True))
        cursor = match_end
    if end > cursor:
        fragments.append((text[cursor:end], False))
    if end < len(text):
        fragments.append((" …", False))
    return Snippet(fragments)
