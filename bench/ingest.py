"""Ingest throughput: the daily-listings tarball into a fresh SQLite store, against a bare floor.

Usage: python bench/ingest.py PATH_TO_LISTINGS.tar.xz [--repeat N]

Both measurements run in their own child process (so peak memory is each one's own) and
both start from the members already decompressed in memory: decompression is excluded.
- floor: orjson-parse every line and executemany-insert one row per record
  (id, title, authors, categories, abstract, raw line) into a bare table, one transaction.
- paperfeed: ``Ingester.ingest_inputs`` over the members: format detection, parsing, normalization,
  merging (identifiers + title blocking), provenance, authors, categories; a savepoint per member,
  a commit every ``COMMIT_EVERY`` records.
Prints a line per run and ends with one JSON line of figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sqlite3
import sys
import tarfile
import tempfile
import time
from pathlib import Path


def load_members(path: str) -> list[tuple[str, bytes]]:
    """Decompress every member into memory."""
    with tarfile.open(path, "r:*") as archive:
        return [(m.name, archive.extractfile(m).read()) for m in archive if m.isfile()]


def run_floor(path: str, queue) -> None:
    import orjson

    members = load_members(path)
    with tempfile.TemporaryDirectory() as folder:
        db = sqlite3.connect(Path(folder) / "floor.db", isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("CREATE TABLE bare (id TEXT, title TEXT, authors TEXT, categories TEXT, abstract TEXT, raw TEXT)")
        start = time.perf_counter()
        count = 0
        db.execute("BEGIN")
        for _, data in members:
            rows = []
            for line in data.splitlines():
                if not line.strip():
                    continue
                record = orjson.loads(line)
                rows.append((record["id"], record["title"], ", ".join(record["authors"]),
                             " ".join(record["categories"]), record["summary"], line.decode()))
            db.executemany("INSERT INTO bare VALUES (?,?,?,?,?,?)", rows)
            count += len(rows)
        db.execute("COMMIT")
        seconds = time.perf_counter() - start
        db.close()
    queue.put({"records": count, "seconds": seconds,
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def run_paperfeed(path: str, queue) -> None:
    from paperfeed.ingest import Ingester
    from paperfeed.inputs import InputFile
    from paperfeed.storage import open_store

    members = load_members(path)
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(Path(folder) / "bench.db")
        marks: list[tuple[float, int]] = []  # (time, records so far) after each file
        done = 0

        def mark(result) -> None:
            nonlocal done
            done += result.records
            marks.append((time.perf_counter(), done))

        ingester = Ingester(store, on_file=mark)
        start = time.perf_counter()
        results = ingester.ingest_inputs(
            [InputFile(f"{path}!{name}", name, lambda d=data: d, len(data)) for name, data in members]).files
        seconds = time.perf_counter() - start
        # Linearity: throughput over the first and the last quarter of the files; with blocking,
        # per-record cost should not grow with the store.
        quarter = len(marks) // 4
        first = marks[quarter][1] / (marks[quarter][0] - start)
        last = (marks[-1][1] - marks[-quarter - 1][1]) / (marks[-1][0] - marks[-quarter - 1][0])
        failed = [r.origin for r in results if r.failed]
        stats = store.stats()
        store.close()
    queue.put({"records": sum(r.records for r in results), "seconds": seconds, "failed": failed,
               "first_quarter_records_per_s": first, "last_quarter_records_per_s": last,
               "items": stats["items"], "source_records": stats["source_records"],
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def in_child(target, path: str) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(path, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("listings", help="arxiv_daily_listings_*.tar.xz from shared/data/arxiv-daily-listings")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the best is reported")
    args = parser.parse_args()
    if not Path(args.listings).exists():
        sys.exit(f"bench/ingest.py: {args.listings} not found (it lives in ../shared/data/arxiv-daily-listings)")
    floors, runs = [], []
    for _ in range(args.repeat):
        floors.append(in_child(run_floor, args.listings))
        print(f"floor:     {floors[-1]['records']:,} records in {floors[-1]['seconds']:.2f} s "
              f"= {floors[-1]['records'] / floors[-1]['seconds']:,.0f} records/s", flush=True)
        runs.append(in_child(run_paperfeed, args.listings))
        print(f"paperfeed: {runs[-1]['records']:,} records in {runs[-1]['seconds']:.2f} s "
              f"= {runs[-1]['records'] / runs[-1]['seconds']:,.0f} records/s -> {runs[-1]['items']:,} items, "
              f"peak RSS {runs[-1]['peak_rss_mb']:.0f} MB", flush=True)
    floor = min(floors, key=lambda r: r["seconds"])
    best = min(runs, key=lambda r: r["seconds"])
    figures = {
        "bench": "ingest",
        "records": best["records"],
        "items": best["items"],
        "failed_files": len(best["failed"]),
        "records_per_s": round(best["records"] / best["seconds"]),
        "floor_records_per_s": round(floor["records"] / floor["seconds"]),
        "ratio_to_floor": round(best["seconds"] / floor["seconds"], 2),
        "first_quarter_records_per_s": round(best["first_quarter_records_per_s"]),
        "last_quarter_records_per_s": round(best["last_quarter_records_per_s"]),
        "peak_rss_mb": round(best["peak_rss_mb"]),
        "floor_peak_rss_mb": round(floor["peak_rss_mb"]),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
