"""PostgreSQL side of ``WebStorage``: a mixin of ``PostgresStore`` sharing its connection ``self._conn``.

Reads for the web pages. Mirrors ``sqlite_web.py``; behaviour must match it (the same tests run on both backends).
"""

from __future__ import annotations

from typing import Any

import orjson
import psycopg

from .web_base import WebStorage


class PostgresWebStorage(WebStorage):
    """Reads for the web pages in PostgreSQL."""

    _conn: psycopg.Connection

    def item_extras(self, item_id: int) -> list[dict[str, Any]]:
        extras = []
        for (data,) in self._conn.execute(
                "SELECT data FROM source_records WHERE item_id = %s ORDER BY id", (item_id,)):
            extra = orjson.loads(data).get("extra")
            if extra:
                extras.append(extra)
        return extras

    def item_summaries(self, item_ids: list[int]) -> dict[int, dict[str, Any]]:
        ids = list(item_ids)  # one array parameter: no limit on how many
        items = {row[0]: {"id": row[0], "kind": row[1], "title": row[2], "published": row[3],
                          "arxiv_id": row[4], "authors": []}
                 for row in self._conn.execute(
                     "SELECT id, kind, title, published, arxiv_id FROM items WHERE id = ANY(%s::bigint[])", (ids,))}
        for item_id, name in self._conn.execute(
                "SELECT ia.item_id, a.name FROM item_authors ia JOIN authors a ON a.id = ia.author_id "
                "WHERE ia.item_id = ANY(%s::bigint[]) ORDER BY ia.item_id, ia.position", (ids,)):
            items[item_id]["authors"].append(name)
        return items

    def item_author_ids(self, item_id: int) -> list[tuple[int, str]]:
        return [tuple(row) for row in self._conn.execute(
            "SELECT a.id, a.name FROM item_authors ia JOIN authors a ON a.id = ia.author_id "
            "WHERE ia.item_id = %s ORDER BY ia.position", (item_id,))]
