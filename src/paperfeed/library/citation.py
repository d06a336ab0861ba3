"""BibTeX entries and their citation keys.

A key is ``<first author's last name><year><first significant title word>``, ASCII-folded and lower-case, as
Google Scholar spells them (``vaswani2017attention``). A part that is unknown is left out, never spelled
``anon`` or ``nd``: an item with no authors starts with its first two significant title words instead.

Keys are unique and stable: items whose base keys collide (same first author, year and word) are told apart by
a letter after the base in the order of their ids (``smith2024graphb``); the lowest id keeps the bare base. New
items get higher ids, so a key once given never changes while its item lives.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from ..normalize import fold

STOPWORDS = frozenset("""
a an the and or but nor of on in into onto for to from by with within without via at as is are be was were
towards toward beyond about over under upon through across between among against do does did can could
we our you your how what why when where which who whose this that these those it its not no yes than then
using use via versus vs new one two three all any more most less""".split())
"""Title words that say nothing about the paper (``On the …``, ``Towards …``, ``A …``)."""

_SUFFIXES = {"jr", "sr", "ii", "iii", "iv"}
_WORD = re.compile(r"[a-z0-9]+")


def _ascii_words(text: str) -> list[str]:
    return _WORD.findall(fold(text or ""))


def last_name(author: str) -> str:
    """The ASCII-folded last name of a ``First Last`` display name: its last word, hyphens joined
    (``José Müller-Pérez`` -> ``mullerperez``), a suffix such as ``Jr.`` skipped."""
    name = author.split(",")[0] if "," in author else author
    words = ["".join(_ascii_words(word)) for word in name.split()]
    words = [word for word in words if word and word not in _SUFFIXES and not word.isdigit()]
    return words[-1] if words else ""


def significant_words(title: str) -> list[str]:
    """The title's words that are not stop words or single letters, ASCII-folded."""
    return [word for word in _ascii_words(title) if word not in STOPWORDS and len(word) > 1 and not word.isdigit()]


def item_year(item: dict[str, Any]) -> str:
    """The item's year: its own, its date's, or its arXiv id's (``2512.01234`` is 2025); "" when none is known."""
    if item.get("year"):
        return str(item["year"])
    published = str(item.get("published") or "")
    if re.match(r"^[0-9]{4}", published):
        return published[:4]
    match = re.match(r"^([0-9]{2})(0[1-9]|1[0-2])\.[0-9]{4,5}", str(item.get("arxiv_id") or ""))
    return f"20{match.group(1)}" if match else ""


def base_key(item: dict[str, Any]) -> str:
    """The key before it is told apart from others: last name + year + first significant title word."""
    authors = item.get("authors") or []
    name = last_name(authors[0]) if authors else ""
    words = significant_words(item.get("title") or "")
    if name:
        key = f"{name}{item_year(item)}{words[0] if words else ''}"
    else:
        key = f"{''.join(words[:1])}{item_year(item)}{''.join(words[1:2])}"
    return key or f"item{item['id']}"


def _letter(index: int) -> str:
    """0 -> "", 1 -> "b", 2 -> "c", …, 25 -> "z", 26 -> "ba": a suffix that sorts after the bare key."""
    if index == 0:
        return ""
    letters = ""
    while index:
        index, rest = divmod(index, 26)
        letters = "abcdefghijklmnopqrstuvwxyz"[rest] + letters
    return letters


def unique_keys(items: Iterable[dict[str, Any]]) -> dict[int, str]:
    """A key for each item (by id), told apart where base keys collide, in order of ids."""
    groups: dict[str, list[int]] = {}
    for item in sorted(items, key=lambda entry: entry["id"]):
        groups.setdefault(base_key(item), []).append(item["id"])
    return {item_id: base + _letter(index) for base, ids in groups.items() for index, item_id in enumerate(ids)}


def bibtex_entry(item: dict[str, Any], key: str, url: str | None = None) -> str:
    """A BibTeX entry for an item (``@article`` with eprint fields for arXiv papers, ``@misc`` for news)."""
    def field(value: str) -> str:
        # Braces and backslashes would unbalance or inject into the entry: escape them.
        return (value.replace("\\", r"\textbackslash{}").replace("{", r"\{").replace("}", r"\}")
                .replace("\n", " "))

    year = item_year(item)
    entry = "article" if item.get("kind") == "paper" else "misc"
    fields = [("title", field(item.get("title") or "")), ("author", field(" and ".join(item.get("authors") or [])))]
    if year:
        fields.append(("year", year))
    if item.get("arxiv_id"):
        fields += [("eprint", field(item["arxiv_id"])), ("archivePrefix", "arXiv")]
        if item.get("categories"):
            fields.append(("primaryClass", field(item["categories"][0])))
    if item.get("doi"):
        fields.append(("doi", field(item["doi"])))
    if url:
        fields.append(("url", field(url)))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
    return f"@{entry}{{{key},\n{body}\n}}\n"
