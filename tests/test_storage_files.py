"""SQLite's files: a new store gets ``PAGE_BYTES`` pages (a store made before keeps its own and goes on working), and
the write-ahead log does not stay at its largest size while connections stay open."""

from __future__ import annotations

import sqlite3

from paperfeed.ingest import Ingester
from paperfeed.storage import open_store
from paperfeed.storage import sqlite as sqlite_backend
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


def test_the_write_ahead_log_is_cut_back_once_copied_in_while_another_connection_stays_open(tmp_path, monkeypatch):
    # A running `paperfeed serve` keeps connections open, so SQLite never deletes the log; without a limit it kept
    # the size of the largest transaction (a whole-arXiv ingest: the store's size again) for as long as they stay.
    monkeypatch.setattr(sqlite_backend, "WAL_KEPT_BYTES", 64 * 1024)
    path = tmp_path / "store.db"
    wal = tmp_path / "store.db-wal"
    with open_store(path) as server, open_store(path) as ingest:
        assert server.item_count() == 0
        # Copied in at the commit once the log passes 10 pages (SQLite's default: 1,000, which a large file passes).
        ingest.db.connection.execute("PRAGMA wal_autocheckpoint = 10")
        Ingester(ingest).ingest_paths([LISTING])  # one file: one transaction, copied in when it commits
        after_ingest = wal.stat().st_size
        ingest.db.run("INSERT INTO app_state (name, value) VALUES ('a later write', '1')")
        after_next_write = wal.stat().st_size
        assert server.item_count() == ingest.item_count() > 0
    assert after_ingest > 1024 * 1024
    assert after_next_write <= 64 * 1024
