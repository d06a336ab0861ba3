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

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Iterable

from .normalize import author_key, fold, person_name
from .storage import AuthorGraph, Store

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


def refresh_identities(store: Store, item_ids: list[int] | None = None) -> int:
    """Recompute and store merged identities; return how many author names were merged into another.

    With ``item_ids`` (the items just tagged), only the name blocks of their authors are decided again:
    a new paper can only change the identities of names that share a block with one of its authors.
    """
    graph = store.author_graph()
    keys = None
    if item_ids is not None:
        keys = {graph.authors[a][1] for item in item_ids for a in graph.item_authors.get(item, ())}
    identities = identities_from_graph(graph, keys)
    scope = None if keys is None else [a for a, (_, key) in graph.authors.items() if key in keys]
    store.save_author_identities(identities, scope)
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


def author_profile(store: Store, identity_id: int, paper_limit: int = 50, topic_confidence: float = 0.5) -> dict[str, Any]:
    """Return an author's names, papers (newest first), topics and collaborators, with counts."""
    member_ids = store.identity_members([identity_id])[identity_id]
    papers = store.author_papers(member_ids)
    everyone = sorted({a for paper in papers for a in paper["author_ids"]} | set(member_ids))
    identities = store.identities_of(everyone)
    names = store.author_names(sorted(set(identities.values()) | set(member_ids)))
    own = set(member_ids)
    collaborators: Counter[int] = Counter()
    topics: Counter[str] = Counter()
    for paper in papers:
        collaborators.update({identities[a] for a in paper["author_ids"] if a not in own} - {identity_id})
        topics.update({name for name, confidence in paper["topics"] if confidence >= topic_confidence})
    return {
        "id": identity_id,
        "name": names[identity_id],
        "variants": [names[a] for a in member_ids],
        "papers_count": len(papers),
        "papers": [{"id": p["id"], "kind": p["kind"], "title": p["title"], "published": p["published"]}
                   for p in papers[:paper_limit]],
        "topics": [{"name": name, "count": count} for name, count in _ranked(topics)],
        "collaborators": [{"id": author, "name": names[author], "count": count}
                          for author, count in _ranked(collaborators)],
    }


def collaborating_authors(store: Store, topic_id: int, limit: int = 15,
                          min_confidence: float = 0.0) -> dict[str, Any]:
    """Return a topic's most active authors and the co-authorship edges among them.

    Activity is the sum over the topic's items of the item's topic confidence (gold labels count 1), so
    an author of many confidently tagged papers outranks one of many borderline ones.
    """
    rows = store.topic_item_authors(topic_id, min_confidence)
    identities = store.identities_of(sorted({a for _, _, authors in rows for a in authors}))
    activity: Counter[int] = Counter()
    papers: Counter[int] = Counter()
    for _, confidence, authors in rows:
        for identity in {identities[a] for a in authors}:
            activity[identity] += confidence
            papers[identity] += 1
    top = [identity for identity, _ in sorted(activity.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]
    chosen = set(top)
    edges: Counter[tuple[int, int]] = Counter()
    for _, _, authors in rows:
        if len(authors) > BIG_PAPER:
            continue
        present = sorted({identities[a] for a in authors} & chosen)
        edges.update(combinations(present, 2))
    names = store.author_names(top)
    return {
        "authors": [{"id": identity, "name": names[identity], "papers": papers[identity],
                     "activity": round(activity[identity], 3)} for identity in top],
        "edges": [{"source": a, "target": b, "papers": count}
                  for (a, b), count in sorted(edges.items(), key=lambda kv: (-kv[1], kv[0]))],
    }


def _ranked(counter: Counter) -> Iterable[tuple[Any, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))
