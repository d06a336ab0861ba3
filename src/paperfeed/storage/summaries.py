"""TL;DRs of items: one row per item (its text, where it came from, the abstract it was made from).

Written once for both backends on ``self.db``. A row names the hash of the abstract it was computed from
(``abstract_hash``): when an item's abstract changes (a new version, a merge), its TL;DR is stale, is never shown
(``tldrs`` compares the hash with the item's abstract of now) and is due again for ``summaries``. ``origin`` is
``extractive`` or ``llm:<model>``; one row per item, so a model's TL;DR replaces the extractive one and a
changed abstract puts the extractive one back until the model runs again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable

from ..normalize import utc_now
from .sql import Database


def abstract_hash(abstract: str | None) -> str:
    """The hash a TL;DR keeps of the abstract it summarises (SHA-256, first 16 hex digits)."""
    return hashlib.sha256((abstract or "").encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(slots=True)
class TldrInput:
    """What a TL;DR is computed from, and what the item holds now."""

    item_id: int
    title: str
    abstract: str
    stored_hash: str | None
    """The abstract hash of the stored TL;DR; None when the item has none."""
    origin: str | None

    @property
    def current(self) -> bool:
        """Whether the stored TL;DR was made from the abstract the item holds now."""
        return self.stored_hash is not None and self.stored_hash == abstract_hash(self.abstract)


_INPUT = ("SELECT i.id, i.title, i.abstract, t.abstract_hash, t.origin FROM items i "
          "LEFT JOIN item_tldrs t ON t.item_id = i.id ")


class SummaryStorage:
    """Read and write items' TL;DRs."""

    db: Database

    def tldr_inputs(self, item_ids: Iterable[int]) -> list[TldrInput]:
        """Title, abstract and stored TL;DR state of each existing item among ``item_ids``, by id."""
        d = self.db.dialect
        return [TldrInput(*row) for row in self.db.rows(
            _INPUT + f"WHERE i.id {d.in_array(1)} ORDER BY i.id", (d.array(sorted(set(item_ids))),))]

    def items_without_tldr(self, after: int, limit: int) -> list[TldrInput]:
        """Up to ``limit`` items with an id above ``after`` and no TL;DR at all, by id (a store's first run)."""
        return [TldrInput(*row) for row in self.db.rows(
            _INPUT + "WHERE i.id > $1 AND t.item_id IS NULL AND i.abstract <> '' ORDER BY i.id LIMIT $2",
            (after, limit))]

    def tldrs_not_from(self, origin: str, limit: int, first: Iterable[int] = (), *,
                       only_first: bool = False) -> list[TldrInput]:
        """Up to ``limit`` items whose TL;DR did not come from ``origin`` (a model): those of ``first`` that
        qualify, then (unless ``only_first``) the newest others."""
        d, first = self.db.dialect, sorted(set(first))
        found = [TldrInput(*row) for row in self.db.rows(
            _INPUT + f"WHERE t.origin <> $1 AND i.id {d.in_array(2)} ORDER BY i.id DESC LIMIT $3",
            (origin, d.array(first), limit))] if first else []
        if len(found) < limit and not only_first:
            taken = {entry.item_id for entry in found}
            found += [entry for entry in (TldrInput(*row) for row in self.db.rows(
                _INPUT + "WHERE t.origin <> $1 ORDER BY i.id DESC LIMIT $2", (origin, limit + len(taken))))
                if entry.item_id not in taken][:limit - len(found)]
        return found

    def save_tldrs(self, rows: Iterable[tuple[int, str, str, str]]) -> int:
        """Store (item id, text, origin, abstract hash) TL;DRs, replacing an item's earlier one; an item deleted
        meanwhile (joined into another) is skipped. Return how many were stored."""
        now = utc_now()
        rows = [(item_id, text, origin, digest, now) for item_id, text, origin, digest in rows]
        if not rows:
            return 0
        with self.db.transaction():
            self.db.run_many(
                "INSERT INTO item_tldrs (item_id, text, origin, abstract_hash, created_at) "
                "SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM items WHERE id = $1) "
                "ON CONFLICT (item_id) DO UPDATE SET text = EXCLUDED.text, origin = EXCLUDED.origin, "
                "abstract_hash = EXCLUDED.abstract_hash, created_at = EXCLUDED.created_at", rows)
        return len(rows)

    def forget_tldrs(self, item_ids: Iterable[int]) -> None:
        """Delete the TL;DRs of ``item_ids`` (their abstract is gone)."""
        d = self.db.dialect
        self.db.run(f"DELETE FROM item_tldrs WHERE item_id {d.in_array(1)}", (d.array(sorted(set(item_ids))),))

    def tldrs(self, item_ids: Iterable[int]) -> dict[int, str]:
        """The current TL;DR of each of ``item_ids`` that has one (one query; a stale one is left out)."""
        return {item_id: row["text"] for item_id, row in self.tldr_rows(item_ids).items() if row["current"]}

    def tldr_rows(self, item_ids: Iterable[int]) -> dict[int, dict]:
        """Each stored TL;DR of ``item_ids``: text, origin, created_at and whether it is current."""
        d = self.db.dialect
        return {item_id: {"text": text, "origin": origin, "created_at": created_at,
                          "current": digest == abstract_hash(abstract)}
                for item_id, text, origin, created_at, digest, abstract in self.db.rows(
                    "SELECT t.item_id, t.text, t.origin, t.created_at, t.abstract_hash, i.abstract "
                    f"FROM item_tldrs t JOIN items i ON i.id = t.item_id WHERE t.item_id {d.in_array(1)}",
                    (d.array(sorted(set(item_ids))),))}

    def tldr_counts(self) -> dict[str, int]:
        """Stored TL;DRs by origin."""
        return dict(self.db.rows("SELECT origin, count(*) FROM item_tldrs GROUP BY origin ORDER BY origin"))
