"""SQLite page size: a new store gets ``PAGE_BYTES``; a store made before keeps its own and goes on working."""

from __future__ import annotations

import sqlite3

from paperfeed.ingest import Ingester
from paperfeed.storage import open_store
from paperfeed.storage.sqlite import PAGE_BYTES

from datafiles import LISTING


def _page_size(path) -> int:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("PRAGMA page_size").fetchone()[0]
    finally:
        connection.close()


def test_a_new_store_is_made_with_the_larger_page(tmp_path):
    with open_store(tmp_path / "store.db") as store:
        Ingester(store).ingest_paths([LISTING])
        items = store.item_count()
    assert _page_size(tmp_path / "store.db") == PAGE_BYTES == 16384
    assert items > 0


def test_a_store_made_with_4k_pages_keeps_them_and_ingests_the_same(tmp_path):
    old = tmp_path / "old.db"
    connection = sqlite3.connect(old)
    connection.execute("PRAGMA page_size = 4096")
    connection.execute("PRAGMA journal_mode = WAL")  # the file's first page is written: its page size is fixed
    connection.close()
    counts = {}
    for path in (old, tmp_path / "new.db"):
        with open_store(path) as store:
            Ingester(store).ingest_paths([LISTING])
            counts[path.name] = (store.item_count(), store.db.value("SELECT count(*) FROM daily_dates"),
                                 store.db.value("SELECT count(*) FROM item_authors"))
            assert store.check_integrity() == []
    assert _page_size(old) == 4096
    assert counts["old.db"] == counts["new.db"]
    assert counts["old.db"][0] > 0
