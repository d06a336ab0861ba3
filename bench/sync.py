"""Sync throughput and memory: a 50,000-record OAI-PMH harvest replayed from a local server.

Usage: python bench/sync.py PATH_TO_LISTINGS.tar.xz [--records 50000] [--per-page 1000]

The server (a child process, so its pages do not count in the harvester's memory) builds ListRecords
pages in the real ``arXivRaw`` format from the daily listings' records (ids renumbered so that every
record is a distinct paper), chained by resumptionTokens. The harvester is ``paperfeed.sync`` itself:
the polite client (politeness delay set to 0), the arxiv-oai fetcher, the Ingester, a commit per page.
It prints records/s and memory every ``--every`` records (resident set, its peak, and Python's allocated
blocks, which would grow with the harvest if records were held) and ends with one JSON line.

Flatness is judged after a warm-up (``--warmup`` records, 20 pages by default): until then the bounded
caches fill (SQLite's page cache, the author-id cache, the per-name caches) and memory rises by design.
After it, a streamed harvest holds nothing more per record, so the resident set's growth per 10,000
records (``rss_growth_mb_per_10k_after_warmup``: the least-squares slope of every reading from the warm-up
point on, since single readings swing by a page's worth) must be about 0; a harvest that held its records
would show several MB per 10,000.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from email.utils import format_datetime
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import escape

PAGE_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" '
             'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.openarchives.org/'
             'OAI/2.0/ http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">\n<responseDate>2026-03-01T00:00:00Z'
             '</responseDate>\n<request verb="ListRecords">http://127.0.0.1/oai</request>\n<ListRecords>\n')
RAW_NS = ('xmlns="http://arxiv.org/OAI/arXivRaw/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
          'xsi:schemaLocation="http://arxiv.org/OAI/arXivRaw/ http://arxiv.org/OAI/arXivRaw.xsd"')


def load_records(path: str, count: int) -> list[tuple[str, dict]]:
    """The first ``count`` listing records with their file's day."""
    import tarfile

    import orjson

    records = []
    with tarfile.open(path, "r:*") as archive:
        for member in archive:
            if not member.isfile() or not member.name.endswith(".jsonl"):
                continue
            day = member.name.rsplit("/", 1)[-1][:10]
            for line in archive.extractfile(member).read().splitlines():
                if line.strip():
                    records.append((day, orjson.loads(line)))
                    if len(records) == count:
                        return records
    return records


def raw_record(number: int, day: str, record: dict) -> str:
    """One ``<record>`` in arXivRaw, as arXiv's OAI-PMH serves it."""
    arxiv_id = f"{2601 + number // 100000}.{number % 100000:05d}"
    stamp = format_datetime(datetime.fromisoformat(day).replace(hour=18, tzinfo=timezone.utc), usegmt=True)
    authors = escape(", ".join(record.get("authors") or []))
    comment = f"<comments>{escape(record['comment'])}</comments>" if record.get("comment") else ""
    submitter = escape((record.get("authors") or ["Unknown"])[0])
    return (f"<record>\n<header>\n <identifier>oai:arXiv.org:{arxiv_id}</identifier>\n <datestamp>{day}</datestamp>\n"
            f" <setSpec>cs</setSpec>\n</header>\n<metadata>\n <arXivRaw {RAW_NS}>\n <id>{arxiv_id}</id>"
            f"<submitter>{submitter}</submitter><version version=\"v1\"><date>{stamp}</date><size>512kb</size>"
            f"</version><title>{escape(record.get('title') or '')}</title><authors>{authors}</authors>"
            f"<categories>{escape(' '.join(record.get('categories') or []))}</categories>{comment}"
            f"<license>http://arxiv.org/licenses/nonexclusive-distrib/1.0/</license>"
            f"<abstract>{escape(record.get('summary') or '')}</abstract></arXivRaw>\n</metadata>\n</record>\n")


def serve(path: str, count: int, per_page: int, ready) -> None:
    """Serve the harvest: page k holds records k*per_page.., built when asked (the server holds only the JSON)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlsplit

    records = load_records(path, count)
    pages = (len(records) + per_page - 1) // per_page

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            query = {key: values[-1] for key, values in parse_qs(urlsplit(self.path).query).items()}
            page = int(query.get("resumptionToken", "0"))
            start = page * per_page
            body = [PAGE_HEAD]
            body.extend(raw_record(start + k, *records[start + k]) for k in range(min(per_page, len(records) - start)))
            token = str(page + 1) if page + 1 < pages else ""
            body.append(f'<resumptionToken cursor="{start}" completeListSize="{len(records)}">{token}'
                        "</resumptionToken>\n</ListRecords>\n</OAI-PMH>\n")
            data = "".join(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ready.put((server.server_address[1], len(records), pages))
    server.serve_forever()


def rss_mb() -> float:
    """Current resident set size in MB (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def slope_per_10k(points: list[dict], key: str) -> float:
    """Least-squares growth of ``key`` per 10,000 records over ``points`` (0 for fewer than two)."""
    if len(points) < 2:
        return 0.0
    xs = [point["records"] / 10000 for point in points]
    ys = [point[key] for point in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / spread if spread else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("listings", help="arxiv_daily_listings_*.tar.xz from shared/data/arxiv-daily-listings")
    parser.add_argument("--records", type=int, default=50000)
    parser.add_argument("--per-page", type=int, default=1000)
    parser.add_argument("--every", type=int, default=5000, help="records between memory readings")
    parser.add_argument("--warmup", type=int, default=20000, help="records before memory must stay flat")
    args = parser.parse_args()
    if not Path(args.listings).is_file():
        print(f"bench/sync.py: {args.listings} not found (is ../shared/data there?)", file=sys.stderr)
        return 2

    from paperfeed.config import Settings
    from paperfeed.fetch import client_from_settings
    from paperfeed.storage import open_store
    from paperfeed.sync import make_source, sync_store

    ready = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(args.listings, args.records, args.per_page, ready),
                                     daemon=True)
    server.start()
    port, served, pages = ready.get(timeout=300)
    print(f"server: {served:,} records in {pages} arXivRaw pages of {args.per_page} on 127.0.0.1:{port}")

    checkpoints: list[dict] = []
    every = max(min(args.every, served), 1)
    state = {"done": 0, "next": every}
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(db=str(Path(folder) / "sync.db"), allow_private_urls=True, arxiv_interval=0.0,
                            host_interval=0.0, contact="bench@localhost")
        store = open_store(settings.db)
        store.add_source(make_source("bench", "arxiv-oai", f"http://127.0.0.1:{port}/oai", None,
                                     {"from": "2025-03-18"}, allow_private=True))
        start = time.perf_counter()

        def advance(count: int) -> None:
            state["done"] += count
            while state["done"] >= state["next"]:
                seconds = time.perf_counter() - start
                point = {"records": state["done"], "seconds": round(seconds, 2),
                         "records_per_s": round(state["done"] / seconds), "rss_mb": round(rss_mb(), 1),
                         "peak_rss_mb": round(peak_rss_mb()), "python_blocks": sys.getallocatedblocks()}
                checkpoints.append(point)
                print(f"{point['records']:>7,} records  {point['seconds']:7.2f} s  {point['records_per_s']:>6,} rec/s  "
                      f"RSS {point['rss_mb']} MB (peak {point['peak_rss_mb']} MB)  "
                      f"Python blocks {point['python_blocks']:,}")
                state["next"] += every

        with client_from_settings(settings) as client:
            report = sync_store(store, client, store.sources(), on_records=advance)
        seconds = time.perf_counter() - start
        result = report.sources[0]
        items = store.item_count()
        store.close()
    server.terminate()
    if result.failed:
        print(f"harvest failed at {result.place}: {result.error}", file=sys.stderr)
        return 1
    warm = next((point for point in checkpoints if point["records"] >= args.warmup), checkpoints[0])
    settled = [point for point in checkpoints if point["records"] >= warm["records"]]
    figures = {
        "bench": "sync", "records": result.new + result.merged + result.unchanged, "new": result.new,
        "items": items, "pages": result.pages, "seconds": round(seconds, 2),
        "records_per_s": round(served / seconds), "peak_rss_mb": round(peak_rss_mb()),
        "rss_mb_at": {str(point["records"]): point["rss_mb"] for point in checkpoints},
        "python_blocks_at": {str(point["records"]): point["python_blocks"] for point in checkpoints},
        "warmup_records": warm["records"],
        "rss_mb_after_warmup": warm["rss_mb"],
        "rss_mb_max_after_warmup": max(point["rss_mb"] for point in settled),
        "rss_growth_mb_per_10k_after_warmup": round(slope_per_10k(settled, "rss_mb"), 1),
        "python_blocks_growth_per_10k_after_warmup": round(slope_per_10k(settled, "python_blocks")),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
