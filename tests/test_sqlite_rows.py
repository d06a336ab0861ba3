"""SQLite's ``run_many`` sends a plain insert many rows a statement: the same rows, the same errors."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperfeed.storage.sql import ROWS_PER_INSERT, insert_shape
from paperfeed.storage.sqlite import SQLiteDatabase, _positional

SCHEMA = """
CREATE TABLE dated (record_id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL,
                    kind TEXT NOT NULL CHECK (kind IN ('picked', 'announced', 'published')), day TEXT NOT NULL,
                    note TEXT);
CREATE TABLE counts (name TEXT PRIMARY KEY, total INTEGER NOT NULL, last TEXT);
"""


def _database() -> SQLiteDatabase:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    connection.executescript(SCHEMA)
    return SQLiteDatabase(connection)


def _both(sql: str, rows: list[tuple]) -> tuple[list, list]:
    """The table after ``run_many`` and after one ``executemany`` of the same statement (row by row)."""
    many, one = _database(), _database()
    many.run_many(sql, rows)
    one.connection.executemany(_positional(sql), rows)
    table = sql.split()[2]
    return ([tuple(row) for row in many.rows(f"SELECT * FROM {table} ORDER BY 1")],
            [tuple(row) for row in one.rows(f"SELECT * FROM {table} ORDER BY 1")])


rows_of_dates = st.lists(st.tuples(st.integers(1, 3000), st.integers(0, 9), st.sampled_from(["picked", "published"]),
                                   st.text(max_size=3)), max_size=2 * ROWS_PER_INSERT + 40)


@settings(max_examples=40, deadline=None)
@given(rows_of_dates)
def test_a_plain_insert_gives_the_rows_executemany_gives(rows):
    # Duplicate keys inside one batch (and inside one statement of it) are skipped row by row, as executemany does;
    # a literal in the row and a value used twice ($3) are written into every row.
    sql = ("INSERT INTO dated (record_id, item_id, kind, day, note) VALUES ($1, $2, $3, $4, 'a ?1 $1') "
           "ON CONFLICT DO NOTHING")
    assert insert_shape(_positional(sql), "?") is not None
    many, one = _both(sql, rows)
    assert many == one


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcde"), st.integers(-5, 5)), max_size=ROWS_PER_INSERT + 20))
def test_an_upsert_sees_the_rows_before_it_in_the_same_statement(rows):
    sql = ("INSERT INTO counts (name, total, last) VALUES ($1, $2, CAST($2 AS TEXT)) ON CONFLICT (name) DO UPDATE "
           "SET total = counts.total + excluded.total, last = excluded.last")
    many, one = _both(sql, rows)
    assert many == one


def test_statements_it_leaves_to_executemany():
    for sql in ("UPDATE counts SET total = $1 WHERE name = $2",
                "INSERT INTO counts (name, total) SELECT $1, $2",
                "INSERT INTO counts (name, total) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET total = $2",
                "INSERT INTO counts (name, total) VALUES ($1, abs($2))",
                "INSERT INTO counts (name, total) VALUES ($1, $2) RETURNING name"):
        assert insert_shape(_positional(sql), "?") is None, sql
    db = _database()
    db.run_many("INSERT INTO counts (name, total) VALUES ($1, abs($2))", [("a", -1), ("b", 2)])
    assert db.rows("SELECT name, total FROM counts ORDER BY name") == [("a", 1), ("b", 2)]


def test_a_bad_row_fails_as_it_would_row_by_row():
    # Inside a transaction, as every caller writes: the error is the driver's, and the rollback takes every row.
    db = _database()
    rows = [(n, 1, "picked", "2026-01-01", None) for n in range(1, 600)]
    for bad, error, message in (((999, 1, "bogus", "x", None), sqlite3.IntegrityError, "CHECK constraint failed"),
                                ((1000, 1, "picked"), sqlite3.ProgrammingError, "bindings")):
        with pytest.raises(error, match=message):
            with db.transaction():
                db.run_many("INSERT INTO dated VALUES ($1, $2, $3, $4, $5)", rows[:300] + [bad] + rows[300:])
        assert db.value("SELECT count(*) FROM dated") == 0
    db.run_many("INSERT INTO dated VALUES ($1, $2, $3, $4, $5)", (row for row in rows))  # any iterable
    assert db.value("SELECT count(*) FROM dated") == 599


def test_a_statement_stays_within_sqlites_parameter_limit():
    db = _database()
    db.connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 100)
    db = SQLiteDatabase(db.connection)
    db.run_many("INSERT INTO dated VALUES ($1, $2, $3, $4, $5)",
                [(n, 1, "published", "2026-01-01", None) for n in range(1, 1001)])
    assert db.value("SELECT count(*) FROM dated") == 1000


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from([f"name {n}" for n in range(40)]), max_size=ROWS_PER_INSERT + 60, unique=True),
       st.sets(st.sampled_from([f"name {n}" for n in range(40)])))
def test_an_insert_returning_gives_every_inserted_row_and_the_rows_of_one_by_one_inserts(names, stored):
    # Names already stored are skipped by DO NOTHING and return nothing; the ids follow the rows' order, as one by
    # one (what the ingest's author ids rely on); more rows than one statement takes.
    sql = "INSERT INTO counts (name, total) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING rowid, name"
    many, one = _database(), _database()
    for db in (many, one):
        db.run_many("INSERT INTO counts (name, total) VALUES ($1, 0)", [(name,) for name in sorted(stored)])
    returned = many.insert_returning(sql, [(name, 1) for name in names])
    one_by_one = [row for name in names for row in one.rows(sql, (name, 1))]
    assert sorted(returned) == sorted(one_by_one) and {name for _, name in returned} == set(names) - stored
    table = "SELECT rowid, name, total FROM counts ORDER BY rowid"
    assert many.rows(table) == one.rows(table)


def test_an_insert_returning_refuses_what_is_not_a_plain_insert_and_fails_as_row_by_row():
    db = _database()
    with pytest.raises(ValueError, match="not a plain insert"):
        db.insert_returning("INSERT INTO counts (name, total) SELECT $1, $2 RETURNING name", [("a", 1)])
    with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
        with db.transaction():
            db.insert_returning("INSERT INTO counts (name, total) VALUES ($1, $2) RETURNING name",
                                [("a", 1), ("b", None)])
    assert db.value("SELECT count(*) FROM counts") == 0


TRIGGERED = """
CREATE TABLE changes (item_id INTEGER PRIMARY KEY);
CREATE TABLE tagged (item_id INTEGER NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (item_id, tag));
CREATE TRIGGER tagged_change AFTER INSERT ON tagged BEGIN
    INSERT OR REPLACE INTO changes (item_id) VALUES (NEW.item_id);
END;
"""


def test_inserts_undone_together_stop_at_the_bad_row_for_the_transaction_to_undo():
    # INSERT OR FAIL: the rows before the bad one stay until the transaction around rolls back (SQLite then keeps
    # no statement journal); outside the block a failing statement undoes itself, as before.
    db = _database()
    rows = [(n, 1, "picked", "2026-01-01", None) for n in range(1, 600)]
    bad = (999, 1, "bogus", "x", None)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
        with db.transaction(), db.inserts_undone_together():
            try:
                db.run_many("INSERT INTO dated VALUES ($1, $2, $3, $4, $5)", rows[:300] + [bad] + rows[300:])
            finally:
                kept = db.value("SELECT count(*) FROM dated")
    assert kept == 300 and db.value("SELECT count(*) FROM dated") == 0
    with pytest.raises(sqlite3.IntegrityError):
        with db.transaction():
            try:
                db.run_many("INSERT INTO dated VALUES ($1, $2, $3, $4, $5)", rows[:3] + [bad])
            finally:
                kept = db.value("SELECT count(*) FROM dated")
    assert kept == 0  # the statement of four rows undid itself


def test_inserts_into_a_table_with_triggers_keep_the_triggers_conflict_action():
    # The outer statement's conflict action would replace the trigger's: OR FAIL would make its INSERT OR REPLACE
    # fail on an item already listed, so such an insert runs as written.
    db = _database()
    db.connection.executescript(TRIGGERED)
    with db.transaction(), db.inserts_undone_together():
        db.run_many("INSERT INTO tagged (item_id, tag) VALUES ($1, $2)", [(1, "a"), (1, "b"), (2, "a")])
        db.run_many("INSERT INTO dated (record_id, item_id, kind, day) VALUES ($1, 1, 'picked', 'd')", [(1,), (2,)])
    assert db.column("SELECT item_id FROM changes ORDER BY 1") == [1, 2]
    assert db.rows("SELECT count(*) FROM tagged") == [(3,)] and db.value("SELECT count(*) FROM dated") == 2


def test_a_transaction_without_a_savepoint_leaves_its_writes_to_the_one_around_it():
    db = _database()
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.run("INSERT INTO counts (name, total) VALUES ('kept', 1)")
            try:
                with db.transaction(savepoint=False):
                    db.run("INSERT INTO counts (name, total) VALUES ('joined', 1)")
                    raise RuntimeError("stops the block")
            except RuntimeError:
                assert db.column("SELECT name FROM counts ORDER BY name") == ["joined", "kept"]  # not undone alone
            raise RuntimeError("the outer transaction rolls both back")
    assert db.value("SELECT count(*) FROM counts") == 0
    with db.transaction(savepoint=False):  # outside a transaction: a transaction of its own
        db.run("INSERT INTO counts (name, total) VALUES ('alone', 1)")
    assert not db.in_transaction and db.column("SELECT name FROM counts") == ["alone"]
