"""Author identities: normalized names, conservative merging of variants, author and topic author pages.

The store keeps one ``authors`` row per distinct display name. Variants of one person's name
(``José García``, ``Jose Garcia``, ``García, José``, ``J. García``) are merged into one identity
only when the names agree *and* the papers agree:

- same normalized name (ASCII-folded, case, punctuation and ``Last, First`` order ignored) and at
  least one shared co-author or shared topic; or
- an initials variant (``J. García`` of ``José García``: same surname, each given name equal or an
  initial of it) and at least one shared co-author, and only when exactly one fuller name qualifies
  (``J. Smith`` beside both ``John Smith`` and ``Jane Smith`` stays apart).

Two names that appear on the same paper are never merged: they are two people. Homonyms with one
spelling (two different ``Wei Zhang``) share a row and cannot be told apart here.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Iterable

from .normalize import author_key, fold, person_name
from .storage import AuthorDecision, AuthorGraph, PersonSlots, Store

_SUFFIXES = {"jr", "sr", "ii", "iii", "iv"}
_TOKEN = re.compile(r"[a-z0-9]+")
MAX_BLOCK = 400
"""Names sharing a key (surname + first initial) compared pairwise at most; larger blocks merge only exact matches."""
BIG_PAPER = 30
"""Papers with more authors than this give no co-author evidence or edges (consortium lists connect everyone)."""


def name_parts(name: str) -> tuple[tuple[str, ...], str]:
    """Return (given-name tokens, surname), ASCII-folded and lower-case: ``García, José`` -> (("jose",), "garcia")."""
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


@dataclass(slots=True)
class AuthorEvidence:
    """What decides a merge: a name, its co-authors' keys, its topics, its papers."""

    author_id: int
    name: str
    coauthors: set[str] = field(default_factory=set)
    topics: set[int] = field(default_factory=set)
    items: set[int] = field(default_factory=set)


def decide_identities(block: list[AuthorEvidence]) -> dict[int, int]:
    """Return author id -> identity author id for names of one block (same surname and first initial).

    Pure: the rule is the module docstring's. The identity is the member with the most papers
    (then the longest name, then the lowest id).
    """
    parent = {author.author_id: author.author_id for author in block}
    by_id = {author.author_id: author for author in block}

    def root(author_id: int) -> int:
        while parent[author_id] != author_id:
            parent[author_id] = parent[parent[author_id]]
            author_id = parent[author_id]
        return author_id

    members: dict[int, list[AuthorEvidence]] = {author.author_id: [author] for author in block}

    def union(a: int, b: int) -> None:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[rb] = ra
            members[ra] += members.pop(rb)

    def shared(cluster_a: list[AuthorEvidence], cluster_b: list[AuthorEvidence], topics: bool) -> bool:
        items_a = set().union(*(a.items for a in cluster_a))
        items_b = set().union(*(b.items for b in cluster_b))
        if items_a & items_b:
            return False  # on the same paper: two people
        coauthors_a = set().union(*(a.coauthors for a in cluster_a))
        if coauthors_a & set().union(*(b.coauthors for b in cluster_b)):
            return True
        return topics and bool(set().union(*(a.topics for a in cluster_a))
                               & set().union(*(b.topics for b in cluster_b)))

    # 1. Same normalized name: a shared co-author or topic is enough.
    groups: dict[str, list[AuthorEvidence]] = defaultdict(list)
    for author in block:
        groups[normalized_name(author.name)].append(author)
    for group in groups.values():
        for a, b in combinations(group, 2):
            if root(a.author_id) != root(b.author_id) and shared(members[root(a.author_id)],
                                                                 members[root(b.author_id)], topics=True):
                union(a.author_id, b.author_id)

    # 2. Initials variants: a shared co-author, and exactly one fuller identity qualifying.
    if len(block) <= MAX_BLOCK:
        for author in sorted(block, key=lambda a: a.author_id):
            if not is_abbreviated(author.name):
                continue
            own = root(author.author_id)
            candidates = {root(other.author_id) for other in block
                          if root(other.author_id) != own and not is_abbreviated(other.name)
                          and compatible(author.name, other.name)}
            qualified = [c for c in candidates if shared(members[own], members[c], topics=False)]
            if len(qualified) == 1 and len(candidates) == 1:
                union(qualified[0], own)

    identity: dict[int, int] = {}
    for cluster in members.values():
        best = max(cluster, key=lambda a: (len(a.items), len(a.name), -a.author_id))
        for author in cluster:
            identity[author.author_id] = best.author_id
    return {author_id: identity[author_id] for author_id in by_id}


def identities_from_graph(graph: AuthorGraph, keys: set[str] | None = None) -> dict[int, int]:
    """Return author id -> identity id for every author whose block has more than one name. Pure.

    With ``keys``, only the blocks (surname + first initial) of those keys are decided.
    """
    blocks: dict[str, list[int]] = defaultdict(list)
    for author_id, (_, key) in graph.authors.items():
        if key and (keys is None or key in keys):
            blocks[key].append(author_id)
    wanted = {author_id for ids in blocks.values() if len(ids) > 1 for author_id in ids}
    if not wanted:
        return {}
    evidence = {author_id: AuthorEvidence(author_id, graph.authors[author_id][0]) for author_id in wanted}
    for item_id, author_ids in graph.item_authors.items():
        involved = [a for a in author_ids if a in evidence]
        if not involved:
            continue
        topics = graph.item_topics.get(item_id, set())
        keys = [graph.authors[a][1] for a in author_ids] if len(author_ids) <= BIG_PAPER else []
        for author_id in involved:
            record = evidence[author_id]
            record.items.add(item_id)
            record.topics |= topics
            own = graph.authors[author_id][1]
            record.coauthors.update(key for key in keys if key != own)
    identities: dict[int, int] = {}
    for ids in blocks.values():
        if len(ids) > 1:
            identities.update(decide_identities([evidence[a] for a in ids]))
    return identities


# -- people: one name string may be several people -------------------------------------------------------


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

    by_evidence: dict[str, list[int]] = defaultdict(list)
    for index, slot in enumerate(slots):
        for name in slot.coauthors:
            by_evidence["a:" + name].append(index)
        for place in slot.affiliations:
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
        distinct = {normalized_name(name) for name in names}
        distinct.discard("")
        for name in distinct:
            given, surname = name_parts(name)
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
    total = max(len(graph.item_authors), 1)
    return {feature: math.log((1 + total) / (1 + count)) + 1 for feature, count in counts.items()}


def people_from_graph(graph: AuthorGraph, identities: dict[int, int], keys: set[str] | None = None,
                      decisions: list[AuthorDecision] = (), rules: PeopleRules = RULES) -> list[PersonSlots]:
    """Decide the people of every author (with ``keys``, of those blocks only) from names, papers and decisions.

    ``identities``: the name merges (``identities_from_graph``). Pure.
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

    commonness = NameCommonness(name for name, _ in graph.authors.values())
    idf = _idf(graph)
    people: list[PersonSlots] = []
    for members in groups.values():
        slots = [(item, position, author) for author in members for item, position in slots_of[author]]
        slots.sort()
        if not slots:
            continue
        names = {author: graph.authors[author][0] for author in members}
        ambiguous = max(commonness(name) for name in names.values()) >= rules.ambiguous and len(slots) > 1
        index_of = {(item, author): index for index, (item, _, author) in enumerate(slots)}
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
            chosen = decide_people([_evidence(graph, idf, item, position, author)
                                    for item, position, author in slots], ambiguous, together, apart, rules,
                                   alone)
        for indexes in chosen:
            person_slots = [slots[index] for index in indexes]
            spelled = Counter(author for _, _, author in person_slots)
            author_id = max(spelled, key=lambda a: (spelled[a], len(names[a]), -a))
            people.append(PersonSlots(name=names[author_id], author_id=author_id, slots=person_slots))
    return people


def _evidence(graph: AuthorGraph, idf: dict[str, float], item_id: int, position: int, author_id: int) -> SlotEvidence:
    author_ids = graph.item_authors[item_id]
    evidence = SlotEvidence(item_id)
    if len(author_ids) <= BIG_PAPER:
        evidence.coauthors = {normalized_name(graph.authors[other][0]) for index, other in enumerate(author_ids)
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


def refresh_identities(store: Store, item_ids: list[int] | None = None, rules: PeopleRules = RULES) -> int:
    """Recompute and store merged name identities and the people they stand for; return how many author names
    were merged into another.

    With ``item_ids`` (the items just added, changed or tagged), only the name blocks of their authors are
    decided again (and the blocks remembered decisions tie to them): a new paper can only change the
    identities of names that share a block with one of its authors. Remembered splits and merges
    (``split_person``, ``merge_people``) always hold.
    """
    graph = store.author_graph()
    keys = None
    decisions = store.author_decisions(None)
    if item_ids is not None:
        keys = {graph.authors[a][1] for item in item_ids for a in graph.item_authors.get(item, ())}
        # Remembered decisions tie blocks together: decide every block a decision touches with the others.
        by_key: dict[str, set[str]] = defaultdict(set)
        for decision in decisions:
            touched = {graph.authors[a][1] for _, a in decision.slots | decision.apart if a in graph.authors}
            for key in touched:
                by_key[key] |= touched
        pending = list(keys)
        while pending:
            for key in by_key.get(pending.pop(), ()):
                if key not in keys:
                    keys.add(key)
                    pending.append(key)
    identities = identities_from_graph(graph, keys)
    scope = None if keys is None else [a for a, (_, key) in graph.authors.items() if key in keys]
    store.save_author_identities(identities, scope)
    people = people_from_graph(graph, identities, keys, decisions, rules)
    store.save_people(people, scope, items=item_ids)
    return sum(1 for author_id, identity in identities.items() if author_id != identity)


def find_author(store: Store, query: str) -> list[int]:
    """Return the identity ids a name refers to: exact normalized matches, else initials-compatible ones."""
    name = person_name(query)
    key = author_key(name)
    if not key:
        return []
    rows = store.authors_by_key([key])
    wanted = normalized_name(name)
    exact = [identity for _, row_name, identity in rows if normalized_name(row_name) == wanted]
    found = exact or [identity for _, row_name, identity in rows if compatible(name, row_name)]
    return list(dict.fromkeys(found))


def people_named(store: Store, query: str) -> list[dict[str, Any]]:
    """The people a name refers to, most papers first: ``{"id": person id, "author_id", "name", "papers"}``.

    A name identity whose slots are not decided yet (a store not refreshed since it was filled) is one entry
    with ``id`` None, standing for every undecided paper written with the name.
    """
    found: list[dict[str, Any]] = []
    seen: set[int] = set()
    for identity in find_author(store, query):
        found.extend(_people_of_identity(store, identity, seen))
    return sorted(found, key=lambda ref: -ref["papers"])


def _people_of_identity(store: Store, identity: int, seen: set[int] | None = None) -> list[dict[str, Any]]:
    seen = set() if seen is None else seen
    members = store.identity_members([identity])[identity]
    counts: Counter[int] = Counter()
    names: dict[int, str] = {}
    for rows in store.people_of_authors(members).values():
        for person_id, name, count in rows:
            counts[person_id] += count
            names[person_id] = name
    refs = [{"id": person_id, "author_id": identity, "name": names[person_id], "papers": count}
            for person_id, count in counts.items() if person_id not in seen]
    seen.update(counts)
    undecided = sum(1 for *_, person in store.name_slots(members) if person is None)
    if undecided:
        refs.append({"id": None, "author_id": identity, "name": store.author_names([identity])[identity],
                     "papers": undecided})
    return refs


def people_of_author(store: Store, author_id: int) -> list[dict[str, Any]]:
    """The people an author id (a name, as old author pages addressed it) now stands for; [] when no such name."""
    if not store.author_names([author_id]):
        return []
    return sorted(_people_of_identity(store, store.identities_of([author_id])[author_id]),
                  key=lambda ref: -ref["papers"])


def person_profile(store: Store, person_id: int, paper_limit: int = 50,
                   topic_confidence: float = 0.5) -> dict[str, Any] | None:
    """A person's names, papers (newest first), topics and collaborators with counts; None if no such person."""
    found = store.people([person_id])
    if person_id not in found:
        return None
    name, author_id = found[person_id]
    slots = store.person_slots(person_id)
    profile = _profile(store, {(item, position) for item, position, _ in slots}, paper_limit, topic_confidence)
    return {"id": person_id, "author_id": author_id, "name": name, **profile}


def author_profile(store: Store, identity_id: int, paper_limit: int = 50,
                   topic_confidence: float = 0.5) -> dict[str, Any]:
    """The papers written with a name identity's spellings that no person holds yet (a store whose people are
    not decided): names, papers, topics and collaborators, with counts."""
    member_ids = store.identity_members([identity_id])[identity_id]
    slots = {(item, position) for item, position, _, person in store.name_slots(member_ids) if person is None}
    profile = _profile(store, slots, paper_limit, topic_confidence)
    return {"id": None, "author_id": identity_id, "name": store.author_names([identity_id])[identity_id], **profile}


def _profile(store: Store, own: set[tuple[int, int]], paper_limit: int, topic_confidence: float) -> dict[str, Any]:
    items = sorted({item for item, _ in own})
    papers = store.author_papers_of_items(items)
    slots = store.item_slots(items)
    refs = _refs(store, [row for rows in slots.values() for row in rows])
    variants: Counter[str] = Counter()
    collaborators: Counter[tuple] = Counter()
    topics: Counter[str] = Counter()
    for item_id, rows in slots.items():
        variants.update(name for position, _, name, _ in rows if (item_id, position) in own)
        collaborators.update({_ref_key(row) for row in rows if (item_id, row[0]) not in own})
    for paper in papers:
        topics.update({name for name, confidence in paper["topics"] if confidence >= topic_confidence})
    return {
        "variants": [name for name, _ in _ranked(variants)],
        "papers_count": len(papers),
        "papers": [{"id": p["id"], "kind": p["kind"], "title": p["title"], "published": p["published"]}
                   for p in papers[:paper_limit]],
        "topics": [{"name": name, "count": count} for name, count in _ranked(topics)],
        "collaborators": [{**refs[key], "count": count} for key, count in
                          sorted(collaborators.items(), key=lambda kv: (-kv[1], refs[kv[0]]["name"], kv[0]))],
    }


def _ref_key(row: tuple[int, int, str, int | None]) -> tuple[str, int]:
    _, author_id, _, person_id = row
    return ("p", person_id) if person_id is not None else ("a", author_id)


def _refs(store: Store, rows: list[tuple[int, int, str, int | None]]) -> dict[tuple[str, int], dict[str, Any]]:
    """``{"id": person id or None, "author_id", "name"}`` of each slot's person (or, undecided, its name)."""
    people = store.people(sorted({row[3] for row in rows if row[3] is not None}))
    identities = store.identities_of(sorted({row[1] for row in rows if row[3] is None}))
    names = store.author_names(sorted(set(identities.values())))
    refs: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        key = _ref_key(row)
        if key in refs:
            continue
        if key[0] == "p":
            name, author_id = people.get(key[1], (row[2], row[1]))
            refs[key] = {"id": key[1], "author_id": author_id, "name": name}
        else:
            identity = identities[row[1]]
            refs[key] = {"id": None, "author_id": identity, "name": names.get(identity, row[2])}
    return refs


def item_people(store: Store, item_id: int) -> list[dict[str, Any]]:
    """An item's authors in order, each as its person (or, undecided, its name identity), under the name
    the item gives."""
    rows = store.item_slots([item_id])[item_id]
    refs = _refs(store, rows)
    return [{**refs[_ref_key(row)], "name": row[2]} for row in rows]


def collaborating_authors(store: Store, topic_id: int, limit: int = 15,
                          min_confidence: float | None = None) -> dict[str, Any]:
    """Return a topic's most active people and the co-authorship edges among them.

    Activity is the sum over the topic's items of the item's topic confidence (gold labels count 1), so
    an author of many confidently tagged papers outranks one of many borderline ones. Each person has a
    ``key`` (``p<person id>``, or ``a<author id>`` for a name not decided yet) that the edges refer to.
    """
    rows = store.topic_item_authors(topic_id, min_confidence)
    slots = store.item_slots([item_id for item_id, _, _ in rows])
    refs = _refs(store, [row for item_rows in slots.values() for row in item_rows])
    activity: Counter[tuple] = Counter()
    papers: Counter[tuple] = Counter()
    for item_id, confidence, _ in rows:
        for key in {_ref_key(row) for row in slots[item_id]}:
            activity[key] += confidence
            papers[key] += 1
    top = [key for key, _ in sorted(activity.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]
    chosen = set(top)
    edges: Counter[tuple] = Counter()
    for item_id, _, authors in rows:
        if len(authors) > BIG_PAPER:
            continue
        present = sorted({_ref_key(row) for row in slots[item_id]} & chosen)
        edges.update(combinations(present, 2))

    def label(key: tuple[str, int]) -> str:
        return f"{key[0]}{key[1]}"

    return {
        "authors": [{**refs[key], "key": label(key), "papers": papers[key], "activity": round(activity[key], 3)}
                    for key in top],
        "edges": [{"source": label(a), "target": label(b), "papers": count}
                  for (a, b), count in sorted(edges.items(), key=lambda kv: (-kv[1], kv[0]))],
    }


# -- remembered decisions: paperfeed authors split / merge ------------------------------------------------


class DecisionError(ValueError):
    """A split or merge that cannot be done as asked (no such person, paper not theirs): nothing was stored."""


def split_person(store: Store, person_id: int, item_ids: list[int]) -> int:
    """Take these papers out of a person: they become one person of their own, never again the same as the
    rest, whatever later refreshes find. Return the new person's id."""
    slots = store.person_slots(person_id)
    if not slots:
        raise DecisionError(f"no person {person_id}")
    theirs = {item: (position, author) for item, position, author in slots}
    wanted = list(dict.fromkeys(item_ids))
    missing = [item for item in wanted if item not in theirs]
    if missing:
        raise DecisionError(f"item {missing[0]} is not a paper of person {person_id}")
    if not wanted or len(wanted) == len(theirs):
        raise DecisionError(f"a split must leave papers on both sides (person {person_id} has {len(theirs)})")
    side = {(item, theirs[item][1]) for item in wanted}
    rest = {(item, author) for item, (_, author) in theirs.items()} - side
    # The split contradicts earlier merges that joined the two sides: they lose the split-off slots.
    trim = {decision.id: decision.slots & side
            for decision in store.author_decisions(sorted({author for _, author in theirs.values()}))
            if decision.kind == "merge" and decision.slots & side and decision.slots & rest}
    store.save_author_decision("split", side, rest, trim=trim)
    refresh_identities(store, sorted(theirs))
    return _person_at(store, wanted[0], theirs[wanted[0]][0])


def merge_people(store: Store, person_ids: list[int]) -> int:
    """Make these people one, whatever later refreshes find; return the person id they are now."""
    wanted = list(dict.fromkeys(person_ids))
    if len(wanted) < 2:
        raise DecisionError("a merge needs two people or more")
    slots: set[tuple[int, int]] = set()
    first: tuple[int, int] | None = None
    for person_id in wanted:
        found = store.person_slots(person_id)
        if not found:
            raise DecisionError(f"no person {person_id}")
        first = first or (found[0][0], found[0][1])
        slots |= {(item, author) for item, _, author in found}
    items = [item for item, _ in slots]
    if len(set(items)) < len(items):
        raise DecisionError("two of these people are authors of one paper: they cannot be one person")
    # Earlier splits that kept any of these slots apart are undone by this merge.
    drop = [decision.id for decision in store.author_decisions(sorted({author for _, author in slots}))
            if decision.kind == "split" and decision.slots & slots and decision.apart & slots]
    store.save_author_decision("merge", slots, drop=drop)
    refresh_identities(store, sorted(set(items)))
    return _person_at(store, *first)


def _person_at(store: Store, item_id: int, position: int) -> int:
    return next(row[3] for row in store.item_slots([item_id])[item_id] if row[0] == position)


def _ranked(counter: Counter) -> Iterable[tuple[Any, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))
