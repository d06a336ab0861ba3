"""``paperfeed copy`` and ``paperfeed migrate``: a whole store moved between backends without loss.

The source is a SQLite store of the real test inputs with every storage area in use (search vectors, a
trained tagger, sources, accounts, libraries, votes, submissions, subscribers, the daily calendar). It is
copied to PostgreSQL and back to a new SQLite file, and the copies are compared with it table by table with
plain SQL of their own, not through the code under test.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from paperfeed.cli import cli
from paperfeed.ingest import Ingester
from paperfeed.library.accounts import Accounts
from paperfeed.library.shelf import save_item
from paperfeed.storage import open_store
from paperfeed.storage import copy_tables
from paperfeed.storage.copy import CopyMismatch, CopyRefused, copy_store
from paperfeed.storage import SourceRow

from datafiles import DATA, HF_DAY, LIBRARY, LISTING

# As tests/test_postgres.py: inputs that merge, carry topics and news, and come in every format.
INPUTS = [LISTING, DATA / "hf", LIBRARY, DATA / "arxiv_api", DATA / "oai", DATA / "captures"]
# Kept by each store for itself (its own migration log) or re-made by triggers (the search change log).
NOT_COMPARED = {"schema_migrations", "search_changes"}


def run(*args, **env: str):
    return CliRunner().invoke(cli, [str(arg) for arg in args], env={"CI": "1", **env}, catch_exceptions=False)


@pytest.fixture(scope="module")
def source_db(tmp_path_factory) -> Path:
    """A SQLite store with rows in every area (built once; tests only read it)."""
    db = tmp_path_factory.mktemp("copy-source") / "source.db"
    with open_store(db) as store:
        Ingester(store).ingest_paths(INPUTS)
    assert run("--db", db, "topics", "tag").exit_code == 0  # tagger models (blobs), tags, identities
    assert run("--db", db, "index").exit_code == 0  # the search index and item vectors (blobs)
    with open_store(db) as store:
        store.add_source(SourceRow(name="ml", kind="arxiv", options={"categories": ["cs.LG"]},
                                   created_at="2026-02-27T00:00:00+00:00"))
        store.save_cursor("ml", {"pending": ["2602.00001"]})
        accounts = Accounts(store)
        alice = accounts.create("alice@example.org", "correct horse battery")
        bob = accounts.create("Bob@Example.org", "staple battery horse")
        accounts.sign_in("alice@example.org", "correct horse battery")
        items = [item["id"] for item in store.iter_items()][:6]
        save_item(store, alice, str(items[0]), ["reading-group", "rl"])
        save_item(store, bob, str(items[1]), ["later"])
        store.set_library_state(bob, items[2], "not_relevant")
        store.set_vote(alice, items[3], True)
        store.set_vote(bob, items[3], True)
        store.add_submission(items[4], "2026-02-27", alice)
        store.add_submission(items[5], "2026-02-27", None)
        subscriber = store.add_subscriber("carol@example.org", None)
        store.set_subscriber_status(subscriber.id, "active")
        assert store.begin_digest(subscriber.id, "2026-02-27", "<1@paperfeed>")
        store.finish_digest(subscriber.id, "2026-02-27", True)
        store.app_secret("digest", lambda: "0123456789abcdef")
        store.count_hit("login:192.0.2.7", 1_772_150_400, 1_772_150_340)
        store.refresh_daily_dates()
    return db


def sqlite_tables(db: Path) -> dict[str, list[tuple]]:
    """Every table's rows, sorted, read with the standard library."""
    connection = sqlite3.connect(db)
    try:
        names = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {name: sorted(connection.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr)
                for name in names if name not in NOT_COMPARED}
    finally:
        connection.close()


def postgres_tables(url: str, like: dict[str, list[tuple]], sqlite_db: Path) -> dict[str, list[tuple]]:
    """The same tables read from PostgreSQL by the SQLite columns' names, booleans as 0/1."""
    columns = {}
    connection = sqlite3.connect(sqlite_db)
    for name in like:
        columns[name] = [row[1] for row in connection.execute(f'PRAGMA table_info("{name}")')]
    connection.close()
    tables = {}
    with psycopg.connect(url) as conn:
        for name, names in columns.items():
            rows = conn.execute(f"SELECT {', '.join(names)} FROM {name}").fetchall()
            tables[name] = sorted((tuple(int(v) if isinstance(v, bool) else v for v in row) for row in rows), key=repr)
    return tables


def checksum_line(output: str) -> tuple[str, str]:
    line = next(line for line in output.splitlines() if line.startswith("export checksum"))
    source, _, destination = line.split(": ", 1)[1].partition(" -> ")
    return source, destination


def export_of(url) -> list[dict]:
    with open_store(url) as store:
        return list(store.iter_items())


# -- SQLite -> PostgreSQL -> SQLite -------------------------------------------------------------------


@pytest.mark.postgres
def test_a_store_copied_to_postgresql_and_back_is_identical(source_db, pg_url, tmp_path):
    original = sqlite_tables(source_db)
    assert all(original[name] for name in ("items", "item_vectors", "tagger_models", "library_tags", "votes",
                                           "submissions", "digest_log", "daily_dates", "sources", "sessions",
                                           "predicted_categories", "item_tag_state", "app_state", "rate_limits",
                                           "author_identities", "subscribers"))

    there = run("copy", "--from", source_db, "--to", pg_url)
    assert there.exit_code == 0, there.output
    # Indexed there: PostgreSQL's full-text rows are its own index, rebuilt by a destination, never copied.
    indexed = run("--db", pg_url, "index", "--no-vectors", PAPERFEED_INDEX_DIR=str(tmp_path / "index"))
    assert indexed.exit_code == 0, indexed.output
    found = run("--db", pg_url, "search", "--mode", "keyword", "--json", "language models",
                PAPERFEED_INDEX_DIR=str(tmp_path / "index"))
    assert found.exit_code == 0 and json.loads(found.stdout), found.output
    back_db = tmp_path / "back.db"
    back = run("copy", "--from", pg_url, "--to", back_db)
    assert back.exit_code == 0, back.output

    # Every table, row for row, on PostgreSQL and after the way back.
    assert postgres_tables(pg_url, original, source_db) == original
    assert sqlite_tables(back_db) == original
    # The printed checks agree, and with one computed here from the export.
    first, second = checksum_line(there.output), checksum_line(back.output)
    assert first[0] == first[1] == second[0] == second[1]
    assert export_of(pg_url) == export_of(back_db) == export_of(source_db)
    assert "verified" in there.output and "items: 522 -> 522" in there.output
    with open_store(source_db) as store:
        expected = store.stats()
    for url in (pg_url, back_db):
        with open_store(url) as store:
            assert store.stats() == expected
            assert store.check_integrity() == []
            # The search change log was re-made by the destination's triggers: every item is due for indexing.
            assert store.pending_search_changes(0) == expected["items"]


@pytest.mark.postgres
def test_a_postgresql_store_copies_to_another_postgresql_database(source_db, pg_url, pg_server):
    assert run("copy", "--from", source_db, "--to", pg_url).exit_code == 0
    other = pg_server.create_database("paperfeed_copy_target")
    done = run("copy", "--from", pg_url, "--to", other)
    assert done.exit_code == 0, done.output
    original = sqlite_tables(source_db)
    assert postgres_tables(other, original, source_db) == original
    assert export_of(other) == export_of(source_db)


@pytest.mark.postgres
def test_the_areas_read_the_same_through_the_store_on_postgresql(source_db, pg_url):
    assert run("copy", "--from", source_db, "--to", pg_url).exit_code == 0
    with open_store(source_db) as mine, open_store(pg_url) as theirs:
        alice = mine.user_by_email("ALICE@example.org")
        assert theirs.user_by_email("ALICE@example.org") == alice
        assert theirs.library_entries(alice.id) == mine.library_entries(alice.id)
        assert theirs.library_tags(alice.id) == mine.library_tags(alice.id)
        assert theirs.sources() == mine.sources()
        assert theirs.load_model("topics") == mine.load_model("topics")
        assert theirs.topics() == mine.topics()
        assert theirs.subscribers() == mine.subscribers()
        assert theirs.latest_daily_day() == mine.latest_daily_day()
        ids = [item["id"] for item in mine.iter_items()]
        assert theirs.local_upvotes(ids) == mine.local_upvotes(ids)
        assert theirs.item_vectors("wordllama", ids) == mine.item_vectors("wordllama", ids)


@pytest.mark.postgres
def test_new_rows_in_the_copied_postgresql_store_get_fresh_ids(source_db, pg_url):
    assert run("copy", "--from", source_db, "--to", pg_url).exit_code == 0
    with open_store(pg_url) as store:
        copied = {item["id"] for item in store.iter_items()}
        top_user = store.read_rows("SELECT max(id) FROM users")[0][0]
    done = run("--db", pg_url, "ingest", "--no-index", DATA / "news" / "guardian_us_2018-01-31.rss")
    assert done.exit_code == 0, done.output
    with open_store(pg_url) as store:
        new_ids = {item["id"] for item in store.iter_items()} - copied
        assert new_ids and min(new_ids) > max(copied)
        assert Accounts(store).create("dave@example.org", "a long enough password") == top_user + 1
        assert store.check_integrity() == []


# -- refusals ---------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_a_non_empty_postgresql_destination_is_refused_and_left_untouched(source_db, pg_url):
    with open_store(pg_url) as store:
        Ingester(store).ingest_paths([HF_DAY])
        before = list(store.iter_items())
    done = run("copy", "--from", source_db, "--to", pg_url)
    assert done.exit_code == 2
    assert "is not empty" in done.output and "daily_dates 13 rows" in done.output  # the ingest dated its 13 items
    assert "Traceback" not in done.output
    assert export_of(pg_url) == before


def test_a_non_empty_sqlite_destination_is_refused_and_left_untouched(source_db, tmp_path):
    target = tmp_path / "used.db"
    with open_store(target) as store:
        Ingester(store).ingest_paths([LIBRARY])
    before = sqlite_tables(target)
    with pytest.raises(CopyRefused, match="is not empty"):
        copy_store(str(source_db), str(target))
    assert sqlite_tables(target) == before


def test_a_missing_source_the_same_store_and_pending_migrations_are_refused(source_db, tmp_path):
    missing = run("copy", "--from", tmp_path / "nothing.db", "--to", tmp_path / "new.db")
    assert missing.exit_code == 2 and "no store at" in missing.output
    assert not (tmp_path / "nothing.db").exists()
    same = run("copy", "--from", source_db, "--to", f"sqlite:///{source_db}")
    assert same.exit_code == 2 and "the same store" in same.output
    old = tmp_path / "old.db"
    with open_store(old, migrate=False) as store:
        store.applied_migrations()  # an empty migration log: every migration pending
    pending = run("copy", "--from", old, "--to", tmp_path / "new.db")
    assert pending.exit_code == 2 and f"paperfeed --db sqlite:///{old} migrate" in pending.output


def test_tables_or_columns_on_one_side_only_are_named(source_db, tmp_path):
    extra = tmp_path / "extra.db"
    assert copy_store(str(source_db), str(extra)).rows > 0
    with sqlite3.connect(extra) as connection:
        connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        connection.execute("INSERT INTO notes (text) VALUES ('kept nowhere')")
    with pytest.raises(CopyRefused, match=r"tables only in the source \(SQLite\): notes"):
        copy_store(str(extra), str(tmp_path / "a.db"))
    with sqlite3.connect(extra) as connection:
        connection.execute("DROP TABLE notes")
        connection.execute("ALTER TABLE users ADD COLUMN nickname TEXT")
    with pytest.raises(CopyRefused, match=r"users\.nickname \(source only\)"):
        copy_store(str(extra), str(tmp_path / "b.db"))


def test_a_copy_that_does_not_read_back_is_rolled_back(source_db, tmp_path, monkeypatch):
    write = copy_tables.SQLiteTables.write

    def lose_a_vote(self, table, columns, rows):
        write(self, table, columns, rows[1:] if table.name == "votes" else rows)

    monkeypatch.setattr(copy_tables.SQLiteTables, "write", lose_a_vote)
    target = tmp_path / "lossy.db"
    with pytest.raises(CopyMismatch, match=r"votes \(2 rows read, 1 stored\)"):
        copy_store(str(source_db), str(target))
    assert all(not rows for rows in sqlite_tables(target).values())  # nothing kept


def test_a_sqlite_copy_is_searchable_once_indexed(source_db, tmp_path):
    target = tmp_path / "copy.db"
    assert run("copy", "--from", source_db, "--to", target).exit_code == 0
    assert run("--db", target, "index", "--no-vectors").exit_code == 0
    query = ("search", "--mode", "keyword", "--json", "language models")
    found = run("--db", target, *query)
    assert found.exit_code == 0 and "behind" not in found.output
    assert json.loads(found.stdout) == json.loads(run("--db", source_db, *query).stdout) != []


# -- migrate ----------------------------------------------------------------------------------------


def test_migrate_check_lists_pending_migrations_and_migrate_applies_them(backend_url):
    with open_store(backend_url, migrate=False) as store:
        known = store.known_migrations()
    check = run("migrate", "--db", backend_url, "--check")
    assert check.exit_code == 1
    assert [line[len("pending: "):] for line in check.output.splitlines() if line.startswith("pending: ")] == known
    with open_store(backend_url, migrate=False) as store:
        assert store.applied_migrations() == []  # --check applied nothing
    applied = run("--db", backend_url, "migrate")
    assert applied.exit_code == 0, applied.output
    assert [line[len("applied: "):] for line in applied.output.splitlines() if line.startswith("applied: ")] == known
    assert run("--db", backend_url, "migrate", "--dry-run").exit_code == 0
    again = run("--db", backend_url, "migrate")
    assert again.exit_code == 0 and "up to date: nothing to apply" in again.output


def test_migrate_refuses_a_store_of_a_newer_paperfeed_in_one_line(backend_url):
    with open_store(backend_url) as store:
        store.read_rows("SELECT 1")
    if backend_url.startswith("postgresql://"):
        with psycopg.connect(backend_url, autocommit=True) as conn:
            conn.execute("INSERT INTO schema_migrations (name, applied_at) VALUES ('9999_future', 'now')")
    else:
        with sqlite3.connect(backend_url) as connection:
            connection.execute("INSERT INTO schema_migrations (name, applied_at) VALUES ('9999_future', 'now')")
    for args in (["migrate"], ["migrate", "--check"]):
        done = run("--db", backend_url, *args)
        assert done.exit_code == 1 and "newer paperfeed" in done.output and "Traceback" not in done.output
