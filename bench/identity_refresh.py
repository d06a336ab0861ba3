"""Memory, time and sameness of ``refresh_identities``: two source trees on copies of one SQLite store.

    python bench/identity_refresh.py STORE.db --old /path/to/old/src --new src [--items 5000] [--decisions]

Each refresh runs in a child process (``PYTHONPATH`` = that tree) that reports its RSS once the store is open,
its peak RSS during the refresh (``VmHWM``, reset through ``/proc/self/clear_refs`` after opening; Linux) and the
refresh's wall time. ``--chunk-slots`` is passed to the new tree's ``refresh_identities``. Steps, old and new
alternating:

1. a full refresh (``refresh_identities(store)``) on two copies of STORE: author identities must be equal row
   for row; people are compared as who is who (each person's name, author id and slot set), since
   brand-new people are numbered in a different order;
2. from the old full result, an incremental refresh of the newest ``--items`` items on two copies: identities,
   people and item_people must be equal row for row, person ids included.

``--decisions`` first writes a remembered split and a merge across two name blocks into the base copy, so
that blocks tied by decisions are exercised. Copies live in a temporary directory beside STORE.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, os, sys, time
from paperfeed.storage import open_store
from paperfeed.authors import refresh_identities

def status(field):
    with open("/proc/self/status") as lines:
        return next(int(line.split()[1]) for line in lines if line.startswith(field)) // 1024

path, items = sys.argv[1], json.loads(sys.argv[2])
chunk = {"chunk_slots": int(os.environ["BENCH_CHUNK_SLOTS"])} if os.environ.get("BENCH_CHUNK_SLOTS") else {}
with open_store(path) as store:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset the peak (VmHWM): what opening the store took is not the refresh's
    before = status("VmRSS:")
    start = time.perf_counter()
    merged = refresh_identities(store, items, **chunk)
    seconds = time.perf_counter() - start
    peak = status("VmHWM:")
print(json.dumps({"merged": merged, "seconds": round(seconds, 2), "rss_before_mb": before, "peak_rss_mb": peak,
                  "refresh_peak_mb": peak - before}))
"""


def refresh(src: str, path: Path, items: list[int] | None, chunk_slots: int | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(Path(src).resolve()), "BENCH_CHUNK_SLOTS": str(chunk_slots or "")}
    done = subprocess.run([sys.executable, "-c", CHILD, str(path), json.dumps(items)], env=env, check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def tables(path: Path) -> dict:
    with sqlite3.connect(path) as db:
        identities = db.execute("SELECT author_id, identity_id FROM author_identities ORDER BY 1").fetchall()
        people = db.execute("SELECT id, name, author_id FROM people ORDER BY id").fetchall()
        slots = db.execute("SELECT item_id, position, author_id, person_id FROM item_people ORDER BY 1, 2").fetchall()
    return {"identities": identities, "people": people, "item_people": slots}


def who_is_who(found: dict) -> set:
    """People without their ids: (name, author id, slots)."""
    slots: dict[int, list] = {}
    for item, position, author, person in found["item_people"]:
        slots.setdefault(person, []).append((item, position, author))
    return {(name, author, tuple(slots.get(person, ()))) for person, name, author in found["people"]}


def add_decisions(path: Path) -> None:
    """A split of one person's papers and a merge of two people of different name blocks, as raw decisions."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT ip.person_id, ip.item_id, ip.author_id, a.key FROM item_people ip "
                          "JOIN authors a ON a.id = ip.author_id ORDER BY ip.person_id, ip.item_id").fetchall()
        by_person: dict[int, list] = {}
        for person, item, author, key in rows:
            by_person.setdefault(person, []).append((item, author, key))
        big = [p for p, s in by_person.items() if len(s) >= 4]
        split = by_person[big[0]]
        first = by_person[big[1]]
        first_items = {item for item, _, _ in first}
        second = next(by_person[p] for p in big[2:] if by_person[p][0][2] != first[0][2]  # another name block
                      and not {item for item, _, _ in by_person[p]} & first_items)
        db.execute("INSERT INTO author_decisions (id, kind, created_at) VALUES (1, 'split', '2026-12-05'), "
                   "(2, 'merge', '2026-12-05')")
        db.executemany("INSERT INTO author_decision_slots (decision_id, side, item_id, author_id) VALUES (?, ?, ?, ?)",
                       [(1, 0, i, a) for i, a, _ in split[:2]] + [(1, 1, i, a) for i, a, _ in split[2:]]
                       + [(2, 0, i, a) for i, a, _ in first + second])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--old", required=True)
    parser.add_argument("--new", required=True)
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--decisions", action="store_true")
    parser.add_argument("--chunk-slots", type=int)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.store.parent) as tmp:
        base = Path(tmp) / "base.db"
        shutil.copy(args.store, base)
        if args.decisions:
            add_decisions(base)
        old_full, new_full = Path(tmp) / "old.db", Path(tmp) / "new.db"
        shutil.copy(base, old_full)
        shutil.copy(base, new_full)
        print("full old", refresh(args.old, old_full, None), flush=True)
        print("full new", refresh(args.new, new_full, None, args.chunk_slots), flush=True)
        old, new = tables(old_full), tables(new_full)
        print("full: identities equal", old["identities"] == new["identities"], len(old["identities"]),
              "| people equal (who is who)", who_is_who(old) == who_is_who(new), len(old["people"]), flush=True)
        with sqlite3.connect(old_full) as db:
            items = [row[0] for row in db.execute("SELECT id FROM items ORDER BY id DESC LIMIT ?", (args.items,))]
        new_inc = Path(tmp) / "new_inc.db"
        shutil.copy(old_full, new_inc)
        print("incremental old", refresh(args.old, old_full, items), flush=True)
        print("incremental new", refresh(args.new, new_inc, items, args.chunk_slots), flush=True)
        old, new = tables(old_full), tables(new_inc)
        print("incremental: rows equal", {name: old[name] == new[name] for name in old},
              {name: len(rows) for name, rows in old.items()})


if __name__ == "__main__":
    main()
