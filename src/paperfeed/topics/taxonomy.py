"""The topic taxonomy (shipped as ``taxonomy.toml``, extended by a user file and the store) and its weak labels."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterable, Sequence

from ..normalize import fold

_CATEGORY = re.compile(r"^[a-z][a-z-]*(\.[A-Za-z]{2,})?$")
"""An arXiv category (``cs.CL``, ``quant-ph``); ACM classes (``I.2.7``) and MSC codes (``68T50``) are not."""


class TaxonomyError(ValueError):
    """A topic definition that cannot be used; the message names the file and the topic."""


def is_category(text: str) -> bool:
    """Say whether ``text`` is shaped like an arXiv category."""
    return bool(_CATEGORY.match(text))


@dataclass(frozen=True)
class Topic:
    """One topic: what it covers, arXiv categories that imply it, phrases that signal it."""

    name: str
    description: str = ""
    categories: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    origin: str = "taxonomy"


class WeakLabeler:
    """Find the topics an item is a weak positive of; built once for a list of topics.

    Gold labels (a capture's topic header, a user's tag) always count; otherwise an item is a positive
    of a topic when its primary arXiv category is one of the topic's hints, or when its title or
    abstract contains a seed phrase (whole words, any case, accents folded).
    """

    def __init__(self, topics: Sequence[Topic]) -> None:
        self.by_category: dict[str, set[str]] = {}
        owners: dict[str, set[str]] = {}
        for topic in topics:
            for category in topic.categories:
                self.by_category.setdefault(category, set()).add(topic.name)
            for phrase in topic.phrases:
                if phrase.strip():
                    owners.setdefault(" ".join(fold(phrase).split()), set()).add(topic.name)
        # One pass per text: a zero-width lookahead tries every start position and takes the longest
        # phrase there; a phrase also stands for its word-prefixes ("policy optimization" contains
        # "policy"), so no topic is lost to a longer phrase of another starting at the same place.
        self.topics_of = {phrase: set(names) for phrase, names in owners.items()}
        for phrase in owners:
            for prefix, names in owners.items():
                if len(prefix) < len(phrase) and phrase.startswith(prefix) and not _word_char(phrase[len(prefix)]):
                    self.topics_of[phrase] |= names
        alternatives = sorted(owners, key=len, reverse=True)
        self.pattern = (re.compile(r"(?<![\w-])(?=(" + "|".join(map(re.escape, alternatives)) + r")(?![\w-]))")
                        if alternatives else None)

    def labels(self, title: str, abstract: str, categories: Sequence[str], gold: Iterable[str] = ()) -> list[str]:
        """Return the sorted topic names the item is a positive example of."""
        names = set(gold)
        if categories:
            names |= self.by_category.get(categories[0], set())
        if self.pattern is not None:
            for match in self.pattern.finditer(fold(f"{title}\n{abstract}")):
                names |= self.topics_of[match.group(1)]
        return sorted(names)


def _word_char(char: str) -> bool:
    return char.isalnum() or char in "_-"


def weak_labels(topics: Sequence[Topic], title: str, abstract: str, categories: Sequence[str],
                gold: Iterable[str] = ()) -> list[str]:
    """Return the topic names an item is a (weak) positive example of (see ``WeakLabeler``)."""
    return WeakLabeler(topics).labels(title, abstract, categories, gold)


def default_taxonomy() -> list[Topic]:
    """Return the topics shipped in ``taxonomy.toml``."""
    text = resources.files(__package__).joinpath("taxonomy.toml").read_text(encoding="utf-8")
    return parse_taxonomy(text, "taxonomy.toml (shipped)")


def load_taxonomy_file(path: str | Path) -> list[Topic]:
    """Return the topics of a user's TOML file of the shipped file's shape."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TaxonomyError(f"{path}: cannot read topics file: {error}") from None
    return parse_taxonomy(text, str(path))


def parse_taxonomy(text: str, origin: str) -> list[Topic]:
    """Parse ``[[topic]]`` tables; an unusable one raises ``TaxonomyError`` naming ``origin`` and the topic."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise TaxonomyError(f"{origin}: not valid TOML: {error}") from None
    entries = document.get("topic", [])
    if not isinstance(entries, list):
        raise TaxonomyError(f"{origin}: 'topic' must be an array of tables ([[topic]])")
    topics: list[Topic] = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, 1):
        place = f"{origin}: topic {number}"
        if not isinstance(entry, dict):
            raise TaxonomyError(f"{place}: must be a table")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise TaxonomyError(f"{place}: needs a non-empty 'name'")
        place = f"{origin}: topic {number} ({name!r})"
        unknown = set(entry) - {"name", "description", "categories", "phrases"}
        if unknown:
            raise TaxonomyError(f"{place}: unknown key(s) {', '.join(sorted(unknown))}")
        description = entry.get("description", "")
        if not isinstance(description, str):
            raise TaxonomyError(f"{place}: 'description' must be a string")
        topic = make_topic(name, description, _strings(entry, "categories", place), _strings(entry, "phrases", place),
                           place=place)
        if topic.name in seen:
            raise TaxonomyError(f"{place}: defined twice")
        seen.add(topic.name)
        topics.append(topic)
    return topics


def make_topic(name: str, description: str, categories: Sequence[str], phrases: Sequence[str], *,
               origin: str = "taxonomy", place: str = "topic") -> Topic:
    """Build a checked Topic: a name, valid arXiv categories, and at least one category or phrase to learn from."""
    name = " ".join(name.split())
    if not name:
        raise TaxonomyError(f"{place}: the name is empty")
    bad = [category for category in categories if not is_category(category)]
    if bad:
        raise TaxonomyError(f"{place}: not arXiv categories: {', '.join(bad)} (expected e.g. cs.CL, eess.AS)")
    phrases = tuple(phrase.strip() for phrase in phrases if phrase.strip())
    if not categories and not phrases:
        raise TaxonomyError(f"{place}: give at least one arXiv category or seed phrase to learn the topic from")
    return Topic(name=name, description=description.strip(), categories=tuple(categories), phrases=phrases,
                 origin=origin)


def _strings(entry: dict, key: str, place: str) -> list[str]:
    values = entry.get(key, [])
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise TaxonomyError(f"{place}: '{key}' must be a list of strings")
    return values
