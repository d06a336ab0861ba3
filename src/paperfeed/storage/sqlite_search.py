"""SQLite side of ``SearchStorage``: a mixin of ``SQLiteStore`` sharing its connection ``self._db``."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterator

import orjson

from .search_base import SearchDocument, SearchStorage

# Ids travel as one JSON array parameter: no host-parameter limit, no chunking.
_IDS = "(SELECT value FROM json_each(?))"


def _ids(item_ids: list[int]) -> str:
    return orjson.dumps(item_ids).decode()


class SQLiteSearchStorage(SearchStorage):
    """The search change log (kept by triggers, see migration 0004), documents and vectors."""

    _db: sqlite3.Connection
    path: Path

    def default_index_directory(self) -> Path:
        return Path(f"{self.path}.search")

    def search_changes(self, after: int, limit: int) -> list[tuple[int, int]]:
        return self._db.execute(
            "SELECT seq, item_id FROM search_changes WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
        ).fetchall()

    def last_search_change(self) -> int:
        return self._db.execute("SELECT coalesce(max(seq), 0) FROM search_changes").fetchone()[0]

    def pending_search_changes(self, after: int) -> int:
        return self._db.execute("SELECT count(*) FROM search_changes WHERE seq > ?", (after,)).fetchone()[0]

    def search_documents(self, item_ids: list[int]) -> dict[int, SearchDocument]:
        db, ids = self._db, _ids(item_ids)
        documents = {
            row[0]: SearchDocument(id=row[0], kind=row[1], title=row[2], abstract=row[3], published=row[4],
                                   arxiv_id=row[5], url=row[6])
            for row in db.execute(
                f"SELECT id, kind, title, abstract, published, arxiv_id, url FROM items WHERE id IN {_IDS}", (ids,))
        }
        for item_id, name in db.execute(
            "SELECT ia.item_id, a.name FROM item_authors ia JOIN authors a ON a.id = ia.author_id "
            f"WHERE ia.item_id IN {_IDS} ORDER BY ia.item_id, ia.position", (ids,)
        ):
            documents[item_id].authors.append(name)
        for item_id, category in db.execute(
            f"SELECT item_id, category FROM item_categories WHERE item_id IN {_IDS} ORDER BY item_id, position",
            (ids,),
        ):
            documents[item_id].categories.append(category)
        for item_id, slug in db.execute(
            "SELECT DISTINCT it.item_id, t.slug FROM item_topics it JOIN topics t ON t.id = it.topic_id "
            f"WHERE it.item_id IN {_IDS}", (ids,)
        ):
            documents[item_id].topics.append(slug)
        for item_id, source_format, label in db.execute(
            f"SELECT DISTINCT item_id, format, label FROM source_records WHERE item_id IN {_IDS}", (ids,)
        ):
            sources = documents[item_id].sources
            for value in (source_format, label):
                if value and value not in sources:
                    sources.append(value)
        return documents

    def item_vectors(self, model: str, item_ids: list[int]) -> dict[int, tuple[str, bytes]]:
        return {
            item_id: (text_hash, vector)
            for item_id, text_hash, vector in self._db.execute(
                f"SELECT item_id, text_hash, vector FROM item_vectors WHERE model = ? AND item_id IN {_IDS}",
                (model, _ids(item_ids)),
            )
        }

    def iter_item_vectors(self, model: str, batch_size: int = 10000) -> Iterator[list[tuple[int, bytes]]]:
        last = 0
        while True:
            rows = self._db.execute(
                "SELECT item_id, vector FROM item_vectors WHERE model = ? AND item_id > ? ORDER BY item_id LIMIT ?",
                (model, last, batch_size),
            ).fetchall()
            if not rows:
                return
            yield rows
            last = rows[-1][0]

    def save_item_vectors(self, model: str, rows: list[tuple[int, str, bytes]]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            # An item deleted since its text was read has no row to hang a vector on: skip it.
            self._db.executemany(
                "INSERT OR REPLACE INTO item_vectors (item_id, model, text_hash, vector) "
                "SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM items WHERE id = ?)",
                [(item_id, model, text_hash, vector, item_id) for item_id, text_hash, vector in rows],
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
