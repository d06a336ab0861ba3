"""SQLite page size: ingest speed, store size and random reads of a store made with each page size.

Usage: python bench/page_size.py INPUT [--pages 4096,16384,32768] [--rounds 2] [--reads 3000] [--workdir DIR]

INPUT is the daily-listings tarball or a JSON Lines file in the Kaggle snapshot's schema (a
``bench/make_arxiv_snapshot.py`` output). For each page size, in turn and ``--rounds`` times (so every size sees
the same machine load), a child process makes an empty store file with that page size (``PRAGMA page_size``, then
WAL mode, as ``SQLiteStore`` does with ``PAGE_BYTES``; an existing store keeps its page size), ingests INPUT into
it with ``Ingester`` (``ingest_paths``: an archive's members or the file, with the worker, no search index) and
reports its wall time, then reopens the store and reads ``--reads`` times 10 random items' summaries (what a
result list shows) and one item (an item page), with SQLite's reading cache. The baseline is 4,096 (SQLite's
default, and every store made before ``PAGE_BYTES``).
Prints one line per run and ends with one JSON line of figures (the best ingest and the mean reads per size).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path


def run(path: str, page_bytes: int, folder: str, reads: int, queue) -> None:
    from paperfeed.config import Settings
    from paperfeed.ingest import Ingester
    from paperfeed.storage import open_store

    store_path = Path(folder) / f"store-{page_bytes}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store_path}{suffix}").unlink(missing_ok=True)
    connection = sqlite3.connect(store_path)
    connection.execute(f"PRAGMA page_size = {page_bytes}")
    connection.execute("PRAGMA journal_mode = WAL")  # writes the first page: the size is the file's from now on
    connection.close()
    with open_store(store_path) as store:
        start = time.perf_counter()
        result = Ingester(store, settings=Settings()).ingest_paths([path])
        seconds = time.perf_counter() - start
        records = sum(file.records for file in result.files)
    with open_store(store_path) as store:
        count, rng = store.item_count(), random.Random(5)
        summaries, items = [], []
        for _ in range(reads):
            ids = rng.sample(range(1, count + 1), 10)
            begin = time.perf_counter()
            store.item_summaries(ids)
            summaries.append(time.perf_counter() - begin)
            begin = time.perf_counter()
            store.item(ids[0])
            items.append(time.perf_counter() - begin)
        actual = store.db.value("PRAGMA page_size")
    size = store_path.stat().st_size
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store_path}{suffix}").unlink(missing_ok=True)
    queue.put({"page_bytes": actual, "records": records, "seconds": seconds, "store_mb": size / 1e6,
               "summaries_mean_us": statistics.mean(summaries) * 1e6,
               "summaries_p99_us": sorted(summaries)[int(len(summaries) * 0.99)] * 1e6,
               "item_mean_us": statistics.mean(items) * 1e6})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input")
    parser.add_argument("--pages", default="4096,16384,32768")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--workdir", default=None, help="where the stores are made (default: a temporary folder)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.pages.split(",")]
    context = multiprocessing.get_context("spawn")
    runs: dict[int, list[dict]] = {size: [] for size in sizes}
    with tempfile.TemporaryDirectory(dir=args.workdir) as folder:
        for _ in range(args.rounds):
            for size in sizes:
                queue = context.Queue()
                child = context.Process(target=run, args=(args.input, size, folder, args.reads, queue))
                child.start()
                figures = queue.get()
                child.join()
                assert figures["page_bytes"] == size, figures
                runs[size].append(figures)
                print(f"page {size:>6}: {figures['records']:,} records in {figures['seconds']:.2f} s = "
                      f"{figures['records'] / figures['seconds']:,.0f} records/s, store {figures['store_mb']:,.0f} MB; "
                      f"10 summaries mean {figures['summaries_mean_us']:.0f} µs "
                      f"p99 {figures['summaries_p99_us']:.0f} µs, one item mean {figures['item_mean_us']:.0f} µs",
                      flush=True)
    print(json.dumps({"bench": "page_size", "load": os.getloadavg()[0], "sizes": {
        size: {"best_records_per_s": round(max(r["records"] / r["seconds"] for r in found)),
               "store_mb": round(found[0]["store_mb"]),
               "summaries_mean_us": round(statistics.mean(r["summaries_mean_us"] for r in found)),
               "summaries_p99_us": round(statistics.mean(r["summaries_p99_us"] for r in found)),
               "item_mean_us": round(statistics.mean(r["item_mean_us"] for r in found))}
        for size, found in runs.items()}}))


if __name__ == "__main__":
    main()
