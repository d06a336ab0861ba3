"""The matcher's view of an item (``ItemSummary``, ``summarize``) and how two author lists are compared
(``_shared_authors``): what ``matching`` weighs, kept apart so that each module stays readable."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from rapidfuzz.distance import OSA

from ..normalize import title_tokens
from .keys import _person_tokens, _readable, _title_variants, title_words

_FUZZY_NAME_PAIRS = 2500
"""Most name pairs compared loosely (lost accents, typos) for one pair of author lists."""


@dataclass(slots=True)
class ItemSummary:
    """What the matcher needs to know of an item."""

    item_id: int
    title: str
    title_norm: str
    """The title's tokens, space-joined."""
    surnames: frozenset[str]
    year: int | None
    arxiv_id: str | None
    doi: str | None
    origins: set[str] = field(default_factory=set)
    title_core: str = ""
    """``title_norm`` without bracketed remarks; the same string when there are none."""
    people: tuple[tuple[str, ...], ...] = ()
    """Each author's folded name tokens, surname last (``?`` stands for characters lost to bad decoding)."""
    words: tuple[str, ...] = ()
    """The title's significant words as a garbled title is compared (``keys.title_words``)."""
    stump: str = ""
    """The word an ellipsis cut ("pro" of "Efficient query pro…"), left out of ``words``; "" if none."""


def summarize(item_id: int, title: str, authors: Iterable[str], year: int | None,
              arxiv_id: str | None, doi: str | None) -> ItemSummary:
    """Build the matcher's view of an item."""
    if not title.isascii():
        title = _readable(title)
    variants = _title_variants(title)
    norm = " ".join(title_tokens(variants[0]))
    core = (" ".join(title_tokens(variants[1])) or norm) if len(variants) > 1 else norm
    people = tuple(tokens for tokens in (_person_tokens(name) for name in authors) if tokens)
    words, stump = title_words(title)
    return ItemSummary(item_id, title, norm, frozenset(tokens[-1] for tokens in people), year, arxiv_id, doi,
                       title_core=core, people=people, words=tuple(words), stump=stump)


def _same_surname(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Whether two folded names (``_person_tokens``) can be one person, judged by surname.

    Equal surnames; a surname with lost characters (``sch?ning`` ~ ``schoning``, ``kie?ling`` ~
    ``kiessling``); one surname among the other's later name words (``Berzal`` ~ ``Berzal Galiano``);
    or, for surnames of five letters or more with the same first initial, one typo (``Kriegal``).
    """
    x, y = a[-1], b[-1]
    if x == y:
        return True
    if "?" in x or "?" in y:
        pattern, other = (x, y) if "?" in x else (y, x)
        regex = ".{1,3}".join(re.escape(part) for part in pattern.split("?"))
        return "?" not in other and re.fullmatch(regex, other) is not None
    if (len(x) > 1 and x in b[1:-1]) or (len(y) > 1 and y in a[1:-1]):
        return True
    return (min(len(x), len(y)) >= 5 and (len(a) == 1 or len(b) == 1 or a[0][0] == b[0][0])
            and OSA.distance(x, y, score_cutoff=1) <= 1)


def _shared_authors(a: ItemSummary, b: ItemSummary) -> int:
    """How many authors of the shorter list have a namesake (``_same_surname``) in the other.

    Equal surnames count first; the looser comparison runs only while it stays cheap
    (``_FUZZY_NAME_PAIRS``), so two collaborations of thousands of authors compare in linear time.
    """
    few, many = (a, b) if len(a.people) <= len(b.people) else (b, a)
    rest = [person for person in few.people if person[-1] not in many.surnames]
    shared = len(few.people) - len(rest)
    if rest and len(rest) * len(many.people) <= _FUZZY_NAME_PAIRS:
        shared += sum(1 for person in rest if any(_same_surname(person, other) for other in many.people))
    return shared
