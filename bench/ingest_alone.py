"""A large file into a new SQLite store: with the store held alone (a rollback journal) against through the
write-ahead log, alternating, each run in a fresh process.

Usage: python bench/ingest_alone.py FILE [--rounds R] [--workdir DIR]

Each run ingests FILE (any format; a Kaggle-schema snapshot of a few 100,000 lines is the case this is for) into a
new store with ``Ingester`` as ``paperfeed ingest`` does, once with the setting ``ingest_alone_from_mb`` at 1 (the
file goes in with the store held alone: ``SQLiteStore._hold_alone``) and once at 0 (the WAL, then its checkpoint
at the commit), alternating ``wal, alone, wal, alone…`` so that the machine's drift falls on both. Reported per
run: wall seconds, CPU seconds (user + system, this process and the worker that prepares records), the system
CPU alone (the copying of pages), the journal the file was written with, and the store's items; the two ways must
store the same number of items (``tests/test_bulk_load.py`` checks that every table is the same).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

CHILD = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    from paperfeed.config import Settings
    from paperfeed.ingest import Ingester
    from paperfeed.storage import open_store
    source, store_path, alone = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    modes = []
    started, before = time.perf_counter(), os.times()
    with open_store(store_path) as store:
        ingester = Ingester(store, settings=Settings(ingest_alone_from_mb=alone),
                            on_records=lambda count: modes.append(store.db.value("PRAGMA journal_mode")))
        report = ingester.ingest_paths([source])
        wall, after = time.perf_counter() - started, os.times()
        items = store.item_count()
    cpu = lambda t: t.user + t.system + t.children_user + t.children_system
    print(json.dumps({"wall_s": round(wall, 2), "cpu_s": round(cpu(after) - cpu(before), 2),
                      "system_cpu_s": round(after.system + after.children_system - before.system
                                            - before.children_system, 2),
                      "journal": sorted(set(modes)), "items": items, "failed": report.failed}))
""")


def run(source: Path, folder: Path, alone: bool) -> dict:
    store = folder / f"{'alone' if alone else 'wal'}.db"
    for path in (store, Path(f"{store}-wal"), Path(f"{store}-shm"), Path(f"{store}-journal")):
        path.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-c", CHILD, str(source), str(store), "1" if alone else "0"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"bench/ingest_alone.py: the {'alone' if alone else 'wal'} run failed:\n{done.stderr[-2000:]}")
    store.unlink(missing_ok=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--rounds", type=int, default=2, help="pairs of runs (default 2)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the stores go (default: a temp dir)")
    args = parser.parse_args()
    if not args.file.is_file():
        sys.exit(f"bench/ingest_alone.py: {args.file} not found")
    runs: dict[str, list[dict]] = {"wal": [], "alone": []}
    with tempfile.TemporaryDirectory(dir=args.workdir) as name:
        for round_number in range(args.rounds):
            for way in ("wal", "alone"):
                result = run(args.file, Path(name), way == "alone")
                runs[way].append(result)
                print(f"round {round_number + 1} {way:5}: {result}", flush=True)
    if {run["items"] for way in runs.values() for run in way} != {runs["wal"][0]["items"]}:
        sys.exit("bench/ingest_alone.py: the two ways stored different numbers of items")
    summary = {way: {figure: statistics.median(run[figure] for run in results)
                     for figure in ("wall_s", "cpu_s", "system_cpu_s")} for way, results in runs.items()}
    summary["alone_over_wal_wall"] = round(summary["alone"]["wall_s"] / summary["wal"]["wall_s"], 3)
    summary["load"] = os.getloadavg()
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
