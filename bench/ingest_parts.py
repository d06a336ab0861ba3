"""Three parts of the ingest's process, each against the way it was done before, alternating in one process.

Usage: python bench/ingest_parts.py SNAPSHOT.json STORE.db [--records N] [--rounds R]

- **pipe**: prepared records cross the pipe of ``ingest.ahead`` pickled. Pickling and unpickling batches of 1,000
  prepared records of the first N lines of SNAPSHOT (Kaggle schema; the ingest's garbage-collector thresholds), by
  position (``Record.__reduce__``, ``Prepared.__reduce__``) against the default of a slots dataclass (slot names
  and values; the methods are taken off the classes for those rounds). Microseconds a record, CPU; the unpickled batches must be equal.
- **receive**: the same pickled batches read back from a real pipe (a forked writer sending them with
  ``Connection.send_bytes`` through the 1 MB pipe the ingest asks for), with ``Connection.recv_bytes`` against
  ``ingest.ahead.MessageReader``. Milliseconds of the reading process's CPU a batch; the bytes must be equal (checked in a round of its own).
- **calendar**: the SELECT of ``DailyStorage._date_stored_records`` (each source record's three dates read from its
  JSON; since session 16 only for records an older paperfeed left undated, ingest writes the days made in
  ``prepare``) over the first N source records of STORE, by batches of 2,000 ids as ingest called it: the dates in a
  MATERIALIZED common table expression against the plain subquery it replaced (SQLite put the three JSON reads in
  place of each use: up to eight per record). Microseconds a record, CPU; the rows must be equal. STORE is only
  read (any store of Kaggle-schema records: a bootstrap's, or ``paperfeed ingest SNAPSHOT`` of a few 100,000 lines).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import pickle
import sqlite3
import statistics
import time
from multiprocessing.connection import Connection
from pathlib import Path

from paperfeed import prepare
from paperfeed.collector import BULK_GC_THRESHOLDS
from paperfeed.ingest.ahead import MessageReader, _widen
from paperfeed.prepare import Prepared
from paperfeed.records import ParseContext, Record

DOCUMENT = r"replace(data, '\u0000', '\ufffd')"
DATES = (f"SELECT id, item_id, json_extract({DOCUMENT}, '$.extra.picked_date') AS picked, "
         f"json_extract({DOCUMENT}, '$.extra.listing_date') AS listed, json_extract({DOCUMENT}, '$.published') AS published "
         "FROM source_records WHERE id > ? AND id <= ? AND NOT deleted AND format <> 'bibtex'")
DAYS = ("SELECT id, item_id, CASE WHEN picked IS NOT NULL THEN 'picked' WHEN listed IS NOT NULL THEN 'announced' "
        "ELSE 'published' END, coalesce(picked, listed, published) FROM {dated} "
        "WHERE coalesce(picked, listed, published) IS NOT NULL")
CALENDAR = {"subquery (before)": DAYS.format(dated=f"({DATES}) AS dated"),
            "materialized (now)": f"WITH dated AS MATERIALIZED ({DATES}) " + DAYS.format(dated="dated")}


def pipe_round(batches: list[list[Prepared]], positional: bool) -> tuple[float, float, list]:
    saved = Record.__reduce__, Prepared.__reduce__
    if not positional:
        del Record.__reduce__, Prepared.__reduce__
    try:
        started = time.process_time()
        blobs = [pickle.dumps(batch, protocol=5) for batch in batches]
        dumped = time.process_time() - started
        started = time.process_time()
        back = [pickle.loads(blob) for blob in blobs]
        loaded = time.process_time() - started
    finally:
        Record.__reduce__, Prepared.__reduce__ = saved
    return dumped, loaded, back


def receive_round(blobs: list[bytes], reader: bool, check: bool = False) -> float:
    """CPU seconds of reading ``blobs`` from a pipe (``check``: compare each with what was sent, untimed use)."""
    read_end, write_end = os.pipe()
    _widen(write_end)
    child = os.fork()  # the writer in a process of its own, as the worker: its CPU is not this process's
    if child == 0:
        os.close(read_end)
        sender = Connection(write_end, readable=False)
        for blob in blobs:
            sender.send_bytes(blob)
        os._exit(0)
    os.close(write_end)
    receiver = MessageReader(read_end) if reader else Connection(read_end, writable=False)
    read = receiver.next if reader else receiver.recv_bytes
    same = True
    started = time.process_time()
    for blob in blobs:
        message = read()
        if check:
            same = same and bytes(message) == blob
    seconds = time.process_time() - started
    os.waitpid(child, 0)
    receiver.close()
    assert same, "the bytes read differ from those sent"
    return seconds


def calendar_round(connection: sqlite3.Connection, sql: str, records: int) -> tuple[float, list]:
    rows: list = []
    started = time.process_time()
    for start in range(0, records, 2000):
        rows += connection.execute(sql, (start, start + 2000)).fetchall()
    return time.process_time() - started, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("store", type=Path)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with args.snapshot.open("rb") as lines:
        head = b"".join(itertools.islice(lines, args.records))
    _, prepared = prepare.parse(head, ParseContext(str(args.snapshot)), None, None)
    records = list(prepared)
    batches = [records[start:start + 1000] for start in range(0, len(records), 1000)]
    figures: dict[str, list[tuple[float, float]]] = {"slot names (before)": [], "by position (now)": []}
    gc.set_threshold(*BULK_GC_THRESHOLDS)  # as while ingest runs (young collections only, nearly)
    for _ in range(args.rounds):
        for name, positional in (("slot names (before)", False), ("by position (now)", True)):
            dumped, loaded, back = pipe_round(batches, positional)
            assert back == batches, "unpickled records differ"
            figures[name].append((dumped, loaded))
    print(f"pipe: {len(records):,} prepared records, batches of 1,000, {args.rounds} rounds (µs a record, CPU)")
    for name, rounds in figures.items():
        dumps = [1e6 * d / len(records) for d, _ in rounds]
        loads = [1e6 * l / len(records) for _, l in rounds]
        print(f"  {name:22} pickle {statistics.median(dumps):5.2f} (worker)  unpickle {statistics.median(loads):5.2f} "
              f"(ingest's process)  [{', '.join(f'{v:.2f}' for v in loads)}]")

    blobs = [pickle.dumps(batch, protocol=5) for batch in batches]
    reads: dict[str, list[float]] = {"recv_bytes (before)": [], "MessageReader (now)": []}
    receive_round(blobs, True, check=True)
    for _ in range(args.rounds):
        for name, reader in (("recv_bytes (before)", False), ("MessageReader (now)", True)):
            reads[name].append(receive_round(blobs, reader))
    size = sum(map(len, blobs)) / len(blobs) / 1e6
    print(f"receive: {len(blobs)} batches of {size:.1f} MB through a pipe (ms of CPU a batch, reading)")
    for name, seconds in reads.items():
        print(f"  {name:22} {1e3 * statistics.median(seconds) / len(blobs):5.2f}  "
              f"[{', '.join(f'{1e3 * s / len(blobs):.2f}' for s in seconds)}]")

    connection = sqlite3.connect(f"file:{args.store}?mode=ro", uri=True)
    connection.execute("PRAGMA cache_size=-524288")
    count = min(args.records, connection.execute("SELECT coalesce(max(id), 0) FROM source_records").fetchone()[0])
    connection.execute("SELECT count(data) FROM source_records WHERE id <= ?", (count,)).fetchone()  # cached
    timings: dict[str, list[float]] = {name: [] for name in CALENDAR}
    answers = {}
    for _ in range(args.rounds):
        for name, sql in CALENDAR.items():
            seconds, answers[name] = calendar_round(connection, sql, count)
            timings[name].append(seconds)
    assert len(set(map(tuple, answers.values()))) == 1 and answers, "the two forms give different rows"
    print(f"calendar: the dates of {count:,} source records of {args.store.name}, batches of 2,000 ids "
          f"(µs a record, CPU; {len(next(iter(answers.values()))):,} rows, equal)")
    for name, seconds in timings.items():
        print(f"  {name:22} {1e6 * statistics.median(seconds) / count:5.2f}  "
              f"[{', '.join(f'{1e6 * s / count:.2f}' for s in seconds)}]")


if __name__ == "__main__":
    main()
