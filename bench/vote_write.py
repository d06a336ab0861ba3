"""What a vote and a comment cost to write, as the web routes write them (``set_vote``, ``add_comment``).

Usage: python bench/vote_write.py [--db URL] [--writes 2000]

Method. A store (a fresh SQLite file, or ``--db``: a PostgreSQL URL of an empty database) with one user and
200 items; then ``--writes`` votes (upvote, withdraw, upvote, … over the items: every one changes a row) and
``--writes // 4`` comments, each through the storage layer in its own transaction. Reports the median CPU time
of this process (``time.process_time``) and wall time per write. Run it once with the old code and once with
the new (``PYTHONPATH=…/src``), alternating, to compare. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from paperfeed.library import Accounts
from paperfeed.storage import open_store


def seed(store) -> tuple[int, list[int]]:
    user = Accounts(store).create("bench@example.org", "correct horse battery")
    with store.db.transaction():
        ids = [int(store.db.value("INSERT INTO items (kind, title, created_at, updated_at) "
                                  "VALUES ('paper', $1, '2026-01-01', '2026-01-01') RETURNING id", (f"paper {n}",)))
               for n in range(200)]
    return user, ids


def timed(write, count: int) -> tuple[float, float]:
    cpu, wall = [], []
    for n in range(count):
        c, w = time.process_time(), time.perf_counter()
        write(n)
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return statistics.median(cpu) * 1e6, statistics.median(wall) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=None)
    parser.add_argument("--writes", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        db = args.db or str(Path(directory) / "store.db")
        with open_store(db) as store:
            user, items = seed(store)
            vote_cpu, vote_wall = timed(
                lambda n: store.set_vote(user, items[n % len(items)], (n // len(items)) % 2 == 0), args.writes)
            comment_cpu, comment_wall = timed(
                lambda n: store.add_comment(items[n % len(items)], user, f"comment {n}", f"<p>comment {n}</p>", 1),
                args.writes // 4)
    print(json.dumps({"backend": "postgresql" if db.startswith("postgres") else "sqlite", "writes": args.writes,
                      "vote_cpu_us": round(vote_cpu, 1), "vote_wall_us": round(vote_wall, 1),
                      "comment_cpu_us": round(comment_cpu, 1), "comment_wall_us": round(comment_wall, 1)}))


if __name__ == "__main__":
    main()
