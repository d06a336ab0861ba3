"""Ingest throughput: the daily-listings tarball into a fresh SQLite store, against a bare floor.

Usage: python bench/ingest.py PATH_TO_LISTINGS.tar.xz [--repeat N] [--old-ref REF] [--serial]
       python bench/ingest.py SNAPSHOT.json [--repeat N] [--old-ref REF] [--serial]

The input is either the daily-listings tarball or one JSON Lines file in the Kaggle snapshot's schema (a
``bench/make_arxiv_snapshot.py`` output: what a new user's whole-arXiv bootstrap ingests).

Both measurements run in their own child process (so peak memory is each one's own) and
both start from the members already decompressed in memory: decompression is excluded.
- floor: orjson-parse every line and executemany-insert one row per record
  (id, title, authors, categories, abstract, raw line) into a bare table, one transaction.
- paperfeed: ``Ingester.ingest_inputs`` over the members: format detection, parsing, normalization,
  merging (identifiers + title blocking), provenance, authors, categories; a savepoint per member,
  a commit every ``COMMIT_EVERY`` records.
With ``--old-ref REF`` the paperfeed run is also made with the code of git REF (``git archive`` of its ``src``
into a temporary folder, first on the child's path), alternating old and new runs so that both see the same
machine load, and both are reported in records per second of wall time and per CPU second of the ingest
(``time.process_time`` of the child around ``ingest_inputs``: on a shared machine wall time counts the others'
work too).
With ``--serial`` this code also runs with ``ingest_parallel`` off (records prepared in the ingest's own process),
alternating; the worker's CPU (``ingest.ahead``: a child process, counted once it has ended) is reported beside the
ingest process's own.
Prints a line per run and ends with one JSON line of figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path


def is_archive(path: str) -> bool:
    return tarfile.is_tarfile(path)


def load_members(path: str) -> list[tuple[str, bytes]]:
    """Decompress every member into memory (a plain file: itself, one member)."""
    if not is_archive(path):
        return [(Path(path).name, Path(path).read_bytes())]
    with tarfile.open(path, "r:*") as archive:
        return [(m.name, archive.extractfile(m).read()) for m in archive if m.isfile()]


def bare_row(record: dict, line: bytes) -> tuple:
    """The floor's row: id, title, authors, categories, abstract, raw line (a listing's or a Kaggle line's fields)."""
    if "summary" in record:  # a daily listing: authors and categories are lists
        return (record["id"], record["title"], ", ".join(record["authors"]), " ".join(record["categories"]),
                record["summary"], line.decode())
    return (record["id"], record["title"], record["authors"], record["categories"], record["abstract"],
            line.decode())


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
                rows.append(bare_row(orjson.loads(line), line))
                if len(rows) == 2000:  # a plain file is one member: keep its rows in batches, as ingest does
                    db.executemany("INSERT INTO bare VALUES (?,?,?,?,?,?)", rows)
                    count += len(rows)
                    rows = []
            db.executemany("INSERT INTO bare VALUES (?,?,?,?,?,?)", rows)
            count += len(rows)
        db.execute("COMMIT")
        seconds = time.perf_counter() - start
        db.close()
    queue.put({"records": count, "seconds": seconds,
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def run_paperfeed(path: str, queue, src: str | None = None, parallel: bool = True) -> None:
    if src:
        sys.path.insert(0, src)
    from paperfeed.config import Settings
    from paperfeed.ingest import Ingester
    from paperfeed.inputs import InputFile
    from paperfeed.storage import open_store

    # A plain file goes the way `paperfeed ingest FILE` reads it (memory-mapped, a line at a time).
    members = load_members(path) if is_archive(path) else None
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(Path(folder) / "bench.db")
        marks: list[tuple[float, int]] = []  # (time, records so far) after each file (a plain file: each batch)
        cpu_marks: list[tuple[float, int]] = []  # (CPU time, records so far), the same moments
        done = 0

        def mark(records: int) -> None:
            nonlocal done
            done += records
            marks.append((time.perf_counter(), done))
            cpu_marks.append((time.process_time(), done))

        # An older commit may not know ingest_parallel (then it has one process, as parallel=False here).
        settings = Settings(**({} if parallel else {"ingest_parallel": False}))
        ingester = (Ingester(store, on_records=mark, settings=settings) if members is None
                    else Ingester(store, on_file=lambda result: mark(result.records), settings=settings))
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        start, cpu_start = time.perf_counter(), time.process_time()
        if members is None:
            results = ingester.ingest_paths([path]).files
        else:
            results = ingester.ingest_inputs(
                [InputFile(f"{path}!{name}", name, lambda d=data: d, len(data)) for name, data in members]).files
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        # The worker that prepares records (ingest.ahead) has ended and been waited for: its CPU is the children's.
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        worker_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
        apart = sum(1 for result in results if getattr(result, "prepared_apart", False))
        # Linearity: throughput over the first and the last quarter of the files (batches); with blocking,
        # per-record cost should not grow with the store.
        quarter = len(marks) // 4
        first = marks[quarter][1] / (marks[quarter][0] - start)
        last = (marks[-1][1] - marks[-quarter - 1][1]) / (marks[-1][0] - marks[-quarter - 1][0])
        # A large file: records per CPU second over its last 100,000 records (the store at its largest), and the
        # CPU after the last record (the file's end: calendar, deferred indexes, commit).
        tail = [mark for mark in cpu_marks if mark[1] <= cpu_marks[-1][1] - 100_000]
        last_100k = ((cpu_marks[-1][1] - tail[-1][1]) / (cpu_marks[-1][0] - tail[-1][0])) if tail else None
        end_cpu = cpu_start + cpu_seconds - cpu_marks[-1][0]
        failed = [r.origin for r in results if r.failed]
        stats = store.stats()
        store.close()
    queue.put({"records": sum(r.records for r in results), "seconds": seconds, "cpu_seconds": cpu_seconds,
               "worker_cpu_seconds": worker_cpu, "files_prepared_apart": apart, "files": len(results),
               "failed": failed,
               "first_quarter_records_per_s": first, "last_quarter_records_per_s": last,
               "last_100k_records_per_cpu_s": last_100k, "end_cpu_seconds": end_cpu,
               "items": stats["items"], "source_records": stats["source_records"],
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def in_child(target, path: str, *extra) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(path, queue, *extra))
    process.start()
    result = queue.get()
    process.join()
    return result


def old_source(ref: str, folder: str) -> str:
    """The ``src`` folder of git ``ref``, unpacked into ``folder``."""
    root = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "-C", str(root), "archive", ref, "src"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
    return str(Path(folder) / "src")


def describe(name: str, run: dict) -> str:
    tail = (f"; last 100,000 records {run['last_100k_records_per_cpu_s']:,.0f} records/CPU s, then "
            f"{run['end_cpu_seconds']:.1f} CPU s to the end" if run["last_100k_records_per_cpu_s"] else "")
    worker = (f" (+ {run['worker_cpu_seconds']:.2f} CPU s in the worker, which prepared {run['files_prepared_apart']} "
              f"of {run['files']} files)" if run.get("files_prepared_apart") else "")
    return (f"{name}: {run['records']:,} records in {run['seconds']:.2f} s = {run['records'] / run['seconds']:,.0f} "
            f"records/s, {run['cpu_seconds']:.2f} CPU s = {run['records'] / run['cpu_seconds']:,.0f} records/CPU s"
            f"{worker} -> {run['items']:,} items, peak RSS {run['peak_rss_mb']:.0f} MB{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("listings", help="arxiv_daily_listings_*.tar.xz from shared/data/arxiv-daily-listings, "
                        "or a Kaggle-schema JSON Lines file (bench/make_arxiv_snapshot.py)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the best is reported")
    parser.add_argument("--old-ref", metavar="REF", help="also run the ingest of git REF, alternating with this one")
    parser.add_argument("--serial", action="store_true",
                        help="also run this code with ingest_parallel off (one process), alternating")
    args = parser.parse_args()
    if not Path(args.listings).exists():
        sys.exit(f"bench/ingest.py: {args.listings} not found (it lives in ../shared/data/arxiv-daily-listings)")
    floors, runs, olds, serials = [], [], [], []
    with tempfile.TemporaryDirectory() as folder:
        old_src = old_source(args.old_ref, folder) if args.old_ref else None
        for _ in range(args.repeat):
            floors.append(in_child(run_floor, args.listings))
            print(f"floor:     {floors[-1]['records']:,} records in {floors[-1]['seconds']:.2f} s "
                  f"= {floors[-1]['records'] / floors[-1]['seconds']:,.0f} records/s", flush=True)
            if old_src:
                olds.append(in_child(run_paperfeed, args.listings, old_src))
                print(describe(f"old ({args.old_ref})", olds[-1]), flush=True)
            if args.serial:
                serials.append(in_child(run_paperfeed, args.listings, None, False))
                print(describe("one process", serials[-1]), flush=True)
            runs.append(in_child(run_paperfeed, args.listings))
            print(describe("paperfeed", runs[-1]), flush=True)
    floor = min(floors, key=lambda r: r["seconds"])
    best = min(runs, key=lambda r: r["seconds"])
    figures = {
        "bench": "ingest",
        "records": best["records"],
        "items": best["items"],
        "failed_files": len(best["failed"]),
        "records_per_s": round(best["records"] / best["seconds"]),
        "records_per_cpu_s": [round(run["records"] / run["cpu_seconds"]) for run in runs],
        "worker_cpu_s": [round(run["worker_cpu_seconds"], 2) for run in runs],
        "floor_records_per_s": round(floor["records"] / floor["seconds"]),
        "ratio_to_floor": round(best["seconds"] / floor["seconds"], 2),
        "first_quarter_records_per_s": round(best["first_quarter_records_per_s"]),
        "last_quarter_records_per_s": round(best["last_quarter_records_per_s"]),
        "peak_rss_mb": round(best["peak_rss_mb"]),
        "floor_peak_rss_mb": round(floor["peak_rss_mb"]),
    }
    if olds:
        new_cpu = sum(run["records"] / run["cpu_seconds"] for run in runs) / len(runs)
        old_cpu = sum(run["records"] / run["cpu_seconds"] for run in olds) / len(olds)
        figures.update({"old_ref": args.old_ref,
                        "old_records_per_s": [round(run["records"] / run["seconds"]) for run in olds],
                        "old_records_per_cpu_s": [round(run["records"] / run["cpu_seconds"]) for run in olds],
                        "cpu_change_vs_old": round(new_cpu / old_cpu - 1, 4)})
        print(f"records per CPU second, mean: old {old_cpu:,.0f}, this {new_cpu:,.0f} ({new_cpu / old_cpu - 1:+.1%})")
    if serials:
        one = min(serials, key=lambda r: r["seconds"])
        figures.update({"one_process_records_per_s": [round(run["records"] / run["seconds"]) for run in serials],
                        "one_process_records_per_cpu_s": [round(run["records"] / run["cpu_seconds"]) for run in serials],
                        "speedup_vs_one_process": round(one["seconds"] / best["seconds"], 3)})
        print(f"best wall: one process {one['seconds']:.2f} s, with the worker {best['seconds']:.2f} s "
              f"({one['seconds'] / best['seconds']:.2f}x)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
