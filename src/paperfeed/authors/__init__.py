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

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Iterable

from ..normalize import author_key, person_name
from ..progress import Progress, quiet
from ..storage import AuthorDecision, AuthorGraph, Store, open_store
# Names and people live in their own modules; what callers import is re-exported here.
from .names import BIG_PAPER, compatible, is_abbreviated, name_parts, normalized_name  # noqa: F401
from .people import (RULES, NameCommonness, PeopleRules, SlotEvidence, decide_people,  # noqa: F401
                     idf_from_counts, people_from_graph)

MAX_BLOCK = 400
"""Names sharing a key (surname + first initial) compared pairwise at most; larger blocks merge only exact matches."""


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


IDENTITY_CHUNK_SLOTS = 150_000
"""Author slots (papers of the names) decided per pass of ``refresh_identities``: what bounds its memory. A
block larger than this is decided whole, alone. Each chunk reads its papers' whole author lists, so a paper whose
authors' names fall in several chunks is read once per chunk: with 50,000 slots a first refresh of 400,000
snapshot papers took 264.9 s (peak 262 MB), with 150,000 196.6 s (448 MB), and a day's 1,000 papers into that
store 137.8 against 103.9 s (docs/benchmarks.md, "A day's papers and the identity refresh")."""


def refresh_identities(store: Store, item_ids: list[int] | None = None, rules: PeopleRules = RULES,
                       chunk_slots: int = IDENTITY_CHUNK_SLOTS, progress: Progress | None = None) -> int:
    """Recompute and store merged name identities and the people they stand for; return how many author names
    were merged into another.

    With ``item_ids`` (the items just added, changed or tagged), only the name blocks of their authors (and of
    the names their slots were decided as: a new version may drop one) have their identities decided again, and
    the blocks remembered decisions tie to them: a new paper can only change the identities of names that share
    a block with one of its authors. People are decided again only for the groups of those names, and for the
    groups a name left or joined: the rest of a block keeps its people (a common block holds hundreds of names).
    Remembered splits and merges (``split_person``, ``merge_people``) always hold.

    Identities and people are decided within name blocks (and the blocks a remembered decision ties), so the
    blocks are loaded, decided and written in key order, about ``chunk_slots`` author slots at a time: memory
    follows the chunk, not the store. What is store-wide (how common a name is, how rare a category or topic)
    is counted first.
    Brand-new people get their ids chunk by chunk, so on a first refresh their numbering differs from one pass
    over everything; who is who does not.
    Chunks commit one by one, so a refresh that stops part-way (Ctrl-C during a whole-arXiv bootstrap, an error)
    leaves some blocks undecided: it says so in the store (``Store.identities_interrupted``) for the next
    store-wide refresh to catch up (``pipeline.after_ingest`` runs one), which clears it. (A process killed
    outright leaves no such mark: its authors are decided again when their items change.)
    ``progress`` (``paperfeed.progress``) counts the authorships decided (author slots of papers, whose number a
    chunk's time follows, not its names': one common surname holds thousands), against a total known up front:
    after a whole-arXiv bootstrap this takes about 30 minutes (docs/benchmarks.md).
    """
    try:
        merged = _refresh(store, item_ids, rules, chunk_slots, progress or quiet)
    except BaseException:
        _remember_interrupted(store)
        raise
    if item_ids is None and store.identities_interrupted():
        store.mark_identities_interrupted(False)
    return merged


def _remember_interrupted(store: Store) -> None:
    """Mark the store's identities as interrupted, on its own connection or, where the interrupted query left that
    one busy (PostgreSQL: "another command is already in progress"), on a fresh one. Best effort: the error being
    raised is what the caller reports."""
    try:
        store.mark_identities_interrupted(True)
        return
    except Exception:
        pass
    try:
        with open_store(store.url, migrate=False) as fresh:
            fresh.mark_identities_interrupted(True)
    except Exception:
        pass


def _refresh(store: Store, item_ids: list[int] | None, rules: PeopleRules, chunk_slots: int,
             progress: Progress) -> int:
    decisions = store.author_decisions(None)
    # Remembered decisions tie blocks together: decide every block a decision touches with the others.
    key_of = store.author_keys_of(sorted({a for decision in decisions for _, a in decision.slots | decision.apart}))
    tied: dict[str, set[str]] = defaultdict(set)
    for decision in decisions:
        touched = {key_of[a] for _, a in decision.slots | decision.apart if a in key_of}
        for key in touched:
            tied[key] |= touched

    def with_tied(keys: Iterable[str], done: set[str]) -> list[str]:
        # Only tied keys can be reached twice (from their own page and from a tie): only they are remembered.
        found = [key for key in keys if key not in done]
        pending = [key for key in found if key in tied]
        done.update(pending)
        while pending:
            for key in tied[pending.pop()]:
                if key not in done:
                    done.add(key)
                    found.append(key)
                    pending.append(key)
        return found

    done: set[str] = set()
    scoped: list[str] | None = None
    touched: set[int] | None = None
    if item_ids is None:
        chunks: Iterable[tuple[list[str], int]] = _weighed_chunks(store, store.author_key_pages(_KEY_PAGE), chunk_slots)
        total = store.author_slot_count()
    else:
        # The names whose people these items can change: those the items give, and those their slots were
        # decided as (a name a new version of a paper dropped loses a paper, so its block is decided again too).
        touched = store.authors_of_items(item_ids)
        scoped = sorted(with_tied(set(store.author_keys_of(sorted(touched)).values()), set()))
        if len(item_ids) >= _EVERY_ITEM_FROM and len(item_ids) >= store.item_count():
            touched = None  # every item (a first load's refresh; ids given twice only decide more): all touched
        chunks = list(_weighed_chunks(
            store, (scoped[start:start + _KEY_PAGE] for start in range(0, len(scoped), _KEY_PAGE)), chunk_slots))
        total = sum(weight for _, weight in chunks)
    commonness = NameCommonness(name for page in store.author_name_pages(50_000) for name in page)
    idf = idf_from_counts(*store.author_feature_counts())
    merged = 0
    with progress("author identities", total, unit="authorships") as advance:
        for keys, weight in chunks:
            # A key a remembered decision tied to an earlier chunk was decided there; its slots count here.
            chunk = with_tied(keys, done)
            if chunk:
                merged += _decide_chunk(store, chunk, decisions, key_of, rules, commonness, idf, touched)
            advance(weight)
    if scoped is None:
        store.forget_people_without_slots()
    elif item_ids:
        store.forget_item_people_outside(item_ids, scoped)
    return merged


def _decide_chunk(store: Store, chunk: list[str], decisions: list[AuthorDecision], key_of: dict[int, str],
                  rules: PeopleRules, commonness: NameCommonness, idf: dict[str, float],
                  touched: set[int] | None = None) -> int:
    """Decide and store the identities and people of one chunk of name blocks; return the names merged.

    With ``touched`` (a scoped refresh: the names its items give or gave), the blocks' identities are decided
    whole, but people only for the groups that hold a touched name or a name whose identity changed: a day's
    papers touch the commonest blocks (``wang|y``: hundreds of names), while a group's people follow from its
    own slots alone. The other groups keep what they were decided as (docs/benchmarks.md, session 27).
    """
    keys = set(chunk)
    graph = store.author_graph(keys=chunk, coauthors_up_to=BIG_PAPER)
    identities = identities_from_graph(graph, keys)
    scope = [a for a, (_, key) in graph.authors.items() if key in keys]
    regrouped: set[int] | None = None
    if touched is not None:
        earlier = store.identities_of(scope)
        moved = {author for author in scope if earlier[author] != identities.get(author, author)}
        # A name that changed identity leaves one group and joins another: both are decided again.
        marks = {earlier[author] for author in moved} | {identities.get(author, author) for author in moved}
        regrouped = {author for author in scope if author in touched or earlier[author] in marks
                     or identities.get(author, author) in marks}
    store.save_author_identities(identities, scope)
    chunk_decisions = [decision for decision in decisions
                       if any(key_of.get(a) in keys for _, a in decision.slots | decision.apart)]
    people = people_from_graph(graph, identities, keys, chunk_decisions, rules, commonness, idf, regrouped)
    if regrouped is not None:
        # The decided groups' names (each has a slot), and touched names left with none (a dropped author).
        scope = sorted({author for person in people for _, _, author in person.slots} | regrouped)
    store.save_people(people, scope)
    return sum(1 for author_id, identity in identities.items() if author_id != identity)


_KEY_PAGE = 5_000

_EVERY_ITEM_FROM = 50_000
"""A scoped refresh of this many items or more asks whether they are every item of the store (one count): after
a first load they are, and the names they touch are then every name, held in no set."""


def _weighed_chunks(store: Store, pages: Iterable[list[str]], chunk_slots: int) -> Iterable[tuple[list[str], int]]:
    """Consecutive keys of ``pages``, cut where their author slots would pass ``chunk_slots``, each with its slots."""
    chunk: list[str] = []
    weight = 0
    for page in pages:
        slots = store.author_key_slots(page)
        for key in page:
            if chunk and weight + slots.get(key, 0) > chunk_slots:
                yield chunk, weight
                chunk, weight = [], 0
            chunk.append(key)
            weight += slots.get(key, 0)
    if chunk:
        yield chunk, weight


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
