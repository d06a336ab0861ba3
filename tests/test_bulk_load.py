"""A large file into a small store: the indexes ingest never reads are dropped while it loads and built once
at its end, inside its own transaction (``storage.ingest_session.BULK_LOAD_MIN_ITEMS``, SQLite's
``BULK_DEFERRED_INDEXES``). The store ends exactly as an ingest without deferring leaves it; a failed file or a
kill -9 leaves every index as it was.

Thresholds are lowered so that a file of a few hundred real listing records is a bulk load.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from paperfeed import ingest as ingest_module
from paperfeed.ingest import Ingester
from paperfeed.storage import ingest_session as session_module
from paperfeed.storage import StoreError, open_store
from paperfeed.storage.sqlite import BULK_DEFERRED_INDEXES

from datafiles import HF_DAY, LIBRARY, LISTING


def listing_file(path: Path, count: int, first: int = 0) -> Path:
    """``count`` distinct real listing records (ids and titles made unique), one JSON Lines file."""
    seen, base = set(), []
    for line in LISTING.read_text(encoding="utf-8").split("\n"):
        if line.strip() and line not in seen:
            seen.add(line)
            base.append(json.loads(line))
    lines = []
    for number in range(first, first + count):
        record = dict(base[number % len(base)])
        record["id"] = f"2601.{number:05d}"
        record["title"] = f"{record['title']} ({number})"
        lines.append(json.dumps(record, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def indexes(db: Path) -> dict[str, str]:
    """Every index the store's file holds (committed), with its definition."""
    connection = sqlite3.connect(db)
    try:
        return dict(connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
    finally:
        connection.close()


def tables(db: Path) -> dict[str, list[tuple]]:
    """Every row of every table but the wall-clock columns and the migration log."""
    connection = sqlite3.connect(db)
    try:
        found = {}
        for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                          "AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name"):
            columns = [row[1] for row in connection.execute(f'PRAGMA table_info("{name}")')
                       if row[1] not in ("created_at", "updated_at", "seen_at", "applied_at", "added_at")]
            found[name] = sorted(connection.execute(f'SELECT {", ".join(columns)} FROM "{name}"'), key=repr)
        return found
    finally:
        connection.close()


def present(store, name: str = "item_authors_author") -> bool:
    """Whether the index exists as the ingesting connection sees it (its own transaction included)."""
    return store.db.row("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = $1", (name,)) is not None


@pytest.fixture
def small_bulk(monkeypatch):
    monkeypatch.setattr(ingest_module, "BATCH_SIZE", 50)
    monkeypatch.setattr(ingest_module, "STORED_WHOLE_BELOW_BYTES", 0)  # files streamed batch by batch
    monkeypatch.setattr(session_module, "BULK_LOAD_MIN_ITEMS", 100)


def test_a_large_file_into_a_small_store_builds_the_unread_indexes_once_and_ends_as_without(small_bulk, tmp_path,
                                                                                         monkeypatch):
    big = listing_file(tmp_path / "2026-01-05.jsonl", 400)
    later = listing_file(tmp_path / "2026-01-06.jsonl", 120, first=400)
    bulk_db, plain_db = tmp_path / "bulk.db", tmp_path / "plain.db"
    with open_store(bulk_db) as store:
        seen = []
        report = Ingester(store, on_records=lambda count: seen.append(present(store))).ingest_paths([LIBRARY, big])
        assert not report.failed
        # The library (7 items) is too small; the large file's indexes go once it has 100 new items, 2 batches.
        assert seen == [True, True] + [False] * 7
        assert present(store) and store.check_integrity() == []
        seen.clear()
        assert not Ingester(store, on_records=lambda count: seen.append(present(store))).ingest_paths([later]).failed
        assert seen == [True] * 3, "120 new items into 407 is no bulk load"
    monkeypatch.setattr(session_module, "BULK_LOAD_MIN_ITEMS", 10 ** 9)
    with open_store(plain_db) as store:
        assert not Ingester(store).ingest_paths([LIBRARY, big, later]).failed
    assert indexes(bulk_db) == indexes(plain_db)
    assert set(BULK_DEFERRED_INDEXES) <= set(indexes(bulk_db))
    assert tables(bulk_db) == tables(plain_db)


def test_a_bulk_file_that_fails_after_its_indexes_went_leaves_the_store_and_its_indexes_as_before(small_bulk,
                                                                                                   tmp_path):
    lines = listing_file(tmp_path / "whole.jsonl", 400).read_text(encoding="utf-8").splitlines()
    lines[350] = lines[350][:40]  # a line cut off, in the 8th batch: after the indexes were dropped
    bad = tmp_path / "2026-01-05.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db, reference = tmp_path / "store.db", tmp_path / "reference.db"
    with open_store(db) as store:
        seen = []
        report = Ingester(store, on_records=lambda count: seen.append(present(store))).ingest_paths(
            [LIBRARY, bad, LISTING])
        assert [result.failed for result in report.files] == [False, True, False]
        assert report.files[1].place == "line 351"
        assert False in seen and present(store), "the bulk file dropped them; its rollback brought them back"
        assert store.check_integrity() == []
    with open_store(reference) as store:
        assert not Ingester(store).ingest_paths([LIBRARY, LISTING]).failed
    assert indexes(db) == indexes(reference)
    assert tables(db) == tables(reference)


def test_postgres_defers_nothing(backend_url, small_bulk, tmp_path):
    # DROP INDEX there would lock the tables against every reader until the load commits.
    if backend_url.startswith("postgres"):
        with open_store(backend_url) as store:
            assert store._drop_deferred_indexes() == []
            report = Ingester(store).ingest_paths([listing_file(tmp_path / "2026-01-05.jsonl", 300)])
            assert not report.failed and store.item_count() == 300
    else:
        with open_store(backend_url) as store:
            Ingester(store).ingest_paths([listing_file(tmp_path / "2026-01-05.jsonl", 300)])
            assert store.item_count() == 300 and present(store)


CHILD = textwrap.dedent("""
    import sys
    from paperfeed import ingest as ingest_module
    from paperfeed.storage import ingest_session as session_module
    from paperfeed.storage import StoreError, open_store
    from paperfeed.ingest import Ingester
    ingest_module.BATCH_SIZE = 100
    ingest_module.COMMIT_EVERY = 200
    session_module.BULK_LOAD_MIN_ITEMS = 300
    mode, alone_from = sys.argv[2].split(":")
    slow = mode == "kill"
    with open_store(sys.argv[1]) as store:
        def batch_done(count):
            gone = store.db.row("SELECT 1 FROM sqlite_master WHERE name = 'item_authors_author'") is None
            if gone and slow:
                print("dropped", store.db.value("PRAGMA journal_mode"), flush=True)
                import time
                time.sleep(60)
        ingester = Ingester(store, on_records=batch_done)
        ingester.alone_from_bytes = int(alone_from)
        ingester.ingest_paths(sys.argv[3:])
    print("done", flush=True)
""")


@pytest.mark.slow
@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_kill_9_during_a_bulk_load_leaves_its_indexes_and_a_rerun_gives_the_uninterrupted_store(tmp_path, journal):
    # "delete": the large file goes in with the store held alone (a rollback journal, ``SQLiteStore._hold_alone``),
    # which the kill leaves behind hot; the next opening plays it back.
    first = listing_file(tmp_path / "2026-01-04.jsonl", 250, first=5000)
    big = listing_file(tmp_path / "2026-01-05.jsonl", 2500)  # larger than the store the first leaves (2.7 MB)
    killed, whole = tmp_path / "killed.db", tmp_path / "whole.db"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    alone_from = big.stat().st_size if journal == "delete" else 0

    def child(db: Path, mode: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", CHILD, str(db), f"{mode}:{alone_from}", str(first), str(big)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    process = child(killed, "kill")
    try:
        assert process.stdout.readline().strip() == f"dropped {journal}", process.stderr.read()
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    assert Path(f"{killed}-journal").exists() == (journal == "delete")
    reference = child(whole, "whole")
    out, err = reference.communicate(timeout=300)
    assert reference.returncode == 0 and out.strip() == "done", err

    # The kill came while the large file's transaction had its indexes dropped: the store has them all.
    assert set(BULK_DEFERRED_INDEXES) <= set(indexes(killed)) and indexes(killed) == indexes(whole)
    with open_store(killed) as store:
        assert store.check_integrity() == []
        assert store.item_count() == 250  # the first file, committed; nothing of the second
    rerun = child(killed, "whole")
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0 and out.strip() == "done", err
    assert indexes(killed) == indexes(whole)
    assert tables(killed) == tables(whole)


def loose_holders_by_join(store, keys: list[int]) -> dict[int, list[int]]:
    """The definition the title-key lookup of arXiv records keeps: holders of ``keys`` without an arXiv id."""
    expected: dict[int, list[int]] = {}
    for key, item_id in store.read_rows("SELECT b.key, b.item_id FROM block_keys b JOIN items i ON i.id = b.item_id "
                                        "WHERE i.arxiv_id IS NULL ORDER BY b.key, b.item_id"):
        if key in keys:
            expected.setdefault(key, []).append(item_id)
    return expected


def journal_titles(path: Path, titles: list[str]) -> Path:
    """A BibTeX file of journal articles without arXiv ids (loose items), one per title."""
    path.write_text("".join(f"@article{{loose{number},\n  title = {{{title}}},\n  author = {{Doe, Jane}},\n"
                            f"  journal = {{Journal of Tests}},\n  year = {{2019}}\n}}\n\n"
                            for number, title in enumerate(titles)), encoding="utf-8")
    return path


def test_the_title_key_lookup_of_arxiv_records_finds_exactly_the_holders_without_an_arxiv_id(store, tmp_path):
    # Two ways, by how many loose items (no arXiv id) the store has against the keys asked: through the loose
    # items' own keys when they are fewer, else through each key's holders and the arxiv_id index's NULL
    # entries. Both must give what the join gives.
    words = "sparse graph attention kernel diffusion quantum robust federated causal spectral".split()
    loose_file = journal_titles(tmp_path / "journal.bib", [f"A Study of {a.title()} and {b.title()} Methods"
                                                           for a in words for b in words if a < b][:30])
    Ingester(store).ingest_paths([LIBRARY, HF_DAY, LISTING, loose_file])
    keys = [row[0] for row in store.read_rows("SELECT DISTINCT key FROM block_keys ORDER BY key")]
    loose = store.read_rows("SELECT count(*) FROM items WHERE arxiv_id IS NULL")[0][0]
    loose_keys = [row[0] for row in store.read_rows(
        "SELECT DISTINCT b.key FROM block_keys b JOIN items i ON i.id = b.item_id WHERE i.arxiv_id IS NULL "
        "ORDER BY b.key")]
    few = loose_keys[: max(1, loose // 4)] + keys[:3]  # fewer keys than loose items: the holders' way
    assert len(keys) > loose > len(few), (len(keys), loose, len(few))
    with store.ingest_session() as session:
        for asked in (keys, few):
            found = session.items_by_block_key(asked, without_arxiv_id=True)
            expected = loose_holders_by_join(store, set(asked))
            assert expected and {key: sorted(ids) for key, ids in found.items()} == expected
        every = session.items_by_block_key(keys)
        assert session.items_by_block_key([], without_arxiv_id=True) == {}
    assert sum(map(len, every.values())) > sum(map(len, found.values())), "arXiv items hold keys too"


def test_arxiv_records_read_no_title_keys_from_a_store_without_items_lacking_an_arxiv_id(store):
    Ingester(store).ingest_paths([LISTING])
    keys = [row[0] for row in store.read_rows("SELECT DISTINCT key FROM block_keys")]
    assert keys and store.read_rows("SELECT count(*) FROM items WHERE arxiv_id IS NULL")[0][0] == 0
    with store.ingest_session() as session:
        assert session.items_by_block_key(keys, without_arxiv_id=True) == {}
        assert session.items_by_block_key(keys)  # every holder, asked for: the arXiv items'


# -- a load larger than the store, with the store held alone (``SQLiteStore._hold_alone``) ------------------------


def journal_modes(store, seen: list[str]):
    """An ``on_records`` callback noting the journal the ingesting connection writes with, batch by batch."""
    return lambda count: seen.append(store.db.value("PRAGMA journal_mode"))


def references_checked(store, seen: list[int]):
    """An ``on_records`` callback noting whether SQLite enforces the foreign keys, batch by batch."""
    return lambda count: seen.append(store.db.value("PRAGMA foreign_keys"))


def test_a_file_larger_than_the_store_is_loaded_alone_with_a_rollback_journal_and_ends_as_through_the_wal(tmp_path):
    small = listing_file(tmp_path / "2026-01-04.jsonl", 40, first=5000)
    big = listing_file(tmp_path / "2026-01-05.jsonl", 1500)  # 2.6 MB; the store is 1.7 MB before it
    later = listing_file(tmp_path / "2026-01-06.jsonl", 30, first=1500)
    alone_db, wal_db = tmp_path / "alone.db", tmp_path / "wal.db"
    with open_store(alone_db) as store:
        seen: list[str] = []
        checked: list[int] = []
        journal, references = journal_modes(store, seen), references_checked(store, checked)
        ingester = Ingester(store, on_records=lambda count: (journal(count), references(count)))
        ingester.alone_from_bytes = big.stat().st_size
        assert not ingester.ingest_paths([small, big, later]).failed
        # The small file before it goes through the WAL (and commits first); the large file and what follows it
        # in the same run are written with the rollback journal and no foreign key lookups; the store is in WAL
        # mode again at the end, its foreign keys enforced.
        assert seen == ["wal", "delete", "delete"]  # (a batch is 2,000 records)
        assert checked == [1, 0, 0]
        assert store.db.value("PRAGMA journal_mode") == "wal" and store.db.value("PRAGMA foreign_keys") == 1
        assert store.check_integrity() == []
    assert not Path(f"{alone_db}-journal").exists()
    with open_store(wal_db) as store:
        ingester = Ingester(store)
        ingester.alone_from_bytes = 0
        assert not ingester.ingest_paths([small, big, later]).failed
    assert tables(alone_db) == tables(wal_db)
    assert indexes(alone_db) == indexes(wal_db)


def test_a_run_of_small_files_larger_than_the_store_is_held_alone_from_the_file_that_reaches_the_setting(tmp_path):
    # A first load of many small files (a year of daily listings) is as much a bulk load as one large file.
    days = [listing_file(tmp_path / f"2026-01-{day + 10:02d}.jsonl", 500, first=500 * day) for day in range(6)]
    alone_db, wal_db = tmp_path / "alone.db", tmp_path / "wal.db"
    with open_store(alone_db) as store:
        assert sum(day.stat().st_size for day in days[:3]) > store._size_bytes()  # 0.9 MB a file
        seen: list[str] = []
        checked: list[int] = []
        journal, references = journal_modes(store, seen), references_checked(store, checked)
        ingester = Ingester(store, on_records=lambda count: (journal(count), references(count)))
        ingester.alone_from_bytes = sum(day.stat().st_size for day in days[:3])
        assert not ingester.ingest_paths(days).failed
        # A batch a file: the first two through the WAL; from the third, whose bytes reach the setting, held alone.
        assert seen == ["wal", "wal", "delete", "delete", "delete", "delete"]
        assert checked == [1, 1, 0, 0, 0, 0]
        assert store.db.value("PRAGMA journal_mode") == "wal" and store.db.value("PRAGMA foreign_keys") == 1
        assert store.check_integrity() == []

        # The store is now larger than another such run: that run goes through the WAL.
        more = [listing_file(tmp_path / f"2026-02-{day + 10:02d}.jsonl", 500, first=5000 + 500 * day)
                for day in range(2)]
        seen.clear()
        ingester.alone_from_bytes = 1
        assert not ingester.ingest_paths(more).failed
        assert seen == ["wal", "wal"]
    assert not Path(f"{alone_db}-journal").exists()
    with open_store(wal_db) as store:
        ingester = Ingester(store)
        ingester.alone_from_bytes = 0
        assert not ingester.ingest_paths(days).failed
        assert not ingester.ingest_paths(more).failed
    assert tables(alone_db) == tables(wal_db)
    assert indexes(alone_db) == indexes(wal_db)


def test_a_store_another_connection_has_open_keeps_its_wal_and_stays_readable_during_a_large_load(tmp_path):
    db = tmp_path / "store.db"
    big = listing_file(tmp_path / "2026-01-05.jsonl", 300)
    with open_store(db) as store, open_store(db) as reader:
        assert reader.item_count() == 0
        seen: list[str] = []
        counts: list[int] = []

        def batch_done(count):
            seen.append(store.db.value("PRAGMA journal_mode"))
            counts.append(reader.item_count())  # the reader is never locked out: it sees the last commit

        ingester = Ingester(store, on_records=batch_done)
        ingester.alone_from_bytes = 1
        assert not ingester.ingest_paths([big]).failed
        assert set(seen) == {"wal"} and set(counts) == {0} and reader.item_count() == 300


def test_a_process_opening_a_store_held_alone_is_told_why_it_waits_and_the_load_completes(tmp_path):
    db = tmp_path / "store.db"
    big = listing_file(tmp_path / "2026-01-05.jsonl", 1500)
    errors: list[str] = []
    with open_store(db) as store:
        def batch_done(count):
            if not errors:
                try:
                    open_store(db).close()
                except StoreError as error:
                    errors.append(str(error))

        ingester = Ingester(store, on_records=batch_done)
        ingester.alone_from_bytes = 1
        assert not ingester.ingest_paths([big]).failed
    assert errors and errors[0].startswith(f"cannot open SQLite store {db}: database is locked by another process")
    assert "holds it alone until the load is stored" in errors[0]
    with open_store(db) as store:
        assert store.item_count() == 1500 and store.db.value("PRAGMA journal_mode") == "wal"


def test_a_failed_large_file_loaded_alone_leaves_the_store_as_before_and_the_run_goes_on(small_bulk, tmp_path):
    lines = listing_file(tmp_path / "whole.jsonl", 1200).read_text(encoding="utf-8").splitlines()
    lines[1150] = lines[1150][:40]  # after its indexes went too
    bad = tmp_path / "2026-01-05.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db, reference = tmp_path / "store.db", tmp_path / "reference.db"
    with open_store(db) as store:
        seen: list[str] = []
        ingester = Ingester(store, on_records=journal_modes(store, seen))
        ingester.alone_from_bytes = bad.stat().st_size
        report = ingester.ingest_paths([LIBRARY, bad, LISTING])
        assert [result.failed for result in report.files] == [False, True, False]
        assert "delete" in seen and store.db.value("PRAGMA journal_mode") == "wal"
        assert store.check_integrity() == []
    with open_store(reference) as store:
        assert not Ingester(store).ingest_paths([LIBRARY, LISTING]).failed
    assert tables(db) == tables(reference)


def test_a_store_lets_sqlite_sort_with_helper_threads_on_a_machine_of_several_cores(tmp_path):
    # The index builds at a bulk load's end sort tens of millions of rows (see SORT_HELPER_THREADS).
    from paperfeed.storage.sqlite import SORT_HELPER_THREADS

    with open_store(tmp_path / "s.db") as store:
        assert store.db.value("PRAGMA threads") == SORT_HELPER_THREADS
    assert SORT_HELPER_THREADS == (min(3, os.cpu_count() - 1) if os.cpu_count() else 0)


# -- foreign keys while the store is held alone: the one delete of an ingest cascades by hand ----------------------


def generic_file(path: Path, count: int, *extra: dict) -> Path:
    """``count`` generic JSON Lines records of distinct arXiv ids with long abstracts (a file larger than a new
    store), then ``extra``."""
    words = LISTING.read_text(encoding="utf-8").split()
    records = [{"id": f"2601.{n:05d}", "arxiv_id": f"2601.{n:05d}", "title": " ".join(words[n:n + 9]) + f" {n}",
                "authors": ["Ada Lovelace", f"Author {n % 97}"], "abstract": " ".join(words[n:n + 300]),
                "published": "2026-01-05"} for n in range(count)]
    path.write_text("".join(json.dumps(record) + "\n" for record in [*records, *extra]), encoding="utf-8")
    return path


def two_versions_apart(store, tmp_path: Path) -> tuple[int, int]:
    """A preprint and, under another title, its published version with a reader's library entry (tagged),
    vote, submission and comment: two items until a record names both."""
    (tmp_path / "preprint.jsonl").write_text(json.dumps(
        {"id": "2401.00001", "arxiv_id": "2401.00001", "title": "Sparse attention for very large graphs",
         "authors": ["Ada Lovelace", "Alan Turing"], "abstract": "About graphs.", "published": "2024-03-01"}) + "\n",
        encoding="utf-8")
    (tmp_path / "journal.bib").write_text(
        "@article{lovelace24,\n  title = {Attention that scales to huge graphs},\n  author = {Lovelace, Ada and "
        "Turing, Alan},\n  journal = {Journal of Graph Learning},\n  year = {2024},\n  doi = {10.1145/3000001},\n}\n",
        encoding="utf-8")
    assert not Ingester(store).ingest_paths([tmp_path / "preprint.jsonl", tmp_path / "journal.bib"]).failed
    preprint, published = store.find_item("2401.00001"), store.find_item("10.1145/3000001")
    from paperfeed.library import save_item
    with store.db.transaction():
        user = store.create_user("reader@example.org", "x")
    save_item(store, user, str(published), ["graphs"])
    with store.db.transaction():
        store.db.run("INSERT INTO votes (item_id, user_id, voted_at) VALUES ($1, $2, '2024-01-01')", (published, user))
        store.db.run("INSERT INTO submissions (item_id, day, user_id, submitted_at) VALUES ($1, '2024-03-01', $2, "
                     "'2024-03-01')", (published, user))
    store.add_comment(published, user, "Nice.", "<p>Nice.</p>", 1)
    return preprint, published


def test_a_bridge_in_a_load_held_alone_ends_as_through_the_wal(tmp_path):
    # A record of the large file names the preprint's arXiv id and the published version's DOI: the items join and
    # the published one is deleted, its leftover rows by hand (foreign keys are not enforced during that load).
    bridge = {"id": "2401.00001", "arxiv_id": "2401.00001", "doi": "10.1145/3000001",
              "title": "Sparse attention for very large graphs (v2)", "authors": ["Ada Lovelace", "Alan Turing"],
              "abstract": "About graphs.", "published": "2024-03-01"}
    big = generic_file(tmp_path / "big.jsonl", 1200, bridge)
    stores = {}
    for name, alone_from in (("alone", big.stat().st_size), ("wal", 0)):
        stores[name] = db = tmp_path / f"{name}.db"
        with open_store(db) as store:
            preprint, published = two_versions_apart(store, tmp_path)
            checked: list[int] = []
            ingester = Ingester(store, on_records=references_checked(store, checked))
            ingester.alone_from_bytes = alone_from
            report = ingester.ingest_paths([big])
            assert not report.failed and report.files[0].joined == [published]
            assert checked == ([0] if name == "alone" else [1])
            assert store.item(published) is None and store.find_item("10.1145/3000001") == preprint
            assert store.check_integrity() == []  # PRAGMA foreign_key_check among it
    alone, wal = tables(stores["alone"]), tables(stores["wal"])
    assert {name for name in alone if alone[name] != wal[name]} == set()


def test_a_delete_cascaded_by_hand_leaves_what_sqlites_own_cascade_leaves(tmp_path):
    # Every referring table, a reference of two columns (library_tags to library) and SET NULL (a deleted user's
    # submissions and hidden comments): by hand with enforcement off, against SQLite's own with it on.
    source = tmp_path / "source.db"
    with open_store(source) as store:
        preprint, published = two_versions_apart(store, tmp_path)
        user = store.db.value("SELECT id FROM users")
        store.hide_comment(store.db.value("SELECT id FROM comments"), user)
        assert store.db.value("SELECT count(*) FROM library_tags") == 1
    cases = [("items", published), ("items", preprint), ("users", user)]
    for table, row_id in cases:
        results = []
        for by_hand in (False, True):
            db = tmp_path / f"{table}-{row_id}-{by_hand}.db"
            db.write_bytes(source.read_bytes())
            with open_store(db) as store:
                if by_hand:
                    store._db.execute("PRAGMA foreign_keys = OFF")
                with store.db.transaction():
                    if table == "items":
                        store._delete_item(row_id)
                    elif by_hand:
                        store._delete_cascading("users", "id = ?1", (row_id,))
                    else:
                        store.db.run("DELETE FROM users WHERE id = $1", (row_id,))
                store._db.execute("PRAGMA foreign_keys = ON")
                assert store.check_integrity() == []
            results.append(tables(db))
        assert results[0] == results[1], (table, row_id)
        assert results[0] != tables(source)


def test_a_delete_that_a_reference_forbids_fails_by_hand_too(tmp_path):
    with open_store(tmp_path / "store.db") as store:
        assert not Ingester(store).ingest_paths([LIBRARY]).failed
        author = store.db.value("SELECT author_id FROM item_authors LIMIT 1")  # item_authors -> authors: NO ACTION
        store._db.execute("PRAGMA foreign_keys = OFF")
        with pytest.raises(sqlite3.IntegrityError, match="item_authors refers to authors"):
            with store.db.transaction():
                store._delete_cascading("authors", "id = ?1", (author,))
        assert store.db.value("SELECT count(*) FROM authors WHERE id = $1", (author,)) == 1


def test_deferred_indexes_are_built_with_a_small_cache_and_the_load_gets_its_own_back(tmp_path, monkeypatch):
    # The sorter works beside the caller only when a run outgrows the page cache (SORTING_CACHE_KB while building).
    from paperfeed.storage import Store
    from paperfeed.storage.sqlite import SORTING_CACHE_KB
    with open_store(tmp_path / "store.db") as store:
        assert not Ingester(store).ingest_paths([LIBRARY]).failed
        before = indexes(tmp_path / "store.db")
        seen: list[int] = []
        build = Store._build_deferred_indexes  # the shared one, which runs the statements

        def noting(self, statements):
            seen.append(self.db.value("PRAGMA cache_size"))
            build(self, statements)

        monkeypatch.setattr(Store, "_build_deferred_indexes", noting)
        with store.write_group(100):  # an ingest's transaction, with its page cache of 100 MB
            statements = store._drop_deferred_indexes()
            assert statements and not present(store)
            store._build_deferred_indexes(statements)
            assert seen == [-SORTING_CACHE_KB] and store.db.value("PRAGMA cache_size") == -100 * 1024
        assert indexes(tmp_path / "store.db") == before
