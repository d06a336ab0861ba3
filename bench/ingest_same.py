"""Ingest gives the same store with this code as with git REF: a check for speed work on the ingest path.

Usage: python bench/ingest_same.py --old-ref REF PATH [PATH ...]

Ingests the PATHs (files, folders, archives; in the order given) into two fresh SQLite stores, one with the
``src`` of git REF (``git archive``) and one with this tree's, each in its own child process, then compares the
schema (indexes included: a bulk load drops some and builds them again) and the tables ingest writes row for
row: items, source records (merge reasons included), identifiers, blocking keys, authors and their order,
categories, topics, the Daily Papers calendar and the search change log. Only the wall-clock columns
(``created_at``, ``updated_at``, ``seen_at``) are left out. Prints each table's row count and the first differing
rows; exits 1 when anything differs.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import old_source  # noqa: E402  (bench/ingest.py: the src of a git ref)

TABLES = {
    "items": "id, kind, title, abstract, arxiv_id, doi, url, published, year, upvotes, withdrawn",
    "source_records": "id, item_id, fingerprint, format, record_id, origin, label, deleted, raw, data, reason",
    "identifiers": "scheme, value, item_id",
    "block_keys": "key, item_id",
    "authors": "id, name, key",
    "item_authors": "item_id, position, author_id",
    "item_categories": "item_id, position, category",
    "topics": "id, name, slug",
    "item_topics": "item_id, topic_id, assigned_by, confidence",
    "daily_dates": "record_id, item_id, kind, day",
    "search_changes": "seq, item_id",
    "merge_decisions": "id, kind, item_id, other_id, records, actor",
}


def ingest(db: str, paths: list[str], queue, src: str | None = None) -> None:
    if src:
        sys.path.insert(0, src)
    from paperfeed.ingest import Ingester
    from paperfeed.storage import open_store

    with open_store(db) as store:
        report = Ingester(store).ingest_paths(paths)
    queue.put({name: report.total(name) for name in ("new", "merged", "unchanged", "skipped", "conflicts")}
              | {"failed": len(report.failed)})


def in_child(db: str, paths: list[str], src: str | None) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=ingest, args=(db, paths, queue, src))
    process.start()
    result = queue.get()
    process.join()
    return result


def table_rows(db: str, table: str, columns: str) -> list[tuple]:
    connection = sqlite3.connect(db)
    try:
        return connection.execute(f"SELECT {columns} FROM {table} ORDER BY {columns}").fetchall()
    finally:
        connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", help="files, folders or archives to ingest, in order")
    parser.add_argument("--old-ref", required=True, metavar="REF", help="the git ref to compare with")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        old_src = old_source(args.old_ref, folder)
        old_db, new_db = str(Path(folder) / "old.db"), str(Path(folder) / "new.db")
        old_counts = in_child(old_db, args.paths, old_src)
        new_counts = in_child(new_db, args.paths, None)
        print(f"old ({args.old_ref}): {old_counts}\nthis tree: {new_counts}")
        same = old_counts == new_counts
        old_indexes, new_indexes = table_rows(old_db, "sqlite_master", "type, name, tbl_name, sql"), \
            table_rows(new_db, "sqlite_master", "type, name, tbl_name, sql")
        # A bulk load drops indexes and builds them again: the schema must end as it began.
        print(f"schema: {len(new_indexes)} tables, indexes and triggers, "
              f"{'the same' if old_indexes == new_indexes else 'DIFFERENT'}")
        same = same and old_indexes == new_indexes
        for table, columns in TABLES.items():
            old_rows, new_rows = table_rows(old_db, table, columns), table_rows(new_db, table, columns)
            if old_rows == new_rows:
                print(f"{table}: {len(new_rows):,} rows, the same")
                continue
            same = False
            only_old, only_new = set(old_rows) - set(new_rows), set(new_rows) - set(old_rows)
            print(f"{table}: DIFFERENT ({len(old_rows):,} rows old, {len(new_rows):,} new; "
                  f"{len(only_old):,} only old, {len(only_new):,} only new)")
            for row in sorted(only_old)[:3]:
                print(f"  only old: {str(row)[:300]}")
            for row in sorted(only_new)[:3]:
                print(f"  only new: {str(row)[:300]}")
    print("the same" if same else "DIFFERENT")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
