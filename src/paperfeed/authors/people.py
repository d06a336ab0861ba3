"""People: one name string may be several people. Splits a name identity's author slots into people by shared
co-authors and affiliations, then by category and topic profile (``decide_people``; pure), and decides the people
of a whole author graph (``people_from_graph``; pure)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from ..normalize import fold
from ..storage import AuthorDecision, AuthorGraph, PersonSlots
from .names import _TOKEN, BIG_PAPER, name_parts, normalized_name



@dataclass(frozen=True, slots=True)
class PeopleRules:
    """The conservative rules that split a name identity into people (see ``decide_people``)."""

    ambiguous: float = 0.05
    """A name is split only when it is this common or more: (names with its surname) x (names with its first
    given name) / (all names) in the store, the expected number of other people it would belong to if given
    names and surnames were drawn independently. Rarer names stay one person, as before."""
    similar: float = 0.3
    """Two groups of papers with no co-author or affiliation in common are one person when the cosine of their
    category and topic profiles (rarer categories and topics weigh more) is at least this."""
    years_apart: int = 10
    """Groups whose papers are more than this many years apart are not joined on profile alone."""


RULES = PeopleRules()


@dataclass(slots=True)
class _Cluster:
    slots: list[int]
    items: set[int]
    vector: dict[str, float]
    years: tuple[int, int] | None


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if not a or not b:
        return 0.0
    if len(a) > len(b):
        a, b = b, a
    dot = sum(value * b.get(feature, 0.0) for feature, value in a.items())
    if not dot:
        return 0.0
    return dot / (sum(v * v for v in a.values()) ** 0.5 * sum(v * v for v in b.values()) ** 0.5)


def _add(into: dict[str, float], vector: dict[str, float]) -> None:
    for feature, value in vector.items():
        into[feature] = into.get(feature, 0.0) + value


@dataclass(slots=True)
class SlotEvidence:
    """What one author slot says about who it is: its paper, co-authors' names, affiliations, profile, year."""

    item_id: int
    coauthors: set[str] = field(default_factory=set)
    affiliations: set[str] = field(default_factory=set)
    vector: dict[str, float] = field(default_factory=dict)
    """Categories (primary 1, cross-lists 0.5) and topics (1), each times its inverse document frequency."""
    year: int | None = None


def decide_people(slots: list[SlotEvidence], ambiguous: bool, together: list[set[int]] = (),
                  apart: list[tuple[set[int], set[int]]] = (), rules: PeopleRules = RULES,
                  alone: set[int] = frozenset()) -> list[list[int]]:
    """Split the slots of one name identity into people; return lists of slot indexes. Pure.

    Hard rules first: two slots on one paper are two people; a remembered split (``apart``: no slot of the
    first set is the person of one of the second) is never crossed; a remembered merge or a split's own side
    (``together``) is one person, and a split-off side (its slots in ``alone``) takes no other slot but by a
    remembered merge. Then, for a name that is not ``ambiguous``, everything else is one person
    (today's name merging). For an ambiguous name, slots that share a co-author (by full normalized name) or an
    affiliation are one person, and the groups that leaves are joined, biggest first, to the most similar
    person whose category and topic profile has cosine ``rules.similar`` or more (not across ``years_apart``).
    A group with no profile at all (no categories, no topics) joins the biggest person it may.
    """
    clusters: dict[int, _Cluster] = {}
    parent = list(range(len(slots)))
    for index, slot in enumerate(slots):
        years = (slot.year, slot.year) if slot.year else None
        clusters[index] = _Cluster([index], {slot.item_id}, dict(slot.vector), years)

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    def conflict(a: _Cluster, b: _Cluster) -> bool:
        if a.items & b.items:
            return True
        for left, right in apart:
            members_a, members_b = set(a.slots), set(b.slots)
            if (members_a & left and members_b & right) or (members_a & right and members_b & left):
                return True
        return False

    def union(a: int, b: int, decided: bool = False) -> bool:
        ra, rb = root(a), root(b)
        if ra == rb:
            return True
        if conflict(clusters[ra], clusters[rb]):
            return False
        if not decided and alone and (alone & set(clusters[ra].slots) or alone & set(clusters[rb].slots)):
            return False
        if len(clusters[ra].slots) < len(clusters[rb].slots):
            ra, rb = rb, ra
        parent[rb] = ra
        into, other = clusters[ra], clusters.pop(rb)
        into.slots += other.slots
        into.items |= other.items
        _add(into.vector, other.vector)
        if other.years:
            into.years = other.years if not into.years else (min(into.years[0], other.years[0]),
                                                             max(into.years[1], other.years[1]))
        return True

    for group in together:
        members = sorted(group)
        for other in members[1:]:
            union(members[0], other, decided=True)
    if not ambiguous:
        for index in range(1, len(slots)):
            union(0, index)
        return [sorted(cluster.slots) for cluster in clusters.values()]

    # In a fixed order: joins are refused by the hard rules above, so which of two shared names is joined first
    # can decide who is who, and a set of strings iterates in an order that changes with every process.
    by_evidence: dict[str, list[int]] = defaultdict(list)
    for index, slot in enumerate(slots):
        for name in sorted(slot.coauthors):
            by_evidence["a:" + name].append(index)
        for place in sorted(slot.affiliations):
            by_evidence["f:" + place].append(index)
    for indexes in by_evidence.values():
        for other in indexes[1:]:
            union(indexes[0], other)

    def apart_in_time(a: _Cluster, b: _Cluster) -> bool:
        return bool(a.years and b.years and (a.years[0] - b.years[1] > rules.years_apart
                                             or b.years[0] - a.years[1] > rules.years_apart))

    groups = sorted({root(index) for index in range(len(slots))},
                    key=lambda r: (-len(clusters[r].slots), min(clusters[r].slots)))
    people: list[int] = []
    faceless: list[int] = []
    for group in groups:
        cluster = clusters[group]
        if not cluster.vector:
            faceless.append(group)
            continue
        best, best_score = None, rules.similar
        for person in people:
            candidate = clusters[person]
            score = _cosine(cluster.vector, candidate.vector)
            if (score >= best_score and not apart_in_time(cluster, candidate) and not conflict(cluster, candidate)
                    and not (alone & (set(cluster.slots) | set(candidate.slots)))):
                best, best_score = person, score
        if best is None or not union(best, group):
            people.append(group)
        else:
            people = [root(person) for person in people]
    for group in faceless:
        for person in sorted(people, key=lambda r: -len(clusters[root(r)].slots)):
            if union(person, group):
                break
        else:
            people.append(group)
    return [sorted(clusters[r].slots) for r in sorted({root(index) for index in range(len(slots))})]


class NameCommonness:
    """How common a name is in a store: (names with its surname) x (names with its first given name) / names."""

    def __init__(self, names: Iterable[str]) -> None:
        self.surnames: Counter[str] = Counter()
        self.given: Counter[str] = Counter()
        # The distinct comparison forms, as their parts (one form, one pair: the form is the parts joined).
        distinct = {name_parts(name) for name in names}
        distinct.discard(((), ""))
        for given, surname in distinct:
            self.surnames[surname] += 1
            if given:
                self.given[given[0]] += 1
        self.total = max(len(distinct), 1)

    def __call__(self, name: str) -> float:
        given, surname = name_parts(name)
        if not given:
            return 0.0
        return self.surnames[surname] * self.given[given[0]] / self.total


def _idf(graph: AuthorGraph) -> dict[str, float]:
    """Inverse document frequencies of categories and topics over the graph's items."""
    counts: Counter[str] = Counter()
    for categories in graph.item_categories.values():
        counts.update({"c:" + category for category in categories})
    for topics in graph.item_topics.values():
        counts.update({f"t:{topic}" for topic in topics})
    return idf_from_counts(len(graph.item_authors), counts)


def idf_from_counts(papers: int, counts: dict[str, int]) -> dict[str, float]:
    """Inverse document frequencies from papers per feature (``c:category``, ``t:topic``) among ``papers``."""
    total = max(papers, 1)
    return {feature: math.log((1 + total) / (1 + count)) + 1 for feature, count in counts.items()}


def people_from_graph(graph: AuthorGraph, identities: dict[int, int], keys: set[str] | None = None,
                      decisions: list[AuthorDecision] = (), rules: PeopleRules = RULES,
                      commonness: NameCommonness | None = None,
                      idf: dict[str, float] | None = None, touched: set[int] | None = None) -> list[PersonSlots]:
    """Decide the people of every author (with ``keys``, of those blocks only) from names, papers and decisions.

    ``identities``: the name merges (``identities_from_graph``). ``commonness`` and ``idf`` are store-wide
    figures: computed from the graph when not given, which is right only for a graph of the whole store. With
    ``touched`` (author ids), only the groups (a name identity, joined by remembered merges) holding one of them
    are decided: a group's people follow from its own slots and their papers only. Pure.
    """
    wanted = {a for a, (_, key) in graph.authors.items() if keys is None or key in keys}
    slots_of: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for item_id, author_ids in graph.item_authors.items():
        for position, author_id in enumerate(author_ids):
            if author_id in wanted:
                slots_of[author_id].append((item_id, position))
    # Groups: name identities, joined by remembered merges (a merge may join two names).
    parent: dict[int, int] = {}

    def root(a: int) -> int:
        parent.setdefault(a, a)
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for author_id in slots_of:
        parent[root(author_id)] = root(identities.get(author_id, author_id))
    for decision in decisions:
        joined = [author for _, author in decision.slots if author in slots_of]
        for other in joined[1:]:
            parent[root(other)] = root(joined[0])
    groups: dict[int, list[int]] = defaultdict(list)
    for author_id in sorted(slots_of):
        groups[root(author_id)].append(author_id)
    if touched is not None:
        groups = {group: members for group, members in groups.items() if not touched.isdisjoint(members)}

    if commonness is None:
        commonness = NameCommonness(name for name, _ in graph.authors.values())
    if idf is None:
        idf = _idf(graph)
    normalized = _NormalizedNames(graph)
    people: list[PersonSlots] = []
    for members in groups.values():
        slots = [(item, position, author) for author in members for item, position in slots_of[author]]
        slots.sort()
        if not slots:
            continue
        names = {author: graph.authors[author][0] for author in members}
        ambiguous = max(commonness(name) for name in names.values()) >= rules.ambiguous and len(slots) > 1
        index_of = ({(item, author): index for index, (item, _, author) in enumerate(slots)} if decisions
                    else {})
        together: list[set[int]] = []
        apart: list[tuple[set[int], set[int]]] = []
        alone: set[int] = set()
        for decision in decisions:
            side = {index_of[s] for s in decision.slots if s in index_of}
            if len(side) > 1:
                together.append(side)
            if decision.kind == "split":
                other = {index_of[s] for s in decision.apart if s in index_of}
                if side and other:
                    apart.append((side, other))
                    alone |= side
        if len(slots) == 1 or (not ambiguous and not apart and len({item for item, _, _ in slots}) == len(slots)):
            chosen = [list(range(len(slots)))]
        elif not ambiguous:
            chosen = decide_people([SlotEvidence(item) for item, _, _ in slots], False, together, apart, rules,
                                   alone)
        else:
            chosen = decide_people([_evidence(graph, idf, item, position, author, normalized)
                                    for item, position, author in slots], ambiguous, together, apart, rules,
                                   alone)
        for indexes in chosen:
            person_slots = [slots[index] for index in indexes]
            if len(members) == 1:  # most people: one spelling
                author_id = members[0]
            else:
                spelled = Counter(author for _, _, author in person_slots)
                author_id = max(spelled, key=lambda a: (spelled[a], len(names[a]), -a))
            people.append(PersonSlots(name=names[author_id], author_id=author_id, slots=person_slots))
    return people


class _NormalizedNames(dict):
    """Author id -> the comparison form of the author's name in ``graph``, each made once: a co-author's name is
    compared on every slot of every common name on the paper (about a tenth of an identity refresh made each
    name's form again)."""

    def __init__(self, graph: AuthorGraph) -> None:
        super().__init__()
        self.authors = graph.authors

    def __missing__(self, author_id: int) -> str:
        self[author_id] = found = normalized_name(self.authors[author_id][0])
        return found


def _evidence(graph: AuthorGraph, idf: dict[str, float], item_id: int, position: int, author_id: int,
              normalized: dict[int, str]) -> SlotEvidence:
    author_ids = graph.item_authors[item_id]
    evidence = SlotEvidence(item_id)
    if len(author_ids) <= BIG_PAPER:
        evidence.coauthors = {normalized[other] for index, other in enumerate(author_ids)
                              if index != position and other != author_id}
    evidence.affiliations = {" ".join(_TOKEN.findall(fold(place)))
                             for place in graph.affiliations.get((item_id, author_id), ())}
    for rank, category in enumerate(graph.item_categories.get(item_id, ())):
        feature = "c:" + category
        evidence.vector[feature] = evidence.vector.get(feature, 0.0) + (1.0 if rank == 0 else 0.5) * idf[feature]
    for topic in graph.item_topics.get(item_id, ()):
        evidence.vector[f"t:{topic}"] = idf[f"t:{topic}"]
    date = graph.item_dates.get(item_id)
    if date and date[:4].isdigit():
        evidence.year = int(date[:4])
    return evidence
