"""What a store of the real listings weighs on each backend, and what moving it costs.

Usage: python bench/store_sizes.py LISTINGS.tar.xz [--limit N]

- Builds a SQLite store of the listings as a user would: ``paperfeed ingest``, ``paperfeed index`` (keyword
  and WordLlama vectors), ``paperfeed topics tag``.
- Copies it into a fresh PostgreSQL database with ``paperfeed copy`` (timed), then ``paperfeed index`` there
  (the full text in the database; vectors are reused from the copied ``item_vectors``), and ``pg_dump
  --format=custom`` of it (timed).
- Reports the SQLite file and its index directory, the PostgreSQL database, its largest tables with
  their indexes, and the per-host vector index directory. PostgreSQL is a throwaway server
  (tests/pg_server.py). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # pg_server.py

MB = 1024 * 1024


def paperfeed(db: str, *args: str, env: dict) -> float:
    """Run one paperfeed command; return its wall time in seconds (a failure ends the bench)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "paperfeed", "--db", db, *args], env=env, capture_output=True,
                          text=True)
    if done.returncode != 0:
        sys.exit(f"bench/store_sizes.py: paperfeed {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return round(time.perf_counter() - started, 1)


def folder_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / MB, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("listings")
    parser.add_argument("--limit", type=int, help="only the first N listing days (a quick run)")
    args = parser.parse_args()
    if not Path(args.listings).is_file():
        print(f"bench/store_sizes.py: {args.listings} not found (the data lives in ../shared/data)", file=sys.stderr)
        return 2
    from pg_server import SUPERUSER, PostgresServer

    figures: dict = {"bench": "store_sizes"}
    with tempfile.TemporaryDirectory(prefix="bench-sizes-") as folder:
        folder = Path(folder)
        days = folder / "days"
        days.mkdir()
        with tarfile.open(args.listings, "r:*") as archive:
            members = sorted((m for m in archive if m.isfile()), key=lambda m: m.name)[: args.limit]
            for member in members:
                (days / Path(member.name).name).write_bytes(archive.extractfile(member).read())
        sqlite_db = str(folder / "store.db")
        env = {**os.environ, "CI": "1", "PAPERFEED_EMBEDDER": "wordllama"}
        figures["sqlite_ingest_s"] = paperfeed(sqlite_db, "ingest", "--no-index", str(days), env=env)
        figures["sqlite_index_s"] = paperfeed(sqlite_db, "index", env=env)
        figures["topics_tag_s"] = paperfeed(sqlite_db, "topics", "tag", env=env)
        from paperfeed.storage import open_store

        with open_store(sqlite_db) as store:
            figures["items"] = store.item_count()
        figures["sqlite_file_mb"] = round(Path(sqlite_db).stat().st_size / MB, 1)
        figures["sqlite_index_dir_mb"] = folder_mb(Path(f"{sqlite_db}.search"))

        server = PostgresServer().start()
        try:
            url = server.create_database("bench_sizes")
            pg_env = {**env, "PAPERFEED_INDEX_DIR": str(folder / "pg-index")}
            figures["copy_sqlite_to_postgres_s"] = paperfeed(sqlite_db, "copy", "--from", sqlite_db, "--to", url,
                                                             env=pg_env)
            figures["postgres_index_s"] = paperfeed(url, "index", env=pg_env)
            figures["postgres_vector_dir_mb"] = folder_mb(folder / "pg-index")
            import psycopg

            with psycopg.connect(url, autocommit=True) as conn:
                figures["postgres_database_mb"] = round(
                    conn.execute("SELECT pg_database_size(current_database())").fetchone()[0] / MB, 1)
                figures["postgres_tables_mb"] = {
                    name: round(size / MB, 1) for name, size in conn.execute(
                        "SELECT relname, pg_total_relation_size(relid) FROM pg_catalog.pg_statio_user_tables "
                        "ORDER BY 2 DESC LIMIT 8")}
            dump = server.root / "store.dump"  # the server's own directory: pg_dump may run as its user
            started = time.perf_counter()
            done = server._run("pg_dump", "--format=custom", "-h", "127.0.0.1", "-p", str(server.port),
                               "-U", SUPERUSER, "-f", str(dump), "bench_sizes", timeout=1800)
            if done.returncode != 0:
                sys.exit(f"bench/store_sizes.py: pg_dump failed: {done.stderr.strip()[-500:]}")
            figures["pg_dump_s"] = round(time.perf_counter() - started, 1)
            figures["pg_dump_mb"] = round(dump.stat().st_size / MB, 1)
        finally:
            server.stop()
    for name, value in figures.items():
        print(f"{name:28} {value}", file=sys.stderr)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
