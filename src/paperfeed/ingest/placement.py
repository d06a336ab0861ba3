"""Placement: the identity side of one batch's ingest decisions (``Placer``): pins, identifiers, bridges and the
invariants that every placement keeps (two different arXiv ids or DOIs are never one item), and the ``Conflict``
a record that would break them becomes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import merge
from ..prepare import Prepared
from ..storage import BatchWrite, IngestSession

if TYPE_CHECKING:
    from . import FileResult

@dataclass(slots=True, frozen=True)
class Conflict:
    """A record the identity invariants kept out of an item (two different arXiv ids or DOIs, or a person's
    split): it went to an item of its own (or only to the first of two items it names) instead."""

    index: int
    """The record's position in its file (0-based)."""
    record_id: str | None
    item_id: int
    """The item it was kept out of."""
    why: str

    def __str__(self) -> str:
        return f"record {self.index + 1} ({self.record_id or 'no id'}) kept out of item {self.item_id}: {self.why}"


class Placer:
    """The identity side of one batch's decisions: identifiers, pins, bridges, and the invariants.

    A record goes to the item a person pinned it to (a split); else to the item of its strongest identifier
    (arXiv id before DOI) unless that item holds a different arXiv id or DOI (a conflict: the record starts an
    item of its own, and the file's result says so); a record whose identifiers name two items joins them (a
    bridge) unless that breaks the invariants or undoes a person's split (a conflict: the record goes to the
    first item only). Records with no identifier in the store are left to the title matcher.
    """

    def __init__(self, session: IngestSession, fresh: list[Prepared], counts: FileResult) -> None:
        self.session = session
        self.counts = counts
        self.batch = BatchWrite()
        self.members: dict[int, list[Prepared]] = {}
        self.abstracts: dict[int, list[str]] = {}
        self.by_identifier = session.items_by_identifier(list({i for item in fresh for i in item.identifiers}))
        self.pins = (session.pinned_items([key for item in fresh if (key := _pin_key(item)) is not None])
                     if session.has_pins() else {})
        self.alias: dict[int, int] = {}
        """item -> the item it was joined into in this batch."""
        self.joined: dict[int, list[int]] = {}
        """kept stored item -> stored items joined into it in this batch."""
        self.born: set[int] = set()
        """Items this batch created (a new item joined to another needs no move in the store)."""
        # The arXiv ids and DOIs of items, from the store (loaded for the items a record with two of them finds)
        # plus what this batch gave them.
        self._held: dict[int, merge.IdentitySets] = {}
        self._pending: dict[int, list[tuple[str, str]]] = {}
        """Identifiers this batch gave stored items whose sets are not loaded yet."""
        # Only a record with both an arXiv id and a DOI can clash with the item one of them finds.
        wanted = {self.by_identifier[i] for item in fresh if _strong_ids(item.identifiers) > 1
                  for i in item.identifiers if i in self.by_identifier}
        if wanted:
            for item_id, rows in session.identifier_rows(list(wanted)).items():
                self._held[item_id] = merge.identity_sets(rows)
            for item_id in wanted:
                self._held.setdefault(item_id, {})

    def find(self, item_id: int) -> int:
        while item_id in self.alias:
            item_id = self.alias[item_id]
        return item_id

    def held(self, item_id: int) -> merge.IdentitySets:
        if item_id not in self._held:
            rows = self.session.identifier_rows([item_id]).get(item_id, []) + self._pending.pop(item_id, [])
            self._held[item_id] = merge.identity_sets(rows)
        return self._held[item_id]

    def add_identities(self, item_id: int, identifiers: list[tuple[str, str]], new: bool = False) -> None:
        """Note the identifiers a record placed in ``item_id`` gave it (``new``: the record made the item)."""
        if item_id in self._held:
            self._held[item_id] = merge.union(self._held[item_id], merge.identity_sets(identifiers))
        elif new:
            self._held[item_id] = merge.identity_sets(identifiers)
            self.born.add(item_id)
        else:
            self._pending.setdefault(item_id, []).extend(identifiers)

    def place(self, prepared: Prepared, index: int) -> tuple[int | None, dict | None]:
        """(item, reason) for a record its identifiers or a pin place; (None, None) for the title matcher to try;
        (None, reason) for a conflict (a new item)."""
        record, ids = prepared.record, prepared.identifiers
        key = _pin_key(prepared) if self.pins else None
        if key in self.pins:
            item_id, decision = self.pins[key]
            return self.find(item_id), {"by": "decision", "decision": decision, "pin": key}
        hits: list[tuple[tuple[str, str], int]] = []
        for identifier in ids:
            if identifier in self.by_identifier:
                item_id = self.find(self.by_identifier[identifier])
                if all(item_id != other for _, other in hits):
                    hits.append((identifier, item_id))
        if not hits:
            return None, None
        (scheme, value), target = hits[0]
        if len(ids) == 1:  # the one identifier found the item: nothing to clash with, nothing to bridge
            return target, {"by": "identifier", "scheme": scheme, "value": value}
        mine = merge.identity_sets(ids)
        # A record with ids of one scheme, found by one of them, cannot clash with the item that holds it: the
        # item's ids are loaded (one query per item) only for a record with an arXiv id and a DOI. Found by a
        # preprint server's DOI (no identity: ``merge.identity_sets``), its journal DOI may still clash.
        found = (merge.clash(mine, self.held(target))
                 if mine and not (len(mine) == 1 and value in mine.get(scheme, ())) else None)
        if found is not None:
            return None, self._conflict(prepared, index, target, merge.describe_clash(found))
        reason: dict = {"by": "identifier", "scheme": scheme, "value": value}
        for (other_scheme, other_value), other in hits[1:]:
            other = self.find(other)
            if other == target:
                continue
            decision = (self.session.apart(target, other) if target not in self.born and other not in self.born
                        else None)
            if decision is not None:
                self._conflict(prepared, index, other, f"a person split items {target} and {other} apart "
                                                        f"(decision {decision})")
                continue
            found = merge.clash(merge.union(self.held(target), mine), self.held(other))
            if found is not None:
                self._conflict(prepared, index, other, f"joining items {target} and {other} would put "
                                                        + merge.describe_clash(found) + " in one item")
                continue
            target = self._join(target, other)
            reason = {"by": "bridge", "scheme": scheme, "value": value, "also": [other_scheme, other_value],
                      "joined": sorted({target, other})}
        return target, reason

    def _conflict(self, prepared: Prepared, index: int, item_id: int, why: str) -> dict:
        record = prepared.record
        self.counts.conflicts.append(Conflict(index, record.record_id, item_id, why))
        return {"by": "conflict", "item": item_id, "why": why}

    def _join(self, a: int, b: int) -> int:
        """Join items ``a`` and ``b`` (a bridge); return the one kept: a stored item over one made in this batch,
        else ``a`` (the item of the record's strongest identifier)."""
        keep, gone = (b, a) if a in self.born and b not in self.born else (a, b)
        self.alias[gone] = keep
        self._held[keep] = merge.union(self.held(keep), self.held(gone))
        for table in (self.members, self.abstracts):
            if gone in table:
                table.setdefault(keep, []).extend(table.pop(gone))
        if gone in self.born:
            self.batch.new_item_ids.remove(gone)
            self.born.discard(gone)
            self.counts.new -= 1
            self.counts.merged += 1
        else:
            self.joined.setdefault(keep, []).append(gone)
            self.joined[keep].extend(self.joined.pop(gone, []))
            self.batch.absorbed.append((keep, gone, {"by": "bridge"}))
            self.counts.joined.append(gone)
        return keep

    def settle(self, outcomes: list[tuple[int | None, str]]) -> list[tuple[int | None, str]]:
        """Point the batch's rows and outcomes at the items kept by its bridges."""
        find, batch = self.find, self.batch
        for row in batch.source_records:
            row.item_id = find(row.item_id)
        batch.identifiers = [(scheme, value, find(item_id)) for scheme, value, item_id in batch.identifiers]
        batch.block_keys = [(key, find(item_id)) for key, item_id in batch.block_keys]
        self.counts.changed_item_ids[:] = [find(item_id) for item_id in self.counts.changed_item_ids]
        for identifier, item_id in list(self.by_identifier.items()):
            self.by_identifier[identifier] = find(item_id)
        return [(None, outcome) if item_id is None else
                (find(item_id), "merged" if outcome == "new" and item_id in self.alias else outcome)
                for item_id, outcome in outcomes]


def _pin_key(prepared: Prepared) -> str | None:
    record = prepared.record
    return merge.pin_key(record.format, record.record_id, record.label)


def _strong_ids(identifiers: list[tuple[str, str]]) -> int:
    """How many of a record's identifiers are arXiv ids or DOIs (arXiv's own DOIs too: a cheap upper bound of
    ``merge.identity_sets``)."""
    return sum(1 for scheme, _ in identifiers if scheme in merge.STRONG)
