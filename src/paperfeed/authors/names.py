"""Name comparison for author identities: a name's parts and normalized form, and whether two names can be one
person (initials, missing middle names)."""

from __future__ import annotations

import functools
import re

from ..normalize import fold, person_name

_SUFFIXES = {"jr", "sr", "ii", "iii", "iv"}
_TOKEN = re.compile(r"[a-z0-9]+")
BIG_PAPER = 30
"""Papers with more authors than this give no co-author evidence or edges (consortium lists connect everyone)."""
NAME_PARTS_KEPT = 1 << 17
"""Names whose parts are kept (``name_parts``): about 50 MB when full (400 bytes a name)."""


@functools.lru_cache(maxsize=NAME_PARTS_KEPT)
def name_parts(name: str) -> tuple[tuple[str, ...], str]:
    """Return (given-name tokens, surname), ASCII-folded and lower-case: ``García, José`` -> (("jose",), "garcia").

    Kept for the names asked most recently: an identity refresh asks about each name about five times (its
    block's commonness, its comparison form, every pair it is compared in)."""
    tokens = [token for token in _TOKEN.findall(fold(person_name(name))) if token not in _SUFFIXES]
    if not tokens:
        return (), ""
    return tuple(tokens[:-1]), tokens[-1]


def normalized_name(name: str) -> str:
    """Return the comparison form of a name: ``García, José`` and ``Jose GARCIA`` -> ``jose garcia``."""
    given, surname = name_parts(name)
    return " ".join((*given, surname))


def is_abbreviated(name: str) -> bool:
    """Say whether a name has an initial among its given names (``J. García``, ``José M. García``)."""
    given, _ = name_parts(name)
    return any(len(token) == 1 for token in given)


def compatible(first: str, second: str) -> bool:
    """Say whether two names can be one person: same surname, and given names equal or initials of each other.

    A missing middle name is allowed (``John Smith`` / ``John A. Smith``); a different one is not.
    """
    given_a, surname_a = name_parts(first)
    given_b, surname_b = name_parts(second)
    if not surname_a or surname_a != surname_b or not given_a or not given_b:
        return False
    if given_a[0] != given_b[0] and not _initial_of(given_a[0], given_b[0]):
        return False
    shorter, longer = sorted((given_a[1:], given_b[1:]), key=len)
    position = 0
    for token in shorter:  # each remaining given name of the shorter form matches one, in order, of the longer
        while position < len(longer) and not (token == longer[position] or _initial_of(token, longer[position])):
            position += 1
        if position == len(longer):
            return False
        position += 1
    return True


def _initial_of(a: str, b: str) -> bool:
    return (len(a) == 1 and b.startswith(a)) or (len(b) == 1 and a.startswith(b))
