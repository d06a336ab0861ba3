"""``run_many`` sends a plain insert many rows a statement on both backends: the same rows and errors as one
statement per row; PostgreSQL's upserts still go row by row; a load analyzes its tables as they grow."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from paperfeed.ingest import Ingester
from paperfeed.storage import open_store, postgres
from paperfeed.storage.sql import ROWS_PER_INSERT, insert_shape

TABLES = ("CREATE TABLE dated (record_id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL, "
          "kind TEXT NOT NULL CHECK (kind IN ('picked', 'announced', 'published')), day TEXT NOT NULL, note TEXT)",
          "CREATE TABLE counts (name TEXT PRIMARY KEY, total INTEGER NOT NULL, last TEXT)")


@pytest.fixture
def db(store):
    for statement in TABLES:
        store.db.run(statement)
    return store.db


def _row_by_row(db, sql: str, rows: list[tuple]) -> None:
    for row in rows:
        db.run(sql, row)


def _table(db, name: str) -> list[tuple]:
    return [tuple(row) for row in db.rows(f"SELECT * FROM {name} ORDER BY 1")]


def test_a_plain_insert_writes_what_one_statement_a_row_writes(db):
    # More rows than a statement takes (256, then 128, 64… for the rest), keys repeated inside one statement and
    # across them (skipped, as row by row), a literal with a placeholder's spelling and a value used twice.
    rows = [(n % 300 + 1, n, "picked" if n % 3 else "published") for n in range(2 * ROWS_PER_INSERT + 77)]
    sql = ("INSERT INTO dated (record_id, item_id, kind, day, note) VALUES ($1, $2, $3, $3, 'a $1 ?1') "
           "ON CONFLICT DO NOTHING")
    assert insert_shape(sql, "$", upserts=False) is not None
    db.run_many(sql, rows)
    many = _table(db, "dated")
    db.run("DELETE FROM dated")
    _row_by_row(db, sql, rows)
    assert many == _table(db, "dated")
    assert len(many) == 300 and many[0][:4] == (1, 0, "published", "published")
    assert {row[4] for row in many} == {many[0][4]}  # the literal, not a row's value (SQLite's reads "a ?1 ?1")


def test_an_upsert_meeting_its_own_rows_counts_each(db):
    # PostgreSQL refuses to update one row twice in one statement: such an insert goes row by row there.
    rows = [(name, n, str(n)) for n in range(ROWS_PER_INSERT + 20) for name in "abc"]
    sql = ("INSERT INTO counts (name, total, last) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE "
           "SET total = counts.total + excluded.total, last = excluded.last")
    assert insert_shape(sql, "$") is not None and insert_shape(sql, "$", upserts=False) is None
    db.run_many(sql, rows)
    total = sum(range(ROWS_PER_INSERT + 20))
    assert _table(db, "counts") == [(name, total, str(ROWS_PER_INSERT + 19)) for name in "abc"]


def test_a_bad_row_fails_the_whole_batch(db, store):
    rows = [(n, 1, "picked", "2026-01-01", None) for n in range(1, 600)]
    sql = "INSERT INTO dated VALUES ($1, $2, $3, $4, $5)"
    # A CHECK constraint, then a row of the wrong size: each the driver's own error, as one statement a row gives.
    for bad, message in (((999, 1, "bogus", "x", None), r"(?i)check"),
                         ((1000, 1, "picked"), r"bindings|3 parameters")):
        with pytest.raises((sqlite3.Error, psycopg.Error), match=message):
            with db.transaction():
                db.run_many(sql, rows[:300] + [bad] + rows[300:])
        assert db.value("SELECT count(*) FROM dated") == 0
    db.run_many(sql, (row for row in rows))  # any iterable
    assert db.value("SELECT count(*) FROM dated") == 599


@pytest.mark.postgres
def test_a_load_into_postgresql_analyzes_its_tables_as_they_grow(pg_url, data_dir, monkeypatch):
    # Statements prepared while the tables were small keep their plans until an ANALYZE; autovacuum cannot see a
    # load's rows before it commits, so the load analyzes them itself, inside its transaction.
    monkeypatch.setattr(postgres, "ANALYZE_GROWN_FROM", 100)
    monkeypatch.setattr(postgres, "ANALYZE_AFTER_ITEMS", 10**9)  # not the analyze after the load
    with open_store(pg_url) as store:
        files = [data_dir / "jsonl" / "arxiv-metadata-oai-snapshot.head200.json", data_dir / "jsonl" / "2026-02-27.jsonl"]
        assert Ingester(store).ingest_paths(files).total("new") >= 400  # a batch a file: 200, then 300 items
    with psycopg.connect(pg_url, autocommit=True) as conn:
        analyzed = conn.execute("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'identifiers'")
        assert analyzed.fetchone()[0] >= 2
