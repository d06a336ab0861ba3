"""The steps after a large ingest that keep its command running after keyword search works: author identities and
TL;DRs, timed on copies of one SQLite store, this code against git REF's, alternating, with their results compared.

Usage: python bench/after_ingest.py STORE.db --old-ref REF [--repeat N] [--steps identities,tldr,after,all,day]
       [--day FILE]

STORE is a SQLite store holding ingested items (``paperfeed ingest --no-index FILE``, stopped with Ctrl-C once it
printed its summary line, is quickest; a store whose steps ran is fine too). A base copy has its identities,
people and TL;DRs deleted, so each step starts as it does after a bootstrap; each measurement then runs in a fresh
interpreter (``PYTHONPATH`` = that code's ``src``) on its own copy of the base:

- **identities**: ``authors.refresh_identities(store, every item id)``, what ``pipeline.after_ingest`` runs after
  a first ingest (every item changed);
- **day**: a day's increment: the base with every identity decided (once, by this code), ``--day FILE`` ingested
  into a copy (not timed), then ``refresh_identities(store, the items it added or changed)``, what a daily
  ``paperfeed ingest`` or sync runs (the name blocks of the new papers' authors, decided again);
- **tldr**: ``summaries.service.extractive_step(store, every item id)``;
- **after**: ``pipeline.after_ingest(store, Settings(), every item id, tag=False, index=False)``: both of the above
  and the calendar, as the command runs them (since session 11 the TL;DRs in a second process beside the
  identities: its CPU is counted in ``cpu_seconds``, its memory is not in the peak);
- **all**: the same with the search indexes, as ``paperfeed ingest`` runs it: the keyword index built, then the
  identities, calendar, TL;DRs and the embeddings (WordLlama; the index directory beside the copy).

Reported per run: wall and CPU seconds, peak RSS of the child (``VmHWM``; Linux). After each pair the results are compared: author
identities row for row; people as who is who (name, author id and slot set: brand-new people are numbered chunk by
chunk); TL;DRs by item (text, origin, abstract hash). Identity results that differ also say how far: the slots whose
person (as its set of slots) is not the same (since session 27 a day's refresh leaves the people of a block's names
its papers do not give as they were, where older code decided them again). Copies live in a temporary folder beside
STORE (each as large as STORE). Ends with one JSON line of figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import old_source  # noqa: E402

CHILD = """
import json, resource, sys, time
from paperfeed.storage import open_store

step, path = sys.argv[1], sys.argv[2]
with open_store(path) as store:
    if step == "day":  # a day's papers into a store whose identities are decided (not timed), then their refresh
        from paperfeed.ingest import Ingester
        ids = Ingester(store).ingest_paths([sys.argv[3]]).changed_item_ids
    else:
        ids = store.item_ids_after(0, 10**9)
    wall, cpu = time.perf_counter(), time.process_time()
    if step in ("identities", "day"):
        from paperfeed.authors import refresh_identities
        done = refresh_identities(store, ids)
    elif step in ("after", "all"):
        from paperfeed.config import Settings
        from paperfeed.pipeline import after_ingest
        if step == "after":
            report = after_ingest(store, Settings(), ids, tag=False, index=False)
        else:  # the keyword index, the identities, the calendar, the TL;DRs and the embeddings
            import threading
            ready = {}
            latest = store.store_version()

            def watch():  # when the vectors cover every change (semantic search complete), from the state file
                import orjson, pathlib
                state = pathlib.Path(path + ".search") / "state.json"
                while "semantic" not in ready:
                    try:
                        if orjson.loads(state.read_bytes()).get("vector_seq", 0) >= latest:
                            ready["semantic"] = round(time.perf_counter() - wall, 1)
                    except (OSError, ValueError):
                        pass
                    time.sleep(0.5)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            report = after_ingest(store, Settings.load(db=path), ids, tag=False)
            watcher.join(timeout=2)  # the vectors are current now: its next look (every 0.5 s) sees it
        assert report.ok, report.errors
        done = [report.identities_merged, report.tldr.extractive]
        if step == "all":
            done += [report.index.indexed, report.index.embedded, {"semantic_ready_s": ready.get("semantic")}]
    else:
        from paperfeed.summaries.service import extractive_step
        done = extractive_step(store, ids)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu += children.ru_utime + children.ru_stime  # a second process's, where the step started one
# VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's resident size (Linux keeps it across the
# exec), and this bench's parent holds the last run's results.
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) // 1024
print(json.dumps({"items": len(ids), "done": done, "seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
                  "peak_rss_mb": peak}))
"""


def measure(src: str, step: str, path: Path, *extra: str) -> dict:
    env = {**os.environ, "PYTHONPATH": src}
    env.pop("CI", None)
    done = subprocess.run([sys.executable, "-c", CHILD, step, str(path), *extra], env=env, check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def results(path: Path, step: str):
    with sqlite3.connect(path) as db:
        tldrs = db.execute("SELECT item_id, text, origin, abstract_hash FROM item_tldrs ORDER BY item_id").fetchall()
        if step == "tldr":
            return tldrs
        identities = db.execute("SELECT author_id, identity_id FROM author_identities ORDER BY 1").fetchall()
        slots: dict[int, list] = {}
        for item, position, author, person in db.execute(
                "SELECT item_id, position, author_id, person_id FROM item_people ORDER BY 1, 2"):
            slots.setdefault(person, []).append((item, position, author))
        people = {(name, author, tuple(slots.get(person, ())))
                  for person, name, author in db.execute("SELECT id, name, author_id FROM people")}
        return (identities, people, tldrs) if step in ("after", "all") else (identities, people)


def differences(old: tuple, new: tuple) -> str:
    """How far two identity results differ: identities row for row, and the slots whose person (as the set of
    slots it holds, ids aside) is not the same."""
    def person_of(people: set) -> dict:
        return {slot: slots for _, _, slots in people for slot in slots}

    before, after = person_of(old[1]), person_of(new[1])
    differing = sum(1 for slot, slots in before.items() if after.get(slot) != slots) + len(after.keys() - before)
    return (f"identities the same: {old[0] == new[0]}; slots whose person differs: {differing:,} of "
            f"{len(before.keys() | after.keys()):,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--old-ref", required=True, metavar="REF")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--steps", default="identities,tldr")
    parser.add_argument("--day", type=Path, help="the day step's input: records to ingest (JSON Lines, say)")
    args = parser.parse_args()
    if not args.store.exists():
        sys.exit(f"bench/after_ingest.py: {args.store}: no such store")
    if "day" in args.steps.split(",") and not (args.day and args.day.exists()):
        sys.exit("bench/after_ingest.py: the day step needs --day FILE (records to ingest)")
    new_src = str(Path(__file__).resolve().parent.parent / "src")
    figures: dict = {"bench": "after_ingest", "store": str(args.store), "old_ref": args.old_ref}
    with tempfile.TemporaryDirectory(dir=args.store.parent) as folder:
        old_src = old_source(args.old_ref, folder)
        base = Path(folder) / "base.db"
        source, db = sqlite3.connect(args.store), sqlite3.connect(base)
        source.backup(db)
        source.close()
        db.executescript("DELETE FROM item_people; DELETE FROM people; DELETE FROM author_identities; "
                         "DELETE FROM item_tldrs;")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # into the file itself: each copy is of that file alone
        db.close()
        for step in args.steps.split(","):
            start, extra = base, ()
            if step == "day":  # its start: the base with every identity decided (by this code), then the day's file
                start, extra = Path(folder) / "decided.db", (str(args.day.resolve()),)
                shutil.copy(base, start)
                print(f"day: base decided in {measure(new_src, 'identities', start)['seconds']} s", flush=True)
            runs: dict[str, list[dict]] = {"old": [], "new": []}
            same = True
            for number in range(args.repeat):
                found = {}
                for name, src in (("old", old_src), ("new", new_src)):
                    work = Path(folder) / f"{name}.db"
                    shutil.copy(start, work)
                    run = measure(src, step, work, *extra)
                    runs[name].append(run)
                    print(f"{step} {name} ({args.old_ref if name == 'old' else 'this tree'}), run {number + 1}: "
                          f"{json.dumps(run)}", flush=True)
                    found[name] = results(work, step)
                    work.unlink()
                    shutil.rmtree(f"{work}.search", ignore_errors=True)
                same = same and found["old"] == found["new"]
                print(f"{step}: the same results: {found['old'] == found['new']}", flush=True)
                if found["old"] != found["new"] and step in ("identities", "day"):
                    print(f"{step}: {differences(found['old'], found['new'])}", flush=True)
            figures[step] = {name: {"seconds": [r["seconds"] for r in rs], "cpu_seconds": [r["cpu_seconds"] for r in rs],
                                    "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
                                    "us_per_item_cpu": round(statistics.mean(r["cpu_seconds"] for r in rs)
                                                             / rs[0]["items"] * 1e6, 1)}
                             for name, rs in runs.items()}
            figures[step]["items"] = runs["new"][0]["items"]
            figures[step]["same_results"] = same
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
