"""Items: the export shape, lookups by identifier, counts, the small reads the web pages need.

Written once for both backends on ``self.db`` (``storage.sql``). The ingest transaction's reads and writes are
``ingest_session.IngestSession``, the only writer of items, source records, identifiers and block keys.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

import orjson

from ..merge import published_venue, version_of
from ..normalize import arxiv_id, doi
from .sql import Database


def slugify(name: str) -> str:
    """``Large Language Model`` -> ``large-language-model``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "topic"


class ItemStorage:
    """Reads of items in the export shape, lookups by identifier, counts, the small reads the web pages need;
    what an ``IngestSession`` writes with."""

    db: Database
    _author_ids: dict[str, int]
    """Author name -> id, kept between batches (bounded by ``ingest_session.IDS_CACHED``)."""
    _topic_ids: dict[str, int]
    _items_written: int
    """Items written by this store so far (PostgreSQL analyzes after a large load)."""

    def _wrote_items(self, count: int) -> None:
        """An ingest batch wrote ``count`` items (inside its transaction)."""
        self._items_written += count

    def _allocate_item_ids(self, count: int) -> list[int]:
        """Reserve ``count`` new item ids (inside the ingest transaction); each backend has its own way."""
        raise NotImplementedError

    def _allocate_record_ids(self, count: int) -> list[int]:
        """Reserve ``count`` new source record ids, in increasing order (inside the ingest transaction)."""
        raise NotImplementedError

    def _delete_item(self, item_id: int) -> None:
        """Delete an item; the rows that reference it go by the schema's ``ON DELETE CASCADE``."""
        self.db.run("DELETE FROM items WHERE id = $1", (item_id,))

    def _build_deferred_indexes(self, statements: list[str]) -> None:
        """Build, inside the open transaction, the indexes ``_drop_deferred_indexes`` dropped."""
        for statement in statements:
            self.db.run(statement)

    def _drop_deferred_indexes(self) -> list[str]:
        """Drop, inside the open transaction, the indexes a bulk load defers; return the statements that build
        them again. None here: PostgreSQL's DROP INDEX would lock the tables against every reader until the
        load commits (SQLite's readers keep reading the last commit, indexes and all)."""
        return []

    def item_count(self) -> int:
        """Number of items."""
        return self.db.value("SELECT count(*) FROM items")

    def read_rows(self, sql: str) -> list[tuple]:
        """Rows of a parameterless read-only query written in SQL both backends accept."""
        return self.db.rows(sql)

    def stats(self) -> dict[str, Any]:
        """Counts of items (by kind), source records (by format), authors, categories, topics."""
        db = self.db
        return {
            "items": self.item_count(),
            "items_by_kind": dict(db.rows("SELECT kind, count(*) FROM items GROUP BY kind ORDER BY kind")),
            "source_records": db.value("SELECT count(*) FROM source_records"),
            "source_records_by_format": dict(
                db.rows("SELECT format, count(*) FROM source_records GROUP BY format ORDER BY format")),
            "merged_items": db.value(
                "SELECT count(*) FROM (SELECT item_id FROM source_records GROUP BY item_id HAVING count(*) > 1) m"),
            "authors": db.value("SELECT count(*) FROM authors"),
            "categories": db.value("SELECT count(DISTINCT category) FROM item_categories"),
            "topics": dict(db.rows(
                "SELECT t.name, count(DISTINCT it.item_id) FROM topics t JOIN item_topics it ON it.topic_id = t.id "
                "GROUP BY t.name ORDER BY t.name")),
            "published_range": list(db.row("SELECT min(published), max(published) FROM items")),
            "migrations": self.applied_migrations(),
        }

    def item(self, item_id: int, with_raw: bool = False) -> dict[str, Any] | None:
        """One item in the export shape, or None; ``with_raw`` adds each source record's raw text."""
        items = self.export_batch([item_id], with_raw)
        return items[0] if items else None

    def find_item(self, reference: str) -> int | None:
        """Resolve an item id, arXiv id or DOI to an item id."""
        reference = reference.strip()
        # isdigit() alone passes "²3" (int() refuses it) and Arabic-Indic digits (int() reads them); ids are ASCII.
        if reference.isascii() and reference.isdigit() and int(reference) < 2 ** 63 \
                and self.item_exists(int(reference)):
            return int(reference)
        for scheme, value in (("arxiv", arxiv_id(reference)), ("doi", doi(reference))):
            if value:
                found = self.item_by_identifier(scheme, value)
                if found is not None:
                    return found
        return None

    def iter_items(self, batch_size: int = 1000) -> Iterator[dict[str, Any]]:
        """Every item in the export shape, by id."""
        last = 0
        while True:
            ids = self.item_ids_after(last, batch_size)
            if not ids:
                return
            yield from self.export_batch(ids)
            last = ids[-1]

    def items_created(self, item_ids: list[int]) -> dict[int, str]:
        """When each item among ``item_ids`` was first stored (ISO 8601, UTC); a missing id was deleted."""
        d = self.db.dialect
        return dict(self.db.rows(f"SELECT id, created_at FROM items WHERE id {d.in_array(1)}", (d.array(item_ids),)))

    def item_exists(self, item_id: int) -> bool:
        """Whether an item with this id is stored."""
        return self.db.row("SELECT 1 FROM items WHERE id = $1", (item_id,)) is not None

    def item_by_identifier(self, scheme: str, value: str) -> int | None:
        """The item holding identifier (scheme, value), if any."""
        return self.db.value("SELECT item_id FROM identifiers WHERE scheme = $1 AND value = $2", (scheme, value))

    def item_ids_after(self, last: int, limit: int) -> list[int]:
        """Up to ``limit`` item ids greater than ``last``, ascending."""
        return self.db.column("SELECT id FROM items WHERE id > $1 ORDER BY id LIMIT $2", (last, limit))

    def export_batch(self, ids: list[int], with_raw: bool = False) -> list[dict[str, Any]]:
        """The items of ``ids`` that exist, in the export shape, in the order given."""
        db, d = self.db, self.db.dialect
        wanted = d.array(ids)
        items: dict[int, dict[str, Any]] = {}
        for row in db.rows("SELECT id, kind, title, abstract, arxiv_id, doi, url, published, year, upvotes, "
                           f"withdrawn FROM items WHERE id {d.in_array(1)} ORDER BY id", (wanted,)):
            items[row[0]] = {
                "id": row[0], "kind": row[1], "title": row[2], "abstract": row[3], "authors": [],
                "arxiv_id": row[4], "doi": row[5], "url": row[6], "published": row[7], "year": row[8],
                "upvotes": row[9], "withdrawn": bool(row[10]), "categories": [], "topics": [], "sources": [],
            }
        for item_id, name in db.rows(
                "SELECT ia.item_id, a.name FROM item_authors ia JOIN authors a ON a.id = ia.author_id "
                f"WHERE ia.item_id {d.in_array(1)} ORDER BY ia.item_id, ia.position", (wanted,)):
            items[item_id]["authors"].append(name)
        for item_id, category in db.rows(
                f"SELECT item_id, category FROM item_categories WHERE item_id {d.in_array(1)} "
                "ORDER BY item_id, position", (wanted,)):
            items[item_id]["categories"].append(category)
        for item_id, name, confidence, assigned_by in db.rows(
                "SELECT it.item_id, t.name, it.confidence, it.assigned_by FROM item_topics it "
                f"JOIN topics t ON t.id = it.topic_id WHERE it.item_id {d.in_array(1)} "
                f"ORDER BY it.item_id, t.name{d.bytewise}, it.assigned_by{d.bytewise}", (wanted,)):
            items[item_id]["topics"].append({"name": name, "confidence": confidence, "assigned_by": assigned_by})
        raw_column = ", raw" if with_raw else ""
        datas: dict[int, list[dict[str, Any]]] = {}
        for row in db.rows(
                f"SELECT item_id, format, label, record_id, origin, seen_at, deleted, reason, data{raw_column} "
                f"FROM source_records WHERE item_id {d.in_array(1)} ORDER BY item_id, id", (wanted,)):
            data = orjson.loads(row[8])
            source = {"format": row[1], "label": row[2], "record_id": row[3], "origin": row[4],
                      "seen_at": row[5], "deleted": bool(row[6]), **version_of(data),
                      "reason": orjson.loads(row[7]) if row[7] else None}
            if with_raw:
                source["raw"] = row[9]
            items[row[0]]["sources"].append(source)
            datas.setdefault(row[0], []).append(data)
        tldrs = self.tldrs(items)  # type: ignore[attr-defined]  # SummaryStorage, beside this area in Store
        for item_id, item in items.items():
            item["venue"] = published_venue(datas.get(item_id, []))
            item["tldr"] = tldrs.get(item_id)
        return [items[item_id] for item_id in ids if item_id in items]

    def merge_decisions(self, item_ids: list[int]) -> list[dict[str, Any]]:
        """The split and merge decisions that name any of ``item_ids``, oldest first."""
        d = self.db.dialect
        return [{"id": row[0], "kind": row[1], "item_id": row[2], "other_id": row[3], "records": orjson.loads(row[4]),
                 "actor": row[5], "made_at": row[6]} for row in self.db.rows(
            "SELECT id, kind, item_id, other_id, records, actor, made_at FROM merge_decisions "
            f"WHERE item_id {d.in_array(1)} OR other_id {d.in_array(1)} ORDER BY id", (d.array(item_ids),))]

    def item_source_details(self, item_ids: list[int]) -> dict[int, dict[str, Any]]:
        """For cards and links: each existing item's DOI and its live source records (format, label, url, extra),
        in the order seen."""
        db, d = self.db, self.db.dialect
        ids = d.array(item_ids)
        details = {item_id: {"doi": doi, "sources": []} for item_id, doi in db.rows(
            f"SELECT id, doi FROM items WHERE id {d.in_array(1)}", (ids,))}
        for item_id, source_format, label, data in db.rows(
                f"SELECT item_id, format, label, data FROM source_records WHERE item_id {d.in_array(1)} "
                "AND NOT deleted ORDER BY item_id, id", (ids,)):
            parsed = orjson.loads(data)
            details[item_id]["sources"].append({"format": source_format, "label": label, "url": parsed.get("url"),
                                                "extra": parsed.get("extra") or {}})
        return details

    def first_author_works(self, item_id: int) -> list[dict[str, Any]]:
        """Items whose first author is this item's first author (it included): id, title, year, published,
        arxiv_id and that author's name, for telling citation keys apart. [] for an item without authors."""
        return [{"id": row[0], "title": row[1], "year": row[2], "published": row[3], "arxiv_id": row[4],
                 "authors": [row[5]]} for row in self.db.rows(
            "SELECT i.id, i.title, i.year, i.published, i.arxiv_id, a.name FROM item_authors first "
            "JOIN item_authors same ON same.author_id = first.author_id AND same.position = 0 "
            "JOIN items i ON i.id = same.item_id JOIN authors a ON a.id = same.author_id "
            "WHERE first.item_id = $1 AND first.position = 0 ORDER BY i.id", (item_id,))]

    def item_summaries(self, item_ids: list[int]) -> dict[int, dict[str, Any]]:
        """id, kind, title, published, arxiv_id and author names of each existing item among ``item_ids``."""
        db, d = self.db, self.db.dialect
        ids = d.array(item_ids)  # one parameter: no limit on how many
        items = {row[0]: {"id": row[0], "kind": row[1], "title": row[2], "published": row[3], "arxiv_id": row[4],
                          "authors": []}
                 for row in db.rows(f"SELECT id, kind, title, published, arxiv_id FROM items WHERE id {d.in_array(1)}",
                                    (ids,))}
        for item_id, name in db.rows(
                "SELECT ia.item_id, a.name FROM item_authors ia JOIN authors a ON a.id = ia.author_id "
                f"WHERE ia.item_id {d.in_array(1)} ORDER BY ia.item_id, ia.position", (ids,)):
            items[item_id]["authors"].append(name)
        return items

    def item_abstracts(self, item_ids: list[int], chars: int = 600) -> dict[int, str]:
        """The first ``chars`` characters of each existing item's abstract (teasers need no more)."""
        d = self.db.dialect
        return dict(self.db.rows(f"SELECT id, substr(abstract, 1, $2) FROM items WHERE id {d.in_array(1)}",
                                 (d.array(item_ids), chars)))

    def item_author_ids(self, item_id: int) -> list[tuple[int, str]]:
        """(author id, name) of an item's authors in order."""
        return [tuple(row) for row in self.db.rows(
            "SELECT a.id, a.name FROM item_authors ia JOIN authors a ON a.id = ia.author_id "
            "WHERE ia.item_id = $1 ORDER BY ia.position", (item_id,))]
