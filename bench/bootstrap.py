"""The whole-arXiv bootstrap: ``paperfeed ingest SNAPSHOT`` into a fresh SQLite store, phase by phase.

Usage: python bench/bootstrap.py SNAPSHOT.json [--embed-seconds S] [--queries N] [--workdir DIR]

SNAPSHOT is a file in the Kaggle ``arxiv-metadata-oai-snapshot.json`` schema (``bench/make_arxiv_snapshot.py``
makes one of any size). One run:

1. **floor** (the baseline, in the same run, so the ratio does not depend on the machine): a child process reads
   the same file a line at a time, ``orjson.loads`` each line and ``executemany``-inserts one bare row per record
   (id, title, authors, categories, abstract, raw line) into a fresh SQLite table in one transaction, as
   bench/ingest.py's floor does (streamed rather than held whole, as 4 GB would not fit).
2. **paperfeed**: the real command ``paperfeed --db STORE ingest SNAPSHOT`` as a subprocess, with its output
   piped (so no progress bar). Its phases are timed from outside: *ingest* ends when it prints its summary
   line; *keyword index* ends when the index's ``state.json`` has applied the store's whole change log; then the
   bench runs ``paperfeed search --mode keyword`` on N titles drawn (seeded) from the file and counts the
   queries whose paper is in the top 10 (*time to first usable keyword search*: from the start to the first
   answer); the phase named *embeddings* is all that follows the keyword index (author identities, the calendar,
   TL;DRs, then the embeddings catching up): after ``--embed-seconds`` (0: to the end) a hybrid search shows the
   "catching up" figure, the rate is measured and the process is stopped (the index resumes later, as after a
   crash) with its remaining time extrapolated at that rate, said so in the output.
   Peak memory is the largest sum of VmRSS over the process and its children, sampled every 0.2 s, per phase.

Prints one line per phase and ends with one JSON line of figures; the load (``uptime``) before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def floor(snapshot: Path, folder: Path) -> dict:
    """The bare parse-and-insert floor, in a child process; returns its figures."""
    code = r'''
import json, sqlite3, sys, time, resource, orjson
db = sqlite3.connect(sys.argv[2], isolation_level=None)
db.execute("PRAGMA journal_mode = WAL"); db.execute("PRAGMA synchronous = NORMAL")
db.execute("CREATE TABLE bare (id TEXT, title TEXT, authors TEXT, categories TEXT, abstract TEXT, raw TEXT)")
start = time.perf_counter(); count = 0; rows = []
db.execute("BEGIN")
with open(sys.argv[1], "rb") as handle:
    for line in handle:
        if not line.strip():
            continue
        r = orjson.loads(line)
        rows.append((r["id"], r["title"], r["authors"], r["categories"], r["abstract"], line.decode()))
        if len(rows) == 5000:
            db.executemany("INSERT INTO bare VALUES (?,?,?,?,?,?)", rows); count += len(rows); rows = []
db.executemany("INSERT INTO bare VALUES (?,?,?,?,?,?)", rows); count += len(rows)
db.execute("COMMIT")
print(json.dumps({"records": count, "seconds": time.perf_counter() - start,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''
    done = subprocess.run([PYTHON, "-c", code, str(snapshot), str(folder / "floor.db")], capture_output=True,
                          text=True, check=True)
    (folder / "floor.db").unlink()
    for extra in ("floor.db-wal", "floor.db-shm"):
        (folder / extra).unlink(missing_ok=True)
    return json.loads(done.stdout)


def tree_rss_mb(pid: int) -> float:
    """VmRSS of ``pid`` and all its descendants, in MB (0 when it is gone)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry))
            except (OSError, IndexError):
                continue
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        stack.extend(children.get(current, []))
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds of ``pid`` so far and of its children it has waited for (the ingest's worker,
    ``ingest.ahead``, once the ingest ends; None when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return sum(int(field) for field in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def sample_queries(snapshot: Path, count: int, seed: int = 7) -> list[tuple[str, str]]:
    """(arXiv id, title) of ``count`` lines drawn at random from the file (by byte offset)."""
    rng = random.Random(seed)
    size = snapshot.stat().st_size
    chosen = []
    with snapshot.open("rb") as handle:
        for _ in range(count):
            handle.seek(rng.randrange(size))
            handle.readline()
            line = handle.readline() or (handle.seek(0) or handle.readline())
            record = json.loads(line)
            chosen.append((record["id"], " ".join(record["title"].split())))
    return chosen


def cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "paperfeed", *args], capture_output=True, text=True, env=env)


def latest_change(store: Path) -> int:
    """The store's change-log position (0 when it cannot be read)."""
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT coalesce(max(seq), 0) FROM search_changes").fetchone()[0]
    except sqlite3.Error as error:
        print(f"change log not read yet: {error}", file=sys.stderr, flush=True)
        return 0


def keyword_applied(index_dir: Path, target: int) -> bool:
    """True when the keyword index has applied the change log up to ``target`` (where the ingest left it: the
    steps after the keyword index, TL;DRs among them, move the log on again)."""
    try:
        state = json.loads((index_dir / "state.json").read_text())
    except (OSError, ValueError):
        return False
    return target > 0 and state.get("keyword_seq", 0) >= target


def bootstrap(snapshot: Path, folder: Path, embed_seconds: float, queries: int) -> dict:
    store = folder / "store.db"
    index_dir = Path(f"{store}.search")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("CI", None)
    wanted = sample_queries(snapshot, queries)
    started = time.perf_counter()
    # SIGINT back to its default in the child: a bench started in the background of a non-interactive shell
    # (`nohup … &`) passes it on ignored, and the command would never see the Ctrl-C this bench sends.
    process = subprocess.Popen([PYTHON, "-m", "paperfeed", "--db", str(store), "ingest", str(snapshot)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    marks: dict[str, float] = {}
    output: list[str] = []

    def read(stream, name: str) -> None:
        for line in stream:
            output.append(f"{name}: {line.rstrip()}")
            if name == "stdout" and re.match(r"\d+ files: ", line):
                marks["ingest"] = time.perf_counter() - started

    readers = [threading.Thread(target=read, args=(process.stdout, "stdout"), daemon=True),
               threading.Thread(target=read, args=(process.stderr, "stderr"), daemon=True)]
    for reader in readers:
        reader.start()
    peaks = {"ingest": 0.0, "keyword": 0.0, "embeddings": 0.0}
    figures: dict = {}
    stopped = False
    cpu: dict[str, float] = {}
    wanted_seq: dict[str, int] = {}
    while process.poll() is None:
        phase = "ingest" if "ingest" not in marks else "keyword" if "keyword" not in marks else "embeddings"
        used = cpu_seconds(process.pid)
        if used is not None:
            cpu["last"] = used
            if "ingest" in marks and "ingest" not in cpu:
                cpu["ingest"] = used
        peaks[phase] = max(peaks[phase], tree_rss_mb(process.pid))
        if phase == "keyword" and not wanted_seq.get("target"):
            wanted_seq["target"] = latest_change(store)  # read once (again while unreadable), after the ingest
        if phase == "keyword" and keyword_applied(index_dir, wanted_seq["target"]):
            marks["keyword"] = time.perf_counter() - started
            cpu["keyword"] = cpu_seconds(process.pid) or cpu.get("last", 0.0)
            found = 0
            for number, (arxiv_id, title) in enumerate(wanted):
                answer = cli("--db", str(store), "search", "--mode", "keyword", "--json", "--limit", "10", title,
                             env=env)
                if answer.returncode == 0:
                    marks.setdefault("first_keyword_answer", time.perf_counter() - started)
                    if number == 0:
                        figures["first_keyword_search_seconds"] = round(
                            marks["first_keyword_answer"] - marks["keyword"], 2)
                    found += any(hit.get("arxiv_id") == arxiv_id for hit in json.loads(answer.stdout))
            figures["keyword_queries"] = len(wanted)
            figures["keyword_found_in_top_10"] = found
            marks["embeddings_start"] = time.perf_counter() - started
        if phase == "embeddings" and embed_seconds and \
                time.perf_counter() - started - marks["embeddings_start"] >= embed_seconds:
            hybrid = cli("--db", str(store), "search", "--mode", "hybrid", wanted[0][1], env=env)
            figures["catching_up_note"] = next((line for line in hybrid.stderr.splitlines() if "catching up" in line),
                                               hybrid.stderr.strip()[:300])
            state = json.loads((index_dir / "state.json").read_text())
            figures["vector_seq_at_stop"] = state.get("vector_seq", 0)
            figures["embed_progress_at_stop"] = embed_progress(store, folder)
            cpu["embeddings"] = cpu_seconds(process.pid) or cpu.get("last", 0.0)
            process.send_signal(signal.SIGINT)
            stopped = True
            interrupted = time.perf_counter()
            try:
                process.wait(120)
                figures["seconds_from_ctrl_c_to_exit"] = round(time.perf_counter() - interrupted, 1)
            except subprocess.TimeoutExpired:
                process.kill()
                figures["seconds_from_ctrl_c_to_exit"] = "over 120 (killed)"
            break
        time.sleep(0.2)
    process.wait()
    for reader in readers:
        reader.join(5)
    ended = time.perf_counter() - started

    def seconds(mark: str, since: str | None = None) -> float | None:
        if mark not in marks or (since and since not in marks):
            return None
        return round(marks[mark] - (marks[since] if since else 0.0), 1)

    figures.update({
        "exit_code": process.returncode,
        "ingest_seconds": seconds("ingest"),
        "keyword_index_seconds": seconds("keyword", "ingest"),
        "ingest_plus_keyword_seconds": seconds("keyword"),
        "first_usable_keyword_search_seconds": seconds("first_keyword_answer"),
        "embeddings_seconds": round(ended - marks.get("embeddings_start", ended), 1),
        "embeddings_finished": not stopped and process.returncode == 0,
        "peak_rss_mb": {name: round(value) for name, value in peaks.items()},
        "store_gb": round(sum(p.stat().st_size for p in folder.glob("store.db*") if p.is_file()) / 1e9, 2),
        "phases_done": sorted(marks),
        # CPU seconds of the paperfeed process itself per phase (the machine is shared: wall time counts others' work).
        "cpu_seconds": {"ingest": cpu.get("ingest"),
                        "keyword": cpu["keyword"] - cpu["ingest"] if "keyword" in cpu and "ingest" in cpu else None,
                        "embeddings": cpu["embeddings"] - cpu["keyword"] if "embeddings" in cpu and "keyword" in cpu
                        else None},
        "output_tail": output[-12:],
    })
    return figures


def embed_progress(store: Path, folder: Path) -> dict:
    """Vectors stored in the store so far and the items, read-only."""
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5) as db:
            return {"stored_vectors": db.execute("SELECT count(*) FROM item_vectors").fetchone()[0],
                    "items": db.execute("SELECT count(*) FROM items").fetchone()[0]}
    except sqlite3.Error as error:
        return {"error": str(error)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("--embed-seconds", type=float, default=120.0,
                        help="let the embeddings catch up this long, then stop and extrapolate (0: to the end)")
    parser.add_argument("--queries", type=int, default=20, help="keyword searches checked once the index is built")
    parser.add_argument("--workdir", type=Path, default=None, help="where the store goes (default: a temp dir)")
    parser.add_argument("--no-floor", action="store_true", help="skip the baseline")
    parser.add_argument("--keep", type=Path, default=None,
                        help="put the store in this (new) folder and keep it afterwards, to rerun a phase on it")
    args = parser.parse_args()
    if not args.snapshot.is_file():
        sys.exit(f"bench/bootstrap.py: {args.snapshot} not found (make one with bench/make_arxiv_snapshot.py)")
    figures: dict = {"bench": "bootstrap", "snapshot": str(args.snapshot),
                     "snapshot_bytes": args.snapshot.stat().st_size, "load_before": load()}
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=False)
    if args.workdir is not None:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
    with (contextlib.nullcontext(str(args.keep)) if args.keep is not None
          else tempfile.TemporaryDirectory(dir=args.workdir)) as name:
        folder = Path(name)
        if not args.no_floor:
            base = floor(args.snapshot, folder)
            figures["floor_records"] = base["records"]
            figures["floor_seconds"] = round(base["seconds"], 1)
            figures["floor_records_per_s"] = round(base["records"] / base["seconds"])
            print(f"floor: {base['records']:,} records in {base['seconds']:.1f} s", flush=True)
        run = bootstrap(args.snapshot, folder, args.embed_seconds, args.queries)
        figures.update(run)
        records = figures.get("floor_records")
        if records and "ingest" in run["phases_done"] and "keyword" in run["phases_done"]:
            figures["ingest_records_per_s"] = round(records / run["ingest_seconds"])
            figures["ingest_plus_keyword_records_per_s"] = round(records / run["ingest_plus_keyword_seconds"])
            figures["ingest_ratio_to_floor"] = round(run["ingest_seconds"] / figures["floor_seconds"], 2)
        progress = run.get("embed_progress_at_stop")
        if progress and progress.get("stored_vectors") and run["embeddings_seconds"]:
            rate = progress["stored_vectors"] / run["embeddings_seconds"]
            figures["embeddings_per_s"] = round(rate)
            figures["embeddings_remaining_seconds_extrapolated"] = round(
                (progress["items"] - progress["stored_vectors"]) / rate)
    figures["load_after"] = load()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
