"""SQLite side of ``WebStorage``: a mixin of ``SQLiteStore`` sharing its connection ``self._db``."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from .web_base import WebStorage

# Ids travel as one JSON array parameter (as in sqlite_search): no host-parameter limit.
_IDS = "(SELECT value FROM json_each(?))"


class SQLiteWebStorage(WebStorage):
    """Reads for the web pages."""

    _db: sqlite3.Connection

    def item_extras(self, item_id: int) -> list[dict[str, Any]]:
        extras = []
        for (data,) in self._db.execute(
                "SELECT data FROM source_records WHERE item_id = ? ORDER BY id", (item_id,)):
            extra = orjson.loads(data).get("extra")
            if extra:
                extras.append(extra)
        return extras

    def item_summaries(self, item_ids: list[int]) -> dict[int, dict[str, Any]]:
        ids = orjson.dumps(item_ids).decode()
        items = {row[0]: {"id": row[0], "kind": row[1], "title": row[2], "published": row[3],
                          "arxiv_id": row[4], "authors": []}
                 for row in self._db.execute(
                     f"SELECT id, kind, title, published, arxiv_id FROM items WHERE id IN {_IDS}", (ids,))}
        for item_id, name in self._db.execute(
                "SELECT ia.item_id, a.name FROM item_authors ia JOIN authors a ON a.id = ia.author_id "
                f"WHERE ia.item_id IN {_IDS} ORDER BY ia.item_id, ia.position", (ids,)):
            items[item_id]["authors"].append(name)
        return items

    def item_author_ids(self, item_id: int) -> list[tuple[int, str]]:
        return [tuple(row) for row in self._db.execute(
            "SELECT a.id, a.name FROM item_authors ia JOIN authors a ON a.id = ia.author_id "
            "WHERE ia.item_id = ? ORDER BY ia.position", (item_id,))]
