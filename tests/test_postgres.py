"""The PostgreSQL backend's core (issue 8, groundwork): ingest, export, show, stats and init on a real server.

Each test gets a fresh database on one throwaway server per session (conftest ``pg_server``/``pg_url``,
tests/pg_server.py). Inputs are the real files in tests/data; the SQLite store is the reference: the same
inputs must give the same items, source records, authors and export on both backends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from paperfeed import ingest as ingest_module
from paperfeed.ingest import Ingester
from paperfeed.storage import StoreError, open_store, store_errors

from datafiles import DATA, HF_DAY, LIBRARY, LISTING, LISTING_UNIQUE

pytestmark = pytest.mark.postgres

# The listing, three Hugging Face days, the BibTeX library, and inputs that merge (OAI-PMH records of papers
# the listing or API has, capture pages re-featuring papers) and carry topics and news (captures).
INPUTS = [LISTING, DATA / "hf", LIBRARY, DATA / "arxiv_api", DATA / "oai", DATA / "captures"]
PAPERFEED = [sys.executable, "-m", "paperfeed"]


def ingest(store, *paths, **options):
    return Ingester(store, **options).ingest_paths(list(paths))


def comparable(store) -> list[dict]:
    """The export without what differs between two stores of the same inputs: item ids and times seen."""
    items = []
    for item in store.iter_items():
        item = dict(item)
        del item["id"]
        item["sources"] = [{k: v for k, v in source.items() if k != "seen_at"} for source in item["sources"]]
        items.append(item)
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))


def counts(store) -> dict:
    figures = store.stats()
    figures.pop("migrations")
    return figures


def results(report) -> list[tuple]:
    return [(Path(r.origin).name, r.new, r.merged, r.unchanged, r.failed) for r in report.files]


@pytest.fixture
def pg_store(pg_url):
    with open_store(pg_url) as opened:
        yield opened


def test_the_same_inputs_give_the_same_store_as_sqlite(pg_store, tmp_path):
    with open_store(tmp_path / "reference.db") as sqlite_store:
        expected_report = ingest(sqlite_store, *INPUTS)
        expected_counts, expected_export = counts(sqlite_store), comparable(sqlite_store)

    report = ingest(pg_store, *INPUTS)

    assert results(report) == results(expected_report)
    assert counts(pg_store) == expected_counts
    assert expected_counts["merged_items"] > 0 and expected_counts["topics"]  # the inputs exercise both
    assert comparable(pg_store) == expected_export
    assert pg_store.check_integrity() == []


def test_reingesting_the_same_inputs_changes_nothing(pg_store):
    ingest(pg_store, *INPUTS)
    before = [pg_store.item(item["id"], with_raw=True) for item in pg_store.iter_items()]
    figures = counts(pg_store)

    report = ingest(pg_store, *INPUTS)

    assert report.total("new") == 0 and report.total("merged") == 0
    assert report.total("unchanged") > 0
    assert counts(pg_store) == figures
    assert [pg_store.item(item["id"], with_raw=True) for item in pg_store.iter_items()] == before


def test_find_item_and_item_by_id_arxiv_id_and_doi(pg_store):
    ingest(pg_store, LISTING, LIBRARY)
    first = next(pg_store.iter_items())
    assert pg_store.find_item(str(first["id"])) == first["id"]
    assert pg_store.find_item(f"arXiv:{first['arxiv_id']}") == first["id"]
    with_doi = next(item for item in pg_store.iter_items() if item["doi"])
    assert pg_store.find_item(f"https://doi.org/{with_doi['doi']}") == with_doi["id"]
    assert pg_store.find_item("99999999999999999999") is None
    raw = pg_store.item(first["id"], with_raw=True)
    assert raw["sources"][0]["raw"] and pg_store.item(10 ** 12) is None


def _broken_listing(path: Path, line_number: int, lines: list[str]) -> Path:
    lines = list(lines)
    lines[line_number - 1] = lines[line_number - 1][: len(lines[line_number - 1]) // 2]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_failing_file_rolls_back_alone(pg_store, tmp_path):
    lines = [line for line in LISTING.read_text(encoding="utf-8").split("\n") if line.strip()]
    bad = _broken_listing(tmp_path / "2026-02-26.jsonl", 150, lines)

    report = ingest(pg_store, LIBRARY, bad, HF_DAY)

    by_name = {Path(r.origin).name: r for r in report.files}
    assert by_name[bad.name].failed and by_name[bad.name].place == "line 150"
    assert by_name[LIBRARY.name].new == 7 and by_name[HF_DAY.name].new == 13
    assert pg_store.item_count() == 7 + 13
    assert str(bad) not in {s["origin"] for item in pg_store.iter_items() for s in item["sources"]}


def test_a_file_failing_after_several_written_batches_leaves_nothing_and_the_next_file_merges_cleanly(
        pg_store, tmp_path, monkeypatch):
    monkeypatch.setattr(ingest_module, "BATCH_SIZE", 100)
    monkeypatch.setattr(ingest_module, "STORED_WHOLE_BELOW_BYTES", 0)  # streamed, not prepared whole first
    records = [json.loads(line) for line in LISTING.read_text(encoding="utf-8").split("\n") if line.strip()]
    lines = []
    for number in range(700):
        record = dict(records[number % len(records)])
        record["id"] = f"2601.{number:05d}"
        record["title"] = f"{record['title']} ({number})"
        lines.append(json.dumps(record))
    bad = _broken_listing(tmp_path / "2026-01-15.jsonl", 300, lines)

    report = ingest(pg_store, LIBRARY, bad, LISTING)

    assert [r.failed for r in report.files] == [False, True, False]
    assert pg_store.stats()["source_records_by_format"] == {"bibtex": 7, "jsonl": LISTING_UNIQUE}
    assert pg_store.item_count() == 7 + LISTING_UNIQUE
    assert pg_store.check_integrity() == []
    # Author ids cached during the rolled-back file were dropped: every item's authors resolve.
    assert all(item["authors"] for item in pg_store.iter_items() if item["kind"] == "paper")


def test_migrations_are_named_recorded_once_and_a_newer_schema_is_refused(pg_url):
    from paperfeed.storage.migrations.sqlite import MIGRATIONS as SQLITE_MIGRATIONS

    names = [name for name, _ in SQLITE_MIGRATIONS]  # the same history as SQLite's, name for name
    with open_store(pg_url, migrate=False) as store:
        assert store.migrate() == names
        assert store.migrate() == []
        assert store.applied_migrations() == names
        store._conn.execute("INSERT INTO schema_migrations (name, applied_at) VALUES ('9999_future', 'now')")
    with pytest.raises(StoreError, match="newer paperfeed"):
        open_store(pg_url)


def test_every_storage_method_has_a_postgresql_implementation():
    from paperfeed.storage.postgres import PostgresStore
    from paperfeed.storage.sqlite import SQLiteStore

    assert not PostgresStore.__abstractmethods__
    # Every public method SQLite's store has, PostgreSQL's has too (nothing left to a placeholder).
    public = {name for name in dir(SQLiteStore) if not name.startswith("_") and callable(getattr(SQLiteStore, name))}
    assert public <= {name for name in dir(PostgresStore) if callable(getattr(PostgresStore, name))}


def test_an_unreachable_server_is_one_store_error(tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://paperfeed:secret@127.0.0.1:{port}/nothing?connect_timeout=2"
    with pytest.raises(StoreError) as raised:
        open_store(url)
    assert "secret" not in str(raised.value) and isinstance(raised.value, store_errors())


def _cli(url: str, *args: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run([*PAPERFEED, "--db", url, *args], capture_output=True, text=True,
                          cwd=DATA.parent, timeout=300, **options)


def test_cli_init_ingest_export_show_stats(pg_url, tmp_path):
    assert "0001_items_and_provenance" in _cli(pg_url, "init").stdout
    done = _cli(pg_url, "ingest", str(LISTING), str(LIBRARY), str(DATA / "hf"),
                env={**os.environ, "PAPERFEED_EMBEDDER": "none", "PAPERFEED_INDEX_DIR": str(tmp_path / "index")})
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    exported = tmp_path / "items.jsonl"
    assert _cli(pg_url, "export", "-o", str(exported)).returncode == 0
    items = [json.loads(line) for line in exported.read_text().splitlines()]
    assert len(items) == LISTING_UNIQUE + 7 + 48
    shown = _cli(pg_url, "show", items[0]["arxiv_id"])
    assert shown.returncode == 0 and json.loads(shown.stdout)["id"] == items[0]["id"]
    stats = json.loads(_cli(pg_url, "stats", "--json").stdout)
    assert stats["items"] == len(items) and stats["migrations"][0] == "0001_items_and_provenance"


def test_every_area_of_the_cli_works_on_postgresql(pg_url, tmp_path):
    env = {**os.environ, "PAPERFEED_EMBEDDER": "none", "PAPERFEED_INDEX_DIR": str(tmp_path / "index")}
    assert _cli(pg_url, "ingest", str(LISTING), str(DATA / "hf"), env=env).returncode == 0
    for args in (["index"], ["topics", "tag"], ["topics", "list"], ["sources", "list"], ["daily", "--json"],
                 ["search", "transformer", "--mode", "keyword"]):
        done = _cli(pg_url, *args, env=env)
        assert done.returncode == 0 and "Traceback" not in done.stderr, (args, done.stderr)
    found = _cli(pg_url, "search", "quadrifocal tensor synchronization", "--mode", "keyword", "--json", env=env)
    assert json.loads(found.stdout)[0]["title"].startswith("QuadSync"), found.stdout


@pytest.mark.slow
def test_two_concurrent_ingests_of_overlapping_inputs_make_no_duplicates(pg_url, tmp_path):
    # Many small files so the two processes interleave file by file; both ingest the middle third.
    lines = [line for line in LISTING.read_text(encoding="utf-8").split("\n") if line.strip()]
    parts = []
    for number, start in enumerate(range(0, len(lines), 10)):
        part = tmp_path / f"2026-02-{number:02d}.jsonl"
        part.write_text("\n".join(lines[start:start + 10]) + "\n", encoding="utf-8")
        parts.append(str(part))
    third = len(parts) // 3
    first = parts[:2 * third] + [str(DATA / "hf"), str(LIBRARY)]
    second = list(reversed(parts[third:])) + [str(LIBRARY), str(DATA / "hf")]
    _cli(pg_url, "init")
    runs = [subprocess.Popen([*PAPERFEED, "--db", pg_url, "ingest", "--no-index", *paths], cwd=DATA.parent,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for paths in (first, second)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs

    with open_store(tmp_path / "reference.db") as reference:
        ingest(reference, *parts, DATA / "hf", LIBRARY)
        expected = counts(reference)
    with open_store(pg_url) as store:
        assert counts(store) == expected
        duplicated = store._conn.execute(
            "SELECT arxiv_id FROM items WHERE arxiv_id IS NOT NULL GROUP BY arxiv_id HAVING count(*) > 1"
        ).fetchall()
        assert duplicated == []
        assert store.check_integrity() == []


def test_a_nul_in_an_author_name_is_dropped_on_both_backends(store, tmp_path):
    # PostgreSQL text cannot hold NUL (SQLite can): the name is cleaned at parse, so both stores agree.
    listing = tmp_path / "nul.jsonl"
    listing.write_text(json.dumps({"id": "2602.00001", "title": "A title", "summary": "An abstract.",
                                   "authors": ["Ada\u0000 Love\u0007lace", "Alan Turing"],
                                   "categories": ["cs.LG"]}) + "\n", encoding="utf-8")
    report = ingest(store, listing)
    assert not report.failed
    assert store.item(store.find_item("2602.00001"))["authors"] == ["Ada Lovelace", "Alan Turing"]


def test_an_insert_returning_gives_every_inserted_row_as_one_by_one_inserts(pg_store):
    # What the ingest's author ids come from: names stored before return nothing, more rows than one statement
    # takes, and the ids follow the rows' order.
    db = pg_store.db
    with db.transaction():
        for table in ("many", "one"):
            db.run(f"CREATE TEMPORARY TABLE {table} (id INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
                   "name TEXT NOT NULL UNIQUE)")
            db.run_many(f"INSERT INTO {table} (name) VALUES ($1)", [("name 3",), ("name 7",)])
        names = [(f"name {n}",) for n in range(600)]
        returned = db.insert_returning(
            "INSERT INTO many (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id, name", names)
        one_by_one = [row for name in names for row in db.rows(
            "INSERT INTO one (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id, name", name)]
        assert sorted(returned) == sorted(one_by_one) and len(returned) == 598
        assert db.rows("SELECT id, name FROM many ORDER BY id") == db.rows("SELECT id, name FROM one ORDER BY id")
