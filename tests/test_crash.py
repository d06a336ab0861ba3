"""``kill -9`` in the middle of a large ingest: the store stays sound and a rerun completes it.

The input is built from the real arXiv listing (tests/data/jsonl/2026-02-27.jsonl): 60 daily
files of 500 records with rewritten ids, 10% of each day re-announcing papers of the day before
(so the rerun has merges to redo). 30,000 records is more than ``COMMIT_EVERY``, so the kill
lands after the first commit and before the end.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from paperfeed import ingest as ingest_module
from paperfeed.storage import open_store

DATA = Path(__file__).parent / "data"
LISTING = DATA / "jsonl" / "2026-02-27.jsonl"
DAYS, PER_DAY, REPEATED = 60, 500, 50
RECORDS = DAYS * PER_DAY
ITEMS = RECORDS - (DAYS - 1) * REPEATED

pytestmark = pytest.mark.slow


def build_input(folder: Path) -> list[Path]:
    """Write the daily listing files; return them in the order ingest reads them."""
    seen, base = set(), []
    for line in LISTING.read_text(encoding="utf-8").split("\n"):
        if line.strip() and line not in seen:
            seen.add(line)
            base.append(json.loads(line))
    folder.mkdir(parents=True)
    paths = []
    for day in range(1, DAYS + 1):
        lines = []
        for k in range(PER_DAY):
            record = dict(base[(day * PER_DAY + k) % len(base)])
            if day > 1 and k < REPEATED:
                arxiv_id = f"2601.{day - 1:02d}{PER_DAY - 1 - k:03d}"  # re-announced from the day before
            else:
                arxiv_id = f"2601.{day:02d}{k:03d}"
            record.update(id=arxiv_id, abs=f"https://arxiv.org/abs/{arxiv_id}", pdf=f"https://arxiv.org/pdf/{arxiv_id}",
                          title=f"{record['title']} [{arxiv_id}]")
            lines.append(json.dumps(record, ensure_ascii=False))
        name = f"2025-12-{day:02d}.jsonl" if day <= 31 else f"2026-01-{day - 31:02d}.jsonl"
        path = folder / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return sorted(paths)


def env() -> dict:
    values = {key: value for key, value in os.environ.items() if key != "PAPERFEED_DB"}
    values.update(CI="true")
    return values


def ingest_command(db: Path, target: Path) -> list[str]:
    # Keyword index only: the crash is about the store and the change log, not about embedding speed.
    return [sys.executable, "-m", "paperfeed", "--db", str(db), "ingest", "--no-vectors", str(target)]


def committed_items(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2)
        try:
            return connection.execute("SELECT count(*) FROM items").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.Error:
        return 0  # not created yet, or the schema is still being written


def integrity(db: Path) -> list:
    connection = sqlite3.connect(db)
    try:
        return connection.execute("PRAGMA integrity_check").fetchall()
    finally:
        connection.close()


def records_per_origin(db: Path) -> Counter:
    connection = sqlite3.connect(db)
    try:
        return Counter(dict(connection.execute("SELECT origin, count(*) FROM source_records GROUP BY origin")))
    finally:
        connection.close()


def content(db: Path) -> dict:
    """Items keyed by arXiv id (or title), without store-local ids and times."""
    with open_store(db) as store:
        found = {}
        for item in store.iter_items():
            key = item["arxiv_id"] or item["title"]
            assert key not in found, f"two items for {key}"
            sources = sorted((s["format"], s["record_id"], s["origin"], s["label"]) for s in item["sources"])
            found[key] = (item["kind"], item["title"], item["abstract"], tuple(item["authors"]), item["published"],
                          tuple(item["categories"]), item["url"], tuple(sources))
        return found


def reported(stdout: str) -> list[str]:
    """The command's lines but the one a load of 20,000 items or more adds when keyword search is ready (the rerun
    changes more or fewer items, by where the kill fell)."""
    return [line for line in stdout.splitlines() if not line.startswith("keyword search is ready: ")]


def test_kill_9_mid_ingest_leaves_a_sound_store_and_a_rerun_completes_it(tmp_path):
    assert RECORDS > ingest_module.COMMIT_EVERY, "the input must outgrow one commit for the kill to land mid-run"
    build_input(tmp_path / "days")
    target = tmp_path / "days"

    # An uninterrupted run for reference, side by side with the same run killed once something is committed.
    full_db, db = tmp_path / "full.db", tmp_path / "killed.db"
    reference = subprocess.Popen(ingest_command(full_db, target), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env=env())
    process = subprocess.Popen(ingest_command(db, target), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=env())
    deadline = time.monotonic() + 60
    try:
        while committed_items(db) == 0:
            assert process.poll() is None, f"ingest ended before anything was seen committed: {process.stderr.read()!r}"
            assert time.monotonic() < deadline, "nothing was committed within 60 s"
            time.sleep(0.02)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        process.stderr.close()
        out, err = reference.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL, "the ingest finished before the kill: make the input bigger"
    assert reference.returncode == 0, err
    assert reported(out)[-2] == f"{DAYS} files: {ITEMS} new, {RECORDS - ITEMS} merged, 0 unchanged, 0 failed"
    assert reported(out)[-1].startswith(f"search index: {ITEMS} indexed")
    assert f"\nkeyword search is ready: {ITEMS:,} papers indexed in " in out  # a load this large says so

    assert integrity(db) == [("ok",)]
    with open_store(db) as store:
        assert store.check_integrity() == []
        partial_items = store.item_count()
    assert 0 < partial_items < ITEMS
    # What was committed is whole files only.
    partial, complete = records_per_origin(db), records_per_origin(full_db)
    assert partial and all(partial[origin] == complete[origin] for origin in partial), partial

    # Rerunning the same ingest completes it.
    rerun = subprocess.run(ingest_command(db, target), capture_output=True, text=True, env=env(), timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    done_before = sum(partial.values())
    new, merged = ITEMS - partial_items, RECORDS - done_before - (ITEMS - partial_items)
    summary = f"{DAYS} files: {new} new, {merged} merged, {done_before} unchanged, 0 failed"
    assert reported(rerun.stdout)[-2] == summary
    # The killed run never reached indexing; the rerun indexes every item, the killed run's included.
    assert reported(rerun.stdout)[-1].startswith(f"search index: {ITEMS} indexed")
    assert integrity(db) == [("ok",)]
    with open_store(db) as store, open_store(full_db) as reference:
        assert store.check_integrity() == []
        assert store.item_count() == reference.item_count() == ITEMS
        mine, theirs = store.stats(), reference.stats()
        assert mine == theirs
        assert mine["source_records"] == RECORDS and mine["merged_items"] == (DAYS - 1) * REPEATED
    assert records_per_origin(db) == records_per_origin(full_db)
    assert content(db) == content(full_db)
