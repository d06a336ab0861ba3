"""Plain inserts on SQLite: Python's ``executemany`` (one statement run a row) against ``run_many``'s multi-row
statements (``storage.sql.ROWS_PER_INSERT`` rows a run), into tables of a new store with the store's own schema.

Usage: python bench/sqlite_rows.py [--rows N] [--repeat R]

Each table gets N synthetic rows shaped as a bulk load writes them (a batch of 2,000 records a statement list),
in a transaction rolled back after each run; foreign keys are off (the rows name no real items), so the figures
are the insert's own cost: binding, the statement's runs, the table and its indexes, and the CHECK constraints.
``daily_dates.kind`` has a three-value ``IN`` list, which SQLite builds into a lookup table once per run.
Alternating, best of R; prints µs a row and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def table_rows(table: str, count: int) -> tuple[str, list[tuple]]:
    if table == "daily_dates":
        return ("INSERT INTO daily_dates (record_id, item_id, kind, day) VALUES ($1, $2, $3, $4)",
                [(n, n, "published", f"20{n % 25:02d}-0{n % 9 + 1}-1{n % 10}") for n in range(1, count + 1)])
    if table == "item_authors":  # six authors an item, in the author index's order, as ingest sorts them
        rows = sorted(((n * 7919) % 50_000, n // 6 + 1, n % 6) for n in range(count))
        return "INSERT INTO item_authors (author_id, item_id, position) VALUES ($1, $2, $3)", rows
    if table == "block_keys":
        return ("INSERT INTO block_keys (key, item_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                sorted(((n * 2654435761) % (1 << 62), n // 3 + 1) for n in range(count)))
    raise ValueError(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from paperfeed.storage import open_store
    from paperfeed.storage.sqlite import _positional

    results = {}
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(Path(folder) / "rows.db")
        db = store.db
        db.connection.execute("PRAGMA foreign_keys = OFF")
        for table in ("daily_dates", "item_authors", "block_keys"):
            sql, rows = table_rows(table, args.rows)
            batches = [rows[i:i + 2000 * 6] for i in range(0, len(rows), 2000 * 6)]
            best = {"executemany": float("inf"), "run_many": float("inf")}
            for _ in range(args.repeat):
                for way in best:
                    db.connection.execute("BEGIN")
                    start = time.process_time()
                    for batch in batches:
                        if way == "executemany":
                            db.connection.executemany(_positional(sql), batch)
                        else:
                            db.run_many(sql, batch)
                    best[way] = min(best[way], time.process_time() - start)
                    db.connection.execute("ROLLBACK")
            results[table] = {way: seconds / len(rows) * 1e6 for way, seconds in best.items()}
            print(f"{table:13} executemany {results[table]['executemany']:.2f} µs a row, "
                  f"run_many {results[table]['run_many']:.2f} µs a row", flush=True)
        store.close()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
