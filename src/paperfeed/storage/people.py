"""Author identities (which name strings are one name) and people (which author slots are one person), with the
decisions users made about them (``paperfeed authors split/merge``).

Written once for both backends on ``self.db`` (``storage.sql``), ordered as ``topics.py`` is (bytewise text).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterator

import orjson

from ..normalize import utc_now
from .sql import Database
from .topics import GOLD_ASSIGNERS, _member

_INTERRUPTED = "identities.interrupted"
"""``app_state`` row (when) of an identity refresh that stopped part-way; gone once a whole refresh finished."""

ITEMS_PER_READ = 50_000
"""Item ids one statement of the identity refresh's store-wide reads covers. Python answers Ctrl-C only between
statements: one statement over the 2.7 million items of a whole-arXiv bootstrap ran 22 s (1,000,000 items:
about 8 s), so a Ctrl-C waited that long."""


@dataclass(slots=True)
class AuthorGraph:
    """Who wrote what: author names and keys, each item's author ids in order, each item's topic ids, and what
    else tells people apart: categories, dates, affiliations."""

    authors: dict[int, tuple[str, str]]
    item_authors: dict[int, list[int]]
    item_topics: dict[int, set[int]]
    item_categories: dict[int, list[str]] = field(default_factory=dict)
    """The item's own categories (primary first), else its predicted ones at ``topic_confidence`` or more."""
    item_dates: dict[int, str] = field(default_factory=dict)
    """``YYYY-MM-DD`` (or ``YYYY``) of items that have a date."""
    affiliations: dict[tuple[int, int], set[str]] = field(default_factory=dict)
    """(item id, author id) -> the affiliations a source gave that author on that item (arXiv OAI metadata)."""


Slot = tuple[int, int, int]
"""One author slot of an item: (item id, position, author id)."""


@dataclass(slots=True)
class PersonSlots:
    """A person as decided: the name their page goes by, its author id, and every author slot that is them."""

    name: str
    author_id: int
    slots: list[Slot]


@dataclass(slots=True)
class AuthorDecision:
    """A remembered split or merge of people (``paperfeed authors split/merge``); slots are (item id, author id)."""

    id: int
    kind: str
    slots: set[tuple[int, int]]
    """``merge``: one person. ``split``: one person, and not the person of any slot in ``apart``."""
    apart: set[tuple[int, int]] = field(default_factory=set)
    created_at: str = ""


AFFILIATED = """data LIKE '%"affiliations"%'"""
"""The source records that may give authors' affiliations: the condition of the partial index
``source_records_affiliated`` (migration 0021), written here exactly as there, or the planner would not use it."""


class PeopleStorage:
    """Author names and identities, people and their author slots, and the remembered splits and merges."""

    db: Database

    # -- authors ----------------------------------------------------------------------------

    def author_graph(self, topic_confidence: float = 0.5, keys: list[str] | None = None,
                     coauthors_up_to: int | None = None) -> AuthorGraph:
        """Every author, item author list and item topic set (tagged at ``topic_confidence`` or more, or gold).

        With ``keys``, only the papers of the authors whose matching key is one of them: those authors, the
        authors of their papers (co-authors' names are evidence; with ``coauthors_up_to``, only on papers with
        that many authors or fewer, since bigger ones give no co-author evidence and a consortium paper would
        bring its thousand names into every chunk), and those papers' topics, categories, dates and
        affiliations. Memory then grows with the blocks asked for, not with the store.
        """
        db, d = self.db, self.db.dialect
        if keys is None:
            authors = {row[0]: (row[1], row[2]) for row in db.rows("SELECT id, name, key FROM authors ORDER BY id")}
            item_authors: dict[int, list[int]] = {}
            for item_id, author_id in db.rows(
                    "SELECT item_id, author_id FROM item_authors ORDER BY item_id, position"):
                item_authors.setdefault(item_id, []).append(author_id)
            only = lambda column, number: ""  # noqa: E731
            params: tuple = ()
        else:
            authors = {row[0]: (row[1], row[2]) for row in db.rows(
                f"SELECT id, name, key FROM authors WHERE key {d.in_array(1)} ORDER BY id", (d.array(keys),))}
            item_ids = db.column(
                f"SELECT DISTINCT item_id FROM item_authors WHERE author_id {d.in_array(1)} ORDER BY item_id",
                (d.array(authors),))
            item_authors = {}
            for item_id, author_id in db.rows(
                    f"SELECT item_id, author_id FROM item_authors WHERE item_id {d.in_array(1)} "
                    "ORDER BY item_id, position", (d.array(item_ids),)):
                item_authors.setdefault(item_id, []).append(author_id)
            others = sorted({a for ids in item_authors.values()
                             if coauthors_up_to is None or len(ids) <= coauthors_up_to for a in ids} - authors.keys())
            if others:
                authors.update((row[0], (row[1], row[2])) for row in db.rows(
                    f"SELECT id, name, key FROM authors WHERE id {d.in_array(1)} ORDER BY id", (d.array(others),)))
            only = lambda column, number: f" AND {column} {d.in_array(number)}"  # noqa: E731
            params = (d.array(item_ids),)
        item_topics: dict[int, set[int]] = {}
        for item_id, topic_id in db.rows(
                f"SELECT it.item_id, it.topic_id FROM item_topics it WHERE {_member(1)}{only('it.item_id', 2)} "
                "ORDER BY it.item_id, it.topic_id", (topic_confidence, *params)):
            item_topics.setdefault(item_id, set()).add(topic_id)
        item_categories: dict[int, list[str]] = {}
        for item_id, category in db.rows(
                f"SELECT item_id, category FROM item_categories WHERE 1 = 1{only('item_id', 1)} "
                "ORDER BY item_id, position", params):
            item_categories.setdefault(item_id, []).append(category)
        predicted: dict[int, list[str]] = {}
        for item_id, category in db.rows(
                f"SELECT item_id, category FROM predicted_categories WHERE confidence >= $1{only('item_id', 2)} "
                f"ORDER BY item_id, confidence DESC, category{d.bytewise}", (topic_confidence, *params)):
            predicted.setdefault(item_id, []).append(category)
        for item_id, categories in predicted.items():  # predicted only where the item has none of its own
            item_categories.setdefault(item_id, categories)
        item_dates = {item_id: published or str(year) for item_id, published, year in db.rows(
            f"SELECT id, published, year FROM {d.dated_items} WHERE (published IS NOT NULL OR year IS NOT NULL)"
            f"{only('id', 1)} "
            "ORDER BY id", params)}
        return AuthorGraph(authors=authors, item_authors=item_authors, item_topics=item_topics,
                           item_categories=item_categories, item_dates=item_dates,
                           affiliations=self._author_affiliations(authors, params[0] if params else None))

    def author_key_pages(self, size: int) -> Iterator[list[str]]:
        """Every distinct author matching key in byte order, ``size`` at a time (keyset pages, none held at once)."""
        db = self.db
        after, beyond = "", ">="  # the first page starts at the empty key (a name with no letters)
        while True:
            keys = db.column(
                f"SELECT DISTINCT key{db.dialect.bytewise} FROM authors WHERE key{db.dialect.bytewise} {beyond} $1 "
                f"ORDER BY 1 LIMIT $2", (after, size))
            if not keys:
                return
            yield keys
            after, beyond = keys[-1], ">"

    def author_slot_count(self) -> int:
        """How many author slots (item_authors rows) the store holds: what a store-wide refresh decides."""
        return self.db.value("SELECT count(*) FROM item_authors")

    def author_key_slots(self, keys: list[str]) -> dict[str, int]:
        """How many author slots (item_authors rows) the names of each of these keys hold."""
        d = self.db.dialect
        return dict(self.db.rows(
            f"SELECT a.key, count(*) FROM authors a JOIN item_authors ia ON ia.author_id = a.id "
            f"WHERE a.key {d.in_array(1)} GROUP BY a.key", (d.array(keys),)))

    def author_name_pages(self, size: int) -> Iterator[list[str]]:
        """Every author name, ``size`` at a time in id order."""
        after = -1
        while True:
            rows = self.db.rows("SELECT id, name FROM authors WHERE id > $1 ORDER BY id LIMIT $2", (after, size))
            if not rows:
                return
            yield [name for _, name in rows]
            after = rows[-1][0]

    def author_keys_of(self, author_ids: list[int]) -> dict[int, str]:
        """The matching key of each author id that exists (``ITEMS_PER_READ`` ids a statement: a refresh after a
        first load asks for every name's)."""
        d, found = self.db.dialect, {}
        for start in range(0, len(author_ids), ITEMS_PER_READ):
            found.update(self.db.rows(f"SELECT id, key FROM authors WHERE id {d.in_array(1)} ORDER BY id",
                                      (d.array(author_ids[start:start + ITEMS_PER_READ]),)))
        return found

    def authors_of_items(self, item_ids: list[int]) -> set[int]:
        """The author ids these items give (``item_authors``) and those their decided slots still hold
        (``item_people``: a name a new version of the paper dropped or replaced), ``ITEMS_PER_READ`` items a
        statement."""
        d, found = self.db.dialect, set()
        for start in range(0, len(item_ids), ITEMS_PER_READ):
            found.update(self.db.column(
                f"SELECT author_id FROM item_authors WHERE item_id {d.in_array(1)} "
                f"UNION SELECT author_id FROM item_people WHERE item_id {d.in_array(1)}",
                (d.array(item_ids[start:start + ITEMS_PER_READ]),)))
        return found

    def author_feature_counts(self, topic_confidence: float = 0.5) -> tuple[int, dict[str, int]]:
        """What ``people._idf`` counts over a whole graph, counted by the database: (papers with an author,
        papers per ``c:category`` (own categories, else predicted at ``topic_confidence``) and ``t:topic id``).
        Counted over ranges of ``ITEMS_PER_READ`` item ids, one statement each: a distinct item is in one range
        only, so the ranges' counts add up to the store's."""
        db, total, counts = self.db, 0, defaultdict(int)
        highest = db.value("SELECT coalesce(max(id), 0) FROM items")
        for low in range(0, highest, ITEMS_PER_READ):
            span = (low, low + ITEMS_PER_READ)
            total += db.value("SELECT count(DISTINCT item_id) FROM item_authors WHERE item_id > $1 AND item_id <= $2",
                              span) or 0
            for category, count in db.rows(
                    "SELECT category, count(DISTINCT item_id) FROM item_categories WHERE item_id > $1 "
                    "AND item_id <= $2 GROUP BY category", span):
                counts["c:" + category] += count
            for category, count in db.rows(
                    "SELECT category, count(DISTINCT item_id) FROM predicted_categories pc WHERE confidence >= $3 "
                    "AND item_id > $1 AND item_id <= $2 "
                    "AND NOT EXISTS (SELECT 1 FROM item_categories ic WHERE ic.item_id = pc.item_id) GROUP BY category",
                    (*span, topic_confidence)):
                counts["c:" + category] += count
            for topic_id, count in db.rows(
                    f"SELECT it.topic_id, count(DISTINCT it.item_id) FROM item_topics it WHERE {_member(3)} "
                    "AND it.item_id > $1 AND it.item_id <= $2 GROUP BY it.topic_id", (*span, topic_confidence)):
                counts[f"t:{topic_id}"] += count
        return total, dict(counts)

    def _author_affiliations(self, authors: dict[int, tuple[str, str]],
                             item_ids: Any = None) -> dict[tuple[int, int], set[str]]:
        """(item id, author id) -> affiliations, from the source records that carry them (arXiv OAI metadata);
        with ``item_ids`` (a ``dialect.array``), of those items' records only."""
        by_name = {name: author_id for author_id, (name, _) in authors.items()}
        found: dict[tuple[int, int], set[str]] = {}
        d = self.db.dialect
        only = "" if item_ids is None else f" AND item_id {d.in_array(1)}"
        for item_id, data in self.db.rows(
                f"SELECT item_id, data FROM source_records WHERE {AFFILIATED}{only} ORDER BY id",
                () if item_ids is None else (item_ids,)):
            places = (orjson.loads(data).get("extra") or {}).get("affiliations") or {}
            if not isinstance(places, dict):
                continue
            for name, values in places.items():
                author_id = by_name.get(name)
                if author_id is not None and isinstance(values, list):
                    found.setdefault((item_id, author_id), set()).update(str(v) for v in values if v)
        return found

    def identities_interrupted(self) -> bool:
        """Whether an identity refresh stopped part-way (a Ctrl-C, an error): its chunks commit one by one, so some
        authors were left as they were, and the next refresh decides every block."""
        return self.db.value("SELECT value FROM app_state WHERE name = $1", (_INTERRUPTED,)) is not None

    def mark_identities_interrupted(self, interrupted: bool) -> None:
        """Remember (committed at once) that an identity refresh stopped part-way, or forget it once one finished."""
        with self.db.transaction():
            if interrupted:
                self.db.run("INSERT INTO app_state (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE "
                            "SET value = excluded.value", (_INTERRUPTED, utc_now()))
            else:
                self.db.run("DELETE FROM app_state WHERE name = $1", (_INTERRUPTED,))

    def save_author_identities(self, identities: dict[int, int], scope: list[int] | None = None) -> None:
        """Replace the merged identities (author id -> the author id standing for it), of ``scope``'s authors only
        when given."""
        db, d = self.db, self.db.dialect
        merged = [(author, identity) for author, identity in identities.items() if author != identity]
        with db.transaction():
            if scope is None:
                db.run("DELETE FROM author_identities")
            elif scope:
                db.run(f"DELETE FROM author_identities WHERE author_id {d.in_array(1)} OR identity_id {d.in_array(1)}",
                       (d.array(scope),))
            db.run_many("INSERT INTO author_identities (author_id, identity_id) VALUES ($1, $2)", merged)

    def authors_by_key(self, keys: list[str]) -> list[tuple[int, str, int]]:
        """(author id, name, identity id) of authors whose matching key is one of ``keys``."""
        d = self.db.dialect
        return [tuple(row) for row in self.db.rows(
            "SELECT a.id, a.name, coalesce(ai.identity_id, a.id) FROM authors a "
            f"LEFT JOIN author_identities ai ON ai.author_id = a.id WHERE a.key {d.in_array(1)} ORDER BY a.id",
            (d.array(keys),))]

    def identity_members(self, identity_ids: list[int]) -> dict[int, list[int]]:
        """Author ids that make up each identity."""
        d = self.db.dialect
        members: dict[int, list[int]] = {identity: [identity] for identity in identity_ids}
        for author_id, identity in self.db.rows(
                f"SELECT author_id, identity_id FROM author_identities WHERE identity_id {d.in_array(1)} "
                "ORDER BY author_id", (d.array(identity_ids),)):
            members[identity].append(author_id)
        return members

    def author_names(self, author_ids: list[int]) -> dict[int, str]:
        """Display names of author ids."""
        d = self.db.dialect
        return dict(self.db.rows(f"SELECT id, name FROM authors WHERE id {d.in_array(1)} ORDER BY id",
                                 (d.array(author_ids),)))

    def identities_of(self, author_ids: list[int]) -> dict[int, int]:
        """The identity id of each author id (itself when not merged)."""
        d = self.db.dialect
        identities = {author_id: author_id for author_id in author_ids}
        identities.update(self.db.rows(
            f"SELECT author_id, identity_id FROM author_identities WHERE author_id {d.in_array(1)}",
            (d.array(author_ids),)))
        return identities

    def author_papers(self, author_ids: list[int]) -> list[dict[str, Any]]:
        """Items by any of these author ids, newest first: id, kind, title, published, author ids, topics."""
        db, d = self.db, self.db.dialect
        return self.author_papers_of_items(db.column(
            f"SELECT DISTINCT item_id FROM item_authors WHERE author_id {d.in_array(1)} ORDER BY item_id",
            (d.array(author_ids),)))

    def author_papers_of_items(self, item_ids: list[int]) -> list[dict[str, Any]]:
        """These items, newest first: id, kind, title, published, author ids, topics."""
        db, d = self.db, self.db.dialect
        ids = d.array(item_ids)
        items: dict[int, dict[str, Any]] = {}
        for row in db.rows(f"SELECT id, kind, title, published FROM items WHERE id {d.in_array(1)} ORDER BY id",
                           (ids,)):
            items[row[0]] = {"id": row[0], "kind": row[1], "title": row[2], "published": row[3],
                             "author_ids": [], "topics": []}
        for item_id, author_id in db.rows(
                f"SELECT item_id, author_id FROM item_authors WHERE item_id {d.in_array(1)} "
                "ORDER BY item_id, position", (ids,)):
            items[item_id]["author_ids"].append(author_id)
        for item_id, name, assigned_by, confidence in db.rows(
                "SELECT it.item_id, t.name, it.assigned_by, it.confidence FROM item_topics it "
                f"JOIN topics t ON t.id = it.topic_id WHERE it.item_id {d.in_array(1)} "
                f"ORDER BY it.item_id, it.topic_id, it.assigned_by{d.bytewise}", (ids,)):
            items[item_id]["topics"].append((name, 1.0 if assigned_by in GOLD_ASSIGNERS else confidence))
        return sorted(items.values(), key=lambda item: (item["published"] or "", item["id"]), reverse=True)

    # -- people -----------------------------------------------------------------------------

    _SLOT_PEOPLE = ("LEFT JOIN item_people ip ON ip.item_id = ia.item_id AND ip.position = ia.position "
                    "AND ip.author_id = ia.author_id")
    """Joined to ``item_authors ia``: the slot's person, when decided for the name the slot holds now."""

    def item_slots(self, item_ids: list[int]) -> dict[int, list[tuple[int, int, str, int | None]]]:
        """Each item's author slots in order: (position, author id, name, person id or None when undecided)."""
        d = self.db.dialect
        found: dict[int, list[tuple[int, int, str, int | None]]] = {item_id: [] for item_id in item_ids}
        for item_id, position, author_id, name, person_id in self.db.rows(
                "SELECT ia.item_id, ia.position, ia.author_id, a.name, ip.person_id FROM item_authors ia "
                f"JOIN authors a ON a.id = ia.author_id {self._SLOT_PEOPLE} "
                f"WHERE ia.item_id {d.in_array(1)} ORDER BY ia.item_id, ia.position", (d.array(item_ids),)):
            found[item_id].append((position, author_id, name, person_id))
        return found

    def people(self, person_ids: list[int]) -> dict[int, tuple[str, int]]:
        """(display name, author id) of each person id that exists."""
        d = self.db.dialect
        return {row[0]: (row[1], row[2]) for row in self.db.rows(
            f"SELECT id, name, author_id FROM people WHERE id {d.in_array(1)} ORDER BY id", (d.array(person_ids),))}

    def person_slots(self, person_id: int) -> list[Slot]:
        """The author slots (item id, position, author id) that are this person, as the items hold them now."""
        return [tuple(row) for row in self.db.rows(
            "SELECT ip.item_id, ip.position, ip.author_id FROM item_people ip JOIN item_authors ia "
            "ON ia.item_id = ip.item_id AND ia.position = ip.position AND ia.author_id = ip.author_id "
            "WHERE ip.person_id = $1 ORDER BY ip.item_id, ip.position", (person_id,))]

    def name_slots(self, author_ids: list[int]) -> list[tuple[int, int, int, int | None]]:
        """Every slot written with one of these author ids: (item id, position, author id, person id or None)."""
        d = self.db.dialect
        return [tuple(row) for row in self.db.rows(
            f"SELECT ia.item_id, ia.position, ia.author_id, ip.person_id FROM item_authors ia {self._SLOT_PEOPLE} "
            f"WHERE ia.author_id {d.in_array(1)} ORDER BY ia.item_id, ia.position", (d.array(author_ids),))]

    def _allocate_people_ids(self, count: int) -> list[int]:
        """Reserve ``count`` new person ids, in increasing order (inside the write transaction)."""
        raise NotImplementedError

    def save_people(self, people: list[PersonSlots], scope: list[int] | None = None,
                    items: list[int] | None = None) -> dict[int, int]:
        """Store who each slot is: replace the people of ``scope``'s author ids (everyone when None), and every
        earlier decision on the slots of ``items``; return the person id given to each of ``people`` (by index).

        A person keeps the id of the earlier person it shares most slots with, so pages keep their address
        as papers come and go; a person with no earlier slots gets a new id. A slot of an item that has gone since
        the people were decided (joined into another by an ingest meanwhile: its refresh decides that item's
        slots) is not written, nor a new person who had only such slots.
        """
        db, d = self.db, self.db.dialect
        ids: dict[int, int] = {}
        # Every row written refers to rows read or written in this transaction (the items of its slots, read again
        # below; the people), or to authors, which are never deleted; the only rows deleted that others refer to
        # are people, whose slots' rows go first. So SQLite checks no foreign key here: each item_people row's check
        # read its item's table page, a page of titles and abstracts: 1.4–2.1 s of a chunk of 150,000 slots of the
        # 2.7-million store in memory, 8.6 s from disk (docs/benchmarks.md, "A day's papers and the identity
        # refresh", session 26). The inserts then need no statement journal either (``inserts_undone_together``).
        with db.transaction(lock_writers=True, references_checked=True), db.inserts_undone_together():
            if scope is None:
                old_rows = db.rows("SELECT item_id, position, author_id, person_id FROM item_people "
                                   "ORDER BY person_id")
            else:
                # The earlier people of these names: those holding a slot that gives one of them now, found through
                # item_authors' name index (item_people has none: migration 0022), and those named by one of them
                # (people.author_id), which finds a person whose slots were all renamed since they were decided.
                old_rows = db.rows(
                    "SELECT item_id, position, author_id, person_id FROM item_people WHERE person_id IN "
                    "(SELECT ip.person_id FROM item_authors ia JOIN item_people ip ON ip.item_id = ia.item_id "
                    f"AND ip.position = ia.position AND ip.author_id = ia.author_id WHERE ia.author_id {d.in_array(1)} "
                    f"UNION SELECT id FROM people WHERE author_id {d.in_array(1)}) ORDER BY person_id",
                    (d.array(scope),))
            # Every row of the earlier people of these names: slot -> (author, person).
            old: dict[tuple[int, int], tuple[int, int]] = {(item, position): (author, person)
                                                           for item, position, author, person in old_rows}
            old_people = {person for _, person in old.values()}
            if scope is None:
                old_people |= set(db.column("SELECT id FROM people ORDER BY id"))
            taken: set[int] = set()
            kept: list[int] = []  # people that keep an earlier person's id
            fresh: list[int] = []  # and those given new ids, in this order
            order = sorted(range(len(people)), key=lambda index: (-len(people[index].slots), index))
            for index in order:
                overlap: dict[int, int] = {}
                for item, position, _ in people[index].slots:
                    previous = old.get((item, position), (None, None))[1]
                    if previous is not None and previous not in taken:
                        overlap[previous] = overlap.get(previous, 0) + 1
                if overlap:
                    ids[index] = max(overlap, key=lambda pid: (overlap[pid], -pid))
                    taken.add(ids[index])
                    kept.append(index)
                else:
                    fresh.append(index)
            if fresh:
                ids.update(zip(fresh, self._allocate_people_ids(len(fresh))))
            dropped = set(items or ())
            # Only the slots whose row changes are written. A day's papers decide whole name blocks again (1,000
            # new papers: half the slots of a 400,000-paper store), yet nearly every slot keeps its person, whose
            # id is kept above; deleting and writing every row again was a third of such a refresh.
            left = {slot: row for slot, row in old.items() if row[1] in taken and slot[0] not in dropped}
            wanted = {(item, position): (author, ids[index]) for index, person in enumerate(people)
                      for item, position, author in person.slots}  # a slot given twice: the later holds
            rows = [(item, position, author, person) for (item, position), (author, person) in wanted.items()
                    if left.get((item, position)) != (author, person)]
            # (A slot in ``left`` is of an item still there: an item's rows go with it.)
            row_items = {row[0] for row in rows}
            present = set(db.column(f"SELECT id FROM {d.dated_items} WHERE id {d.in_array(1)}",
                                    (d.array(sorted(row_items)),))) if rows else set()
            if len(present) < len(row_items):
                rows = [row for row in rows if row[0] in present]
                written = {row[3] for row in rows}
                for index in [index for index in fresh if ids[index] not in written]:
                    fresh.remove(index)
                    del ids[index]
            # Written in batches, the new people under ids taken at once: one statement a person (INSERT …
            # RETURNING id) was a round trip each on PostgreSQL, most of a first refresh's time there.
            db.run_many("UPDATE people SET name = $1, author_id = $2 WHERE id = $3",
                        [(people[index].name, people[index].author_id, ids[index]) for index in kept])
            db.run_many("INSERT INTO people (id, name, author_id) VALUES ($1, $2, $3)",
                        [(ids[index], people[index].name, people[index].author_id) for index in fresh])
            gone = sorted(old_people - taken)
            if gone:  # their rows first (with foreign keys enforced they would cascade): what is left is then known
                db.run(f"DELETE FROM item_people WHERE person_id {d.in_array(1)}", (d.array(gone),))
                db.run(f"DELETE FROM people WHERE id {d.in_array(1)}", (d.array(gone),))
            if dropped:
                db.run(f"DELETE FROM item_people WHERE item_id {d.in_array(1)}", (d.array(sorted(dropped)),))
            db.run_many("DELETE FROM item_people WHERE item_id = $1 AND position = $2",
                        sorted(slot for slot in left if slot not in wanted))
            self._write_item_people(rows)
        return ids

    def _write_item_people(self, rows: list[tuple[int, int, int, int]]) -> None:
        """Write (item, position, author, person) rows, each replacing the row its slot holds, in key order: a
        chunk's slots are spread over the whole table (its names' papers), and sorted they meet each page once.

        Where an upsert goes many rows a statement (``Dialect.many_row_upserts``: SQLite), one upsert writes them
        all: with foreign keys enforced it cost about three times an insert, but ``save_people`` stores without
        (and a read of which slots hold a row cost as much as the insert). Elsewhere (PostgreSQL, a statement a
        row) the slots that hold no row yet, every slot on a store's first refresh, are a plain insert."""
        if not rows:
            return
        db, d = self.db, self.db.dialect
        upsert = ("INSERT INTO item_people (item_id, position, author_id, person_id) VALUES ($1, $2, $3, $4) "
                  "ON CONFLICT (item_id, position) DO UPDATE SET author_id = excluded.author_id, "
                  "person_id = excluded.person_id")
        if d.many_row_upserts:  # (a stable sort: of a slot given twice, the later row holds, as written)
            db.run_many(upsert, sorted(rows, key=lambda row: (row[0], row[1])))
            return
        if len({(row[0], row[1]) for row in rows}) < len(rows):
            db.run_many(upsert, rows)  # a slot given twice: the later row holds, as written
            return
        held = {(row[0], row[1]) for row in db.rows(
            f"SELECT item_id, position FROM item_people WHERE item_id {d.in_array(1)}",
            (d.array(sorted({row[0] for row in rows})),))}
        fresh: list[tuple[int, int, int, int]] = []
        replacing: list[tuple[int, int, int, int]] = []
        for row in sorted(rows):
            (replacing if (row[0], row[1]) in held else fresh).append(row)
        if fresh:
            db.run_many("INSERT INTO item_people (item_id, position, author_id, person_id) VALUES ($1, $2, $3, $4)",
                        fresh)
        if replacing:
            db.run_many(upsert, replacing)

    def forget_item_people_outside(self, item_ids: list[int], keys: list[str]) -> None:
        """Forget the earlier decisions on slots of these items held by names whose key is not one of ``keys``
        (the blocks just decided again wrote the rest): a slot whose name changed is undecided, not stale."""
        d = self.db.dialect
        with self.db.transaction(lock_writers=True):
            self.db.run(f"DELETE FROM item_people WHERE item_id {d.in_array(1)} AND author_id NOT IN "
                        f"(SELECT id FROM authors WHERE key {d.in_array(2)})", (d.array(item_ids), d.array(keys)))

    def forget_people_without_slots(self) -> None:
        """Delete the people no slot is (after a full refresh: the people no longer decided)."""
        with self.db.transaction(lock_writers=True):
            self.db.run("DELETE FROM people WHERE NOT EXISTS "
                        "(SELECT 1 FROM item_people ip WHERE ip.person_id = people.id)")

    def people_of_authors(self, author_ids: list[int]) -> dict[int, list[tuple[int, str, int]]]:
        """The people each author id's slots belong to: (person id, person's name, slots of this name), most first."""
        d = self.db.dialect
        found: dict[int, list[tuple[int, str, int]]] = {author_id: [] for author_id in author_ids}
        for author_id, person_id, name, count in self.db.rows(
                "SELECT ia.author_id, p.id, p.name, count(*) FROM item_authors ia JOIN item_people ip "
                "ON ip.item_id = ia.item_id AND ip.position = ia.position AND ip.author_id = ia.author_id "
                f"JOIN people p ON p.id = ip.person_id WHERE ia.author_id {d.in_array(1)} "
                "GROUP BY ia.author_id, p.id, p.name ORDER BY ia.author_id, count(*) DESC, p.id",
                (d.array(author_ids),)):
            found[author_id].append((person_id, name, count))
        return found

    def author_decisions(self, author_ids: list[int] | None = None) -> list[AuthorDecision]:
        """Remembered splits and merges, oldest first; with ``author_ids``, those with a slot of one of them."""
        db, d = self.db, self.db.dialect
        if author_ids is None:
            rows = db.rows("SELECT id, kind, created_at FROM author_decisions ORDER BY id")
        else:
            rows = db.rows(
                "SELECT id, kind, created_at FROM author_decisions WHERE id IN (SELECT decision_id FROM "
                f"author_decision_slots WHERE author_id {d.in_array(1)}) ORDER BY id", (d.array(author_ids),))
        decisions = {row[0]: AuthorDecision(id=row[0], kind=row[1], slots=set(), created_at=row[2]) for row in rows}
        if decisions:
            for decision_id, side, item_id, author_id in db.rows(
                    "SELECT decision_id, side, item_id, author_id FROM author_decision_slots "
                    f"WHERE decision_id {d.in_array(1)} ORDER BY decision_id, side, item_id, author_id",
                    (d.array(decisions),)):
                (decisions[decision_id].apart if side else decisions[decision_id].slots).add((item_id, author_id))
        return list(decisions.values())

    def save_author_decision(self, kind: str, slots: set[tuple[int, int]], apart: set[tuple[int, int]] = frozenset(),
                             drop: list[int] = (), trim: dict[int, set[tuple[int, int]]] | None = None) -> int:
        """Remember a split or merge; in the same transaction delete the earlier decisions in ``drop`` and take
        the slots in ``trim`` out of earlier ones (what the new decision contradicts). Return its id."""
        db, d = self.db, self.db.dialect
        with db.transaction(lock_writers=True):
            if drop:
                db.run(f"DELETE FROM author_decisions WHERE id {d.in_array(1)}", (d.array(drop),))
            for decision_id, removed in (trim or {}).items():
                db.run_many("DELETE FROM author_decision_slots WHERE decision_id = $1 AND item_id = $2 "
                            "AND author_id = $3", [(decision_id, item, author) for item, author in sorted(removed)])
            decision_id = db.value("INSERT INTO author_decisions (kind, created_at) VALUES ($1, $2) RETURNING id",
                                   (kind, utc_now()))
            db.run_many("INSERT INTO author_decision_slots (decision_id, side, item_id, author_id) "
                        "VALUES ($1, $2, $3, $4)",
                        [(decision_id, 0, item, author) for item, author in sorted(slots)]
                        + [(decision_id, 1, item, author) for item, author in sorted(apart)])
        return decision_id
