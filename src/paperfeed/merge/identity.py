"""Identity invariants: two different arXiv ids are never one item, nor two different DOIs.

Every placement of a record into an item (a shared identifier, a bridge between two items, a title
match) is checked here, purely, against the arXiv ids and DOIs the item holds (``clash``). A DOI that a
preprint server minted (arXiv's ``10.48550/arXiv.<id>``, bioRxiv's and medRxiv's ``10.1101/<date>…``:
``keys.is_preprint_doi``) names the preprint, not a published version, so it never counts as a second DOI.
A person's decision may put two ids in one item on purpose (``paperfeed merge``): a record then clashes only
when its id is none of the item's.

Also here: the identifiers of a stored source record (what ``keys.identifiers`` gave it when it came
in) and the key that pins a record to the item a person put it in (``pin_key``).
"""

from __future__ import annotations

from typing import Any, Iterable

from .keys import _FILE_LOCAL_ID_FORMATS, is_preprint_doi, related_identifiers

STRONG = ("arxiv", "doi")
"""The schemes the invariants are about; ``source`` ids (a feed's own) are not."""

IdentitySets = dict[str, set[str]]
"""scheme -> the values an item (or record) holds, for the schemes in ``STRONG``."""


def identity_sets(identifiers: Iterable[tuple[str, str]]) -> IdentitySets:
    """The arXiv ids and DOIs among (scheme, value) identifiers; preprint servers' DOIs left out."""
    found: IdentitySets = {}
    for scheme, value in identifiers:
        if scheme in STRONG and not (scheme == "doi" and is_preprint_doi(value)):
            found.setdefault(scheme, set()).add(value)
    return found


def clash(a: IdentitySets, b: IdentitySets) -> tuple[str, str, str] | None:
    """(scheme, a value, b value) when ``a`` and ``b`` cannot be one item (both hold ids of a scheme, none
    shared); None when they can."""
    for scheme in STRONG:
        left, right = a.get(scheme), b.get(scheme)
        if left and right and left.isdisjoint(right):
            return scheme, min(left), min(right)
    return None


def union(*sets: IdentitySets) -> IdentitySets:
    joined: IdentitySets = {}
    for each in sets:
        for scheme, values in each.items():
            joined.setdefault(scheme, set()).update(values)
    return joined


def stored_identifiers(data: dict[str, Any], record_id: str, label: str | None) -> list[tuple[str, str]]:
    """The identifiers ``keys.identifiers`` gives a record, from its stored data (``fields.record_data``)."""
    found: list[tuple[str, str]] = []
    if data.get("arxiv_id"):
        found.append(("arxiv", data["arxiv_id"]))
    if data.get("doi"):
        found.append(("doi", data["doi"]))
    if data.get("extra"):
        found.extend(related_identifiers(data["extra"], data.get("arxiv_id"), data.get("doi")))
    if not found and record_id:
        scope = f"{label or ''}:" if data["format"] in _FILE_LOCAL_ID_FORMATS else ""
        found.append(("source", f"{data['format']}:{scope}{record_id}"))
    return found


def pin_key(format_name: str, record_id: str, label: str | None) -> str | None:
    """The key of a source record across versions (the same format and id; a BibTeX or CSV id within its
    label), or None for a record without an id."""
    if not record_id:
        return None
    scope = f"{label or ''}:" if format_name in _FILE_LOCAL_ID_FORMATS else ""
    return f"{format_name}:{scope}{record_id}"


def describe_clash(found: tuple[str, str, str]) -> str:
    scheme, mine, theirs = found
    name = "arXiv ids" if scheme == "arxiv" else "DOIs"
    return f"different {name} ({mine} and {theirs})"
