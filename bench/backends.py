"""SQLite against PostgreSQL on the same corpus, in the same run: ingest, keyword search, the daily page, and
two concurrent ingests into one PostgreSQL store.

Usage: python bench/backends.py LISTINGS.tar.xz [--hf HF.tar.xz] [--limit N] [--queries 1000]
                                [--workers 4] [--clients 50] [--seconds 20] [--no-durable]

- Corpus: the daily listings (72,790 records, ~48,000 items), or their first ``--limit`` records in day
  order (a quick run: ``--limit 2000``).
- PostgreSQL: a throwaway server from Debian's binaries (tests/pg_server.py) on loopback, switched back to
  durable commits (fsync, synchronous_commit, full_page_writes on, as a production server runs; the tests'
  server has them off) unless ``--no-durable``. SQLite runs as paperfeed opens it (WAL, synchronous=NORMAL).
- Ingest: ``Ingester.ingest_inputs`` over the members already decompressed in memory, in a fresh child
  process per backend (as bench/ingest.py): records/s.
- Keyword search: the keyword index built through ``paperfeed.search.open_indexer`` (tantivy beside the SQLite
  file; PostgreSQL's full text in the database), then ``SearchService.search(q, mode="keyword", limit=10)``
  per query in a fresh child process, after 20 warm-up queries; the queries are bench/search.py's (half
  Hugging Face ``ai_keywords`` with ``--hf``, the rest 2-5 consecutive words of real titles): p50/p99.
- Daily page: ``paperfeed serve --workers N`` in a subprocess per backend, loaded by bench/web.py's client
  (``--clients`` keep-alive connections for ``--seconds`` after a 3 s warm-up) on ``/``: requests/s, p99;
  once as served (the rendered-page cache answers after the first view) and once with the cache off.
- Concurrency: the listing days are written out as files; two ``paperfeed ingest`` processes start at once
  on one fresh PostgreSQL database, the first with the first two thirds of the days, the second with the
  last two thirds in reverse order (the middle third in both). The store must then hold exactly the items
  and source records of the single ingest of every day above, and no arXiv id twice.
Prints figures as it goes and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # pg_server.py: the throwaway PostgreSQL server of the tests
from children import in_child  # noqa: E402  (bench/children.py; bench/ is first on the path of a script)


def _bench_module(name: str):
    """bench/<name>.py as a module (bench/ is not a package); imported as bench_<name>."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def log(message: str) -> None:
    print(message, flush=True)


def load_members(path: str, limit: int | None) -> list[tuple[str, bytes]]:
    """The listing days in name (day) order, decompressed; cut after ``limit`` records when given."""
    members, records = [], 0
    with tarfile.open(path, "r:*") as archive:
        for member in sorted((m for m in archive if m.isfile()), key=lambda m: m.name):
            lines = [line for line in archive.extractfile(member).read().splitlines() if line.strip()]
            if limit is not None:
                lines = lines[:max(0, limit - records)]
            if lines:
                members.append((Path(member.name).name, b"\n".join(lines) + b"\n"))
                records += len(lines)
            if limit is not None and records >= limit:
                break
    return members


def listing_papers(members: list[tuple[str, bytes]]) -> list[dict]:
    """Distinct papers (first sighting) of the members, for the query set."""
    import orjson

    papers: dict[str, dict] = {}
    for name, data in members:
        for line in data.splitlines():
            record = orjson.loads(line)
            record["day"] = Path(name).stem
            papers.setdefault(record["id"], record)
    return list(papers.values())


# -- child processes: each measurement starts from a fresh interpreter ---------------------------------


def run_ingest(url: str, listings: str, limit: int | None, queue) -> None:
    from paperfeed.ingest import Ingester
    from paperfeed.inputs import InputFile
    from paperfeed.storage import open_store

    members = load_members(listings, limit)
    with open_store(url) as store:
        started = time.perf_counter()
        report = Ingester(store).ingest_inputs(
            [InputFile(f"{listings}!{name}", name, lambda d=data: d, len(data)) for name, data in members])
        seconds = time.perf_counter() - started
        figures = store.stats()
    queue.put({"records": sum(r.records for r in report.files), "seconds": seconds,
               "failed": [r.origin for r in report.files if r.failed], "items": figures["items"],
               "source_records": figures["source_records"]})


def run_search(url: str, index_dir: str, queries: list[str], queue) -> None:
    import numpy as np

    from paperfeed.config import Settings
    from paperfeed.search import open_search
    from paperfeed.storage import open_store

    with open_store(url) as store:
        service = open_search(store, Settings.load(db=url, embedder="none", index_dir=index_dir))
        for query in queries[:20]:  # warm caches, as a running server would be
            service.search(query, mode="keyword", limit=10)
        times, empty = [], 0
        for query in queries:
            started = time.perf_counter()
            results = service.search(query, mode="keyword", limit=10)
            times.append((time.perf_counter() - started) * 1000)
            empty += not results.hits
    queue.put({"queries": len(times), "no_hits": empty, "p50_ms": round(float(np.percentile(times, 50)), 2),
               "p99_ms": round(float(np.percentile(times, 99)), 2), "mean_ms": round(float(np.mean(times)), 2)})


# -- steps ----------------------------------------------------------------------------------------------


def prepare(url: str, index_dir: str) -> dict:
    """Build the keyword index, as `ingest` would; the daily calendar is written by ingest (refresh finds it done)."""
    from paperfeed.config import Settings
    from paperfeed.search import open_indexer
    from paperfeed.storage import open_store

    with open_store(url) as store:
        started = time.perf_counter()
        report = open_indexer(store, Settings.load(db=url, embedder="none", index_dir=index_dir),
                              vectors=False).update()
        index_seconds = time.perf_counter() - started
        store.refresh_daily_dates()
    return {"index_s": round(index_seconds, 1), "indexed": report.indexed}


def daily_page_load(url: str, index_dir: str, workers: int, clients: int, seconds: float, web) -> dict:
    """``/`` as served (from the rendered-page cache after the first view), then rendered for every request."""
    results = {}
    for name, page_cache in (("cached", "60"), ("rendered", "0")):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "PAPERFEED_EMBEDDER": "none", "PAPERFEED_SYNC_INTERVAL": "0",
               "PAPERFEED_INDEX_DIR": index_dir, "PAPERFEED_SECRET_KEY": "bench-backends-signing-key", "CI": "1",
               "PAPERFEED_PAGE_CACHE_SECONDS": page_cache}
        server = subprocess.Popen([sys.executable, "-m", "paperfeed", "--db", url, "serve", "--port", str(port),
                                   "--workers", str(workers)], env=env)
        try:
            web._wait(port)
            per_client = [[(web.get("/", f"127.0.0.1:{port}"), None)]] * clients  # bench/web.py's client
            web.load("127.0.0.1", port, per_client, 3.0)  # warm every worker's pool
            results[name] = web.load("127.0.0.1", port, per_client, seconds)
        finally:
            server.terminate()
            server.wait(30)
    return results


def concurrent_ingest(url: str, files: list[Path]) -> dict:
    third = max(1, len(files) // 3)
    first = files[:2 * third] if len(files) > 2 else files
    second = list(reversed(files[third:])) if len(files) > 2 else list(reversed(files))
    command = [sys.executable, "-m", "paperfeed", "--db", url]
    env = {**os.environ, "CI": "1"}
    subprocess.run([*command, "init"], check=True, capture_output=True, env=env)
    started = time.perf_counter()
    runs = [subprocess.Popen([*command, "ingest", "--no-index", *map(str, paths)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env) for paths in (first, second)]
    outputs = [run.communicate() for run in runs]
    seconds = time.perf_counter() - started
    from paperfeed.storage import open_store

    with open_store(url) as store:
        figures = store.stats()
        duplicated = store.read_rows("SELECT count(*) FROM (SELECT arxiv_id FROM items WHERE arxiv_id IS NOT NULL "
                                     "GROUP BY arxiv_id HAVING count(*) > 1) d")[0][0]
    return {"exit_statuses": [run.returncode for run in runs], "seconds": round(seconds, 1),
            "files": [len(first), len(second)], "items": figures["items"],
            "source_records": figures["source_records"], "duplicate_arxiv_ids": duplicated,
            "last_stderr_lines": [(output[1].strip().splitlines() or [""])[-1] for output in outputs]}


def start_postgres(durable: bool):
    from pg_server import PostgresServer, PostgresUnavailable

    try:
        server = PostgresServer().start()
    except PostgresUnavailable as error:
        sys.exit(f"bench/backends.py: {error}")
    if durable:
        # The tests' server runs with fsync, synchronous_commit and full_page_writes off (command-line options,
        # which ALTER SYSTEM cannot override): restart it without them, as a production server runs.
        options = f"-p {server.port} -k {server.root} -c listen_addresses=127.0.0.1 -c max_connections=100"
        done = server._run("pg_ctl", "-D", str(server.data), "-l", str(server.log), "-o", options, "-w", "-t", "60",
                           "restart")
        import psycopg

        state = {}
        if done.returncode == 0:
            with psycopg.connect(server.url(), autocommit=True) as conn:
                state = {name: conn.execute(f"SHOW {name}").fetchone()[0]
                         for name in ("fsync", "synchronous_commit", "full_page_writes")}
        if set(state.values()) != {"on"}:
            server.stop()
            sys.exit(f"bench/backends.py: could not restart PostgreSQL durable: {state or done.stderr}")
    return server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("listings", help="arxiv_daily_listings_*.tar.xz from ../shared/data/arxiv-daily-listings")
    parser.add_argument("--hf", help="hf_daily_papers_*.tar.xz: half the queries are its ai_keywords")
    parser.add_argument("--limit", type=int, help="only the first N records, in day order (a quick run)")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4, help="paperfeed serve --workers for the daily page")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0, help="load time of the daily page per backend")
    parser.add_argument("--no-durable", action="store_true",
                        help="leave the PostgreSQL server as the tests run it (fsync and synchronous commit off)")
    args = parser.parse_args()
    for path in (args.listings, args.hf):
        if path and not Path(path).is_file():
            print(f"bench/backends.py: {path} not found (the data lives in ../shared/data)", file=sys.stderr)
            return 2
    search_bench, web = _bench_module("search"), _bench_module("web")

    members = load_members(args.listings, args.limit)
    papers = listing_papers(members)
    keywords = search_bench.read_keywords(args.hf) if args.hf else []
    queries = search_bench.make_queries(papers, keywords, args.queries)
    records = sum(data.count(b"\n") for _, data in members)
    log(f"{records:,} records in {len(members)} days, "
        f"{len(papers):,} distinct papers; {len(queries):,} queries ({min(len(keywords), args.queries // 2)} "
        "Hugging Face keywords)")

    figures: dict = {"bench": "backends", "limit": args.limit, "workers": args.workers, "clients": args.clients,
                     "seconds": args.seconds, "pg_durable": not args.no_durable, "cpus": os.cpu_count()}
    server = start_postgres(durable=not args.no_durable)
    with tempfile.TemporaryDirectory(prefix="bench-backends-") as folder:
        folder = Path(folder)
        try:
            stores = {"sqlite": str(folder / "bench.db"), "postgres": server.create_database("bench_backends")}
            for backend, url in stores.items():
                index_dir = str(folder / f"index-{backend}")
                ingested = in_child(run_ingest, url, args.listings, args.limit)
                entry = {"records": ingested["records"], "items": ingested["items"],
                         "source_records": ingested["source_records"], "failed_files": len(ingested["failed"]),
                         "ingest_s": round(ingested["seconds"], 1),
                         "ingest_records_per_s": round(ingested["records"] / ingested["seconds"])}
                log(f"{backend:8} ingest: {entry['records']:,} records in {entry['ingest_s']} s = "
                    f"{entry['ingest_records_per_s']:,} records/s -> {entry['items']:,} items")
                entry.update(prepare(url, index_dir))
                log(f"{backend:8} keyword index: {entry['indexed']:,} items in {entry['index_s']} s")
                entry["keyword_search"] = in_child(run_search, url, index_dir, queries)
                search = entry["keyword_search"]
                log(f"{backend:8} keyword search: p50 {search['p50_ms']} ms, p99 {search['p99_ms']} ms "
                    f"({search['queries']} queries, {search['no_hits']} without hits)")
                entry["daily_page"] = daily_page_load(url, index_dir, args.workers, args.clients, args.seconds, web)
                for how, page in entry["daily_page"].items():
                    log(f"{backend:8} / ({how}): {page['rps']:,.1f} req/s, p50 {page['p50_ms']} ms, "
                        f"p99 {page['p99_ms']} ms, errors {page['errors']}"
                        + (f" (first: {page['first_error']})" if page["errors"] else ""))
                figures[backend] = entry

            days = folder / "days"
            days.mkdir()
            files = []
            for name, data in members:
                (days / name).write_bytes(data)
                files.append(days / name)
            together = concurrent_ingest(server.create_database("bench_concurrent"), files)
            expected = figures["postgres"]
            together["expected_items"] = expected["items"]
            together["expected_source_records"] = expected["source_records"]
            together["ok"] = (together["exit_statuses"] == [0, 0] and together["items"] == expected["items"]
                              and together["source_records"] == expected["source_records"]
                              and together["duplicate_arxiv_ids"] == 0)
            log(f"two concurrent ingests ({together['files'][0]} + {together['files'][1]} days, overlapping): "
                f"{together['items']:,} items (one ingest: {expected['items']:,}), "
                f"{together['source_records']:,} source records (one ingest: {expected['source_records']:,}), "
                f"{together['duplicate_arxiv_ids']} duplicated arXiv ids, {together['seconds']} s: "
                + ("OK" if together["ok"] else "MISMATCH"))
            figures["concurrent_ingest"] = together
        finally:
            server.stop()
    figures["postgres_to_sqlite"] = {
        "ingest_records_per_s": round(figures["postgres"]["ingest_records_per_s"]
                                      / figures["sqlite"]["ingest_records_per_s"], 2),
        "keyword_p99": round(figures["postgres"]["keyword_search"]["p99_ms"]
                             / max(figures["sqlite"]["keyword_search"]["p99_ms"], 0.01), 2),
        **{f"daily_rps_{how}": round(figures["postgres"]["daily_page"][how]["rps"]
                                     / max(figures["sqlite"]["daily_page"][how]["rps"], 0.1), 2)
           for how in ("cached", "rendered")},
    }
    print(json.dumps(figures))
    return 0 if figures["concurrent_ingest"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
