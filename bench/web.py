"""Web throughput and latency: 50 concurrent keep-alive clients on loopback against `paperfeed serve --workers N`.

Usage: python bench/web.py PATH_TO_LISTINGS.tar.xz [--items 50000] [--workers 2] [--seconds 30] [--clients 50]

- Store: the newest listing days of the archive, ingested into a fresh SQLite store until it holds at least
  ``--items`` items, keyword-indexed (no vectors: the semantic side is measured by bench/search.py), topics
  tagged so topic pages have their real size.
- Server: ``paperfeed serve --workers N`` in a subprocess, as a user runs it.
- Load: an asyncio HTTP/1.1 client in this process, ``--clients`` connections, each sending its next request
  when the last answer is read, for ``--seconds`` per page: ``/``, the busiest topic's page, item pages
  (cycling over 500 items), ``/api/v1/search`` (cycling over 50 words), ``search-varied`` (``/api/v1/search``
  over 300 runs of 1–3 title words of the store, each in the three modes: 900 distinct requests) and the
  ``/search`` page (the 50 words). Latency is per request, from send to last body byte. Only 200 answers count;
  anything else is reported as an error. Pages are measured with the page and search-result caches on, then
  again on a second server with both off (``PAPERFEED_PAGE_CACHE_SECONDS=0``, ``PAPERFEED_SEARCH_CACHE_HITS=0``).
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlencode

WORDS = ["learning", "transformer", "diffusion", "graph", "language", "reinforcement", "robot", "vision", "quantum",
         "attention", "benchmark", "agent", "privacy", "optimization", "retrieval", "speech", "medical", "3d",
         "video", "reasoning", "alignment", "federated", "causal", "kernel", "bayesian", "sparse", "token",
         "segmentation", "detection", "generation", "compression", "embedding", "contrastive", "uncertainty",
         "physics", "protein", "molecule", "code", "math", "planning", "memory", "hardware", "energy", "climate",
         "traffic", "finance", "audio", "image", "text", "survey"]


def build_store(listings: Path, items: int, folder: Path) -> tuple[Path, dict]:
    """Ingest the newest listing days until ``items`` items; index by keyword; tag topics."""
    from paperfeed.config import Settings
    from paperfeed.ingest import Ingester
    from paperfeed.search import open_indexer
    from paperfeed.storage import open_store
    from paperfeed.topics.tagger import tag_store

    days = folder / "days"
    days.mkdir()
    db = folder / "web.db"
    settings = Settings.load(db=str(db), embedder="none")
    figures = {}
    started = time.perf_counter()
    with tarfile.open(listings, "r:*") as archive, open_store(db) as store:
        members = sorted((m for m in archive if m.isfile()), key=lambda m: m.name, reverse=True)
        ingester = Ingester(store)
        # Twenty days per call: one call groups its files' commits, and the store grows in steps close to --items.
        for start in range(0, len(members), 20):
            batch = []
            for member in members[start:start + 20]:
                target = days / Path(member.name).name
                target.write_bytes(archive.extractfile(member).read())
                batch.append(target)
            ingester.ingest_paths(batch)
            if store.item_count() >= items:
                break
        figures["items"] = store.item_count()
        figures["ingest_s"] = round(time.perf_counter() - started, 1)
        open_indexer(store, settings, vectors=False).update()
        started = time.perf_counter()
        # Author identities are the author pages' concern, not these pages': leave them to `topics tag`.
        tag_store(store, alpha=settings.topic_alpha, refresh_authors=False)
        figures["tag_s"] = round(time.perf_counter() - started, 1)
        if hasattr(store, "refresh_daily_dates"):
            store.refresh_daily_dates()
    return db, figures


def _title_runs(store, item_ids: list[int], count: int) -> list[str]:
    """``count`` runs of 1–3 consecutive title words of the store's items (seeded): varied real queries."""
    generator = random.Random(11)
    titles = [document.title.split() for document in store.item_documents(item_ids).values()]
    runs = []
    while len(runs) < count:
        words = [word.strip(":,.()") for word in generator.choice(titles)]
        length = generator.randint(1, 3)
        start = generator.randrange(0, max(1, len(words) - length + 1))
        runs.append(" ".join(words[start:start + length]))
    return runs


async def _client(host: str, port: int, paths: list[str], stop_at: float, latencies: list[float],
                  errors: list[str], offset: int) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    index = offset
    try:
        while time.perf_counter() < stop_at:
            path = paths[index % len(paths)]
            index += 1
            sent = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: */*\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            chunked = False
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
                elif name.lower() == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
            if chunked:
                while True:
                    size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                    await reader.readexactly(size + 2)
                    if size == 0:
                        break
            else:
                await reader.readexactly(length)
            if status == 200:
                latencies.append(time.perf_counter() - sent)
            else:
                errors.append(f"{status} {path}")
    finally:
        writer.close()


async def load(host: str, port: int, paths: list[str], clients: int, seconds: float) -> dict:
    """Run ``clients`` keep-alive connections for ``seconds``; return requests/s and latency percentiles."""
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(*(_client(host, port, paths, stop_at, latencies, errors, i) for i in range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1) if latencies else 0.0

    return {"requests": len(latencies), "rps": round(len(latencies) / elapsed, 1), "p50_ms": pct(0.50),
            "p99_ms": pct(0.99), "errors": len(errors), "first_error": errors[0] if errors else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("listings", help="arxiv_daily_listings_*.tar.xz")
    parser.add_argument("--items", type=int, default=50000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--db", help="serve this existing store (built by an earlier run's --keep) instead of building one")
    parser.add_argument("--pages", default="/,topic,item,/api/v1/search,search-varied,/search",
                        help="comma-separated pages to load: /, topic, item, /api/v1/search, search-varied, /search "
                             "(default: all)")
    parser.add_argument("--keep", metavar="DIR", help="build the store in DIR and keep it (reuse it with --db DIR/web.db)")
    args = parser.parse_args()
    listings = Path(args.listings)
    if not args.db and not listings.is_file():
        print(f"bench/web.py: {listings} not found (the listings live in ../shared/data/arxiv-daily-listings/)",
              file=sys.stderr)
        return 2
    from paperfeed.storage import open_store

    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        if args.db:
            db, figures = Path(args.db), {}
        else:
            folder = Path(args.keep) if args.keep else Path(tmp)
            folder.mkdir(parents=True, exist_ok=True)
            db, figures = build_store(listings, args.items, folder)
        with open_store(db) as store:
            figures["items"] = store.item_count()
            counts = store.topic_item_counts()
            busiest = max(store.topics(), key=lambda row: counts.get(row.id, 0))
            item_ids = random.Random(7).sample(range(1, figures["items"] + 1), min(500, figures["items"]))
            varied = _title_runs(store, item_ids, 300)
        print(f"store: {figures['items']:,} items; topic page: {busiest.slug} ({counts.get(busiest.id, 0):,} items)",
              file=sys.stderr)
        pages = {
            "/": ["/"],
            "topic": [f"/topics/{busiest.slug}"],
            "item": [f"/items/{item_id}" for item_id in item_ids],
            "/api/v1/search": [f"/api/v1/search?q={word}&mode=keyword" for word in WORDS],
            "search-varied": [f"/api/v1/search?{urlencode({'q': query, 'mode': mode})}"
                              for query in varied for mode in ("keyword", "semantic", "hybrid")],
            "/search": [f"/search?q={word}" for word in WORDS],
        }
        chosen = [name.strip() for name in args.pages.split(",") if name.strip()]
        unknown = [name for name in chosen if name not in pages]
        if unknown:
            raise SystemExit(f"bench/web.py: unknown page {unknown[0]!r}; choose from {', '.join(pages)}")
        results = {}
        # Pages are served from the rendered-page cache after their first view; the same pages are then measured
        # with the cache off (a second server), so the figures say what rendering itself costs.
        for label, cache_env in (("", {}), (" (caches off)", {"PAPERFEED_PAGE_CACHE_SECONDS": "0",
                                                               "PAPERFEED_SEARCH_CACHE_HITS": "0"})):
            with served(db, args.workers, cache_env) as port:
                for name in chosen:
                    asyncio.run(load("127.0.0.1", port, pages[name], args.clients, 3.0))  # warm every worker
                    results[name + label] = r = asyncio.run(load("127.0.0.1", port, pages[name], args.clients,
                                                                 args.seconds))
                    print(f"{name + label:32} {r['rps']:>8,.1f} req/s  p50 {r['p50_ms']:>6.1f} ms  "
                          f"p99 {r['p99_ms']:>6.1f} ms  errors {r['errors']}", file=sys.stderr)
    print(json.dumps({"bench": "web", "workers": args.workers, "clients": args.clients, "seconds": args.seconds,
                      "cpus": os.cpu_count(), **figures, "results": results}))
    return 0


@contextmanager
def served(db: Path, workers: int, extra_env: dict[str, str] | None = None) -> Iterator[int]:
    """``paperfeed serve --workers N`` on a free loopback port, as a user runs it; yields the port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PAPERFEED_EMBEDDER": "none", "PAPERFEED_SYNC_INTERVAL": "0", **(extra_env or {})}
    server = subprocess.Popen([sys.executable, "-m", "paperfeed", "--db", str(db), "serve", "--port", str(port),
                               "--workers", str(workers)], env=env)
    try:
        _wait(port)
        yield port
    finally:
        server.terminate()
        server.wait(15)


def _wait(port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("bench/web.py: the server did not start")


if __name__ == "__main__":
    sys.exit(main())
