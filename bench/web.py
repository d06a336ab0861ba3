"""Web throughput and latency: 50 concurrent keep-alive clients on loopback against `paperfeed serve --workers N`.

Usage: python bench/web.py PATH_TO_LISTINGS.tar.xz [--items 50000] [--workers 2] [--seconds 30] [--clients 50]
       [--pages ...] [--before COMMIT] [--rounds N] [--client wrk|python] [--rate N] [--keep DIR | --db DIR/web.db]

- Store: the newest listing days of the archive, ingested into a fresh SQLite store until it holds at least
  ``--items`` items, keyword-indexed (``--vectors`` adds the WordLlama vector index, so semantic and hybrid
  search run as such), topics tagged so topic pages have their real size.
- Server: ``paperfeed serve --workers N`` in a subprocess, as a user runs it.
- Load: ``--clients`` keep-alive connections, each sending its next request when the last answer is read, for
  ``--seconds`` per page (after a 3 s warm-up): ``/``, the busiest topic's page, item pages (cycling over 500
  items), ``/api/v1/search`` (cycling over 50 words), ``search-varied`` (``/api/v1/search`` over 300 runs of 1–3
  title words of the store, each in the three modes: 900 distinct requests in turn), ``search-zipf`` (40,000
  requests drawn from 6,000 distinct title runs by a Zipf law (s = 1.1) in all three modes: popular queries
  repeat, most of the tail is asked once), the ``/search`` page (the 50 words) and ``signed-in`` (one user per
  client, signed in by session cookie: item pages, ``/api/v1/items/{id}/mine``, the search API (the Zipf mix),
  and writes: saves with a tag, votes; every acknowledged write is then checked in the store: a missing one is a
  lost write and the bench exits 1).
- Pace: by default each client sends its next request as soon as the last is answered, so the server is always
  saturated and the latency measured is the latency at its greatest throughput. ``--rate N`` paces the read-only
  pages to about N requests a second in all (each wrk connection waits a random think time after each answer),
  which measures the latency at that load (a target such as "≥ 1,000 requests/s at p99 ≤ 100 ms").
- Client: ``wrk`` (a compiled load generator, ``apt-get install wrk``) where installed, for the read-only pages; the
  signed-in mix always uses this process's asyncio client, which knows which writes were acknowledged. Both report
  their own CPU use, and the server's CPU time per answered request is read from /proc (all its processes): a
  figure of the code that does not depend on how busy the machine is.
- Comparison: by default each page is measured again on a second server with the page and search-result caches
  off (``PAPERFEED_PAGE_CACHE_SECONDS=0``, ``PAPERFEED_SEARCH_CACHE_HITS=0``); with ``--before COMMIT`` the
  second server runs that commit's code instead (``git archive`` of its ``src``), and ``--rounds`` alternates
  the two codes, so both see the same machine.
Only 200 answers count; anything else is reported as an error. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
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
MODES = ("keyword", "semantic", "hybrid")
SIGNED_IN_TAG = "bench"
PASSWORD = "bench-password-1234"


def build_store(listings: Path, items: int, folder: Path, vectors: bool = False) -> tuple[Path, dict]:
    """Ingest the newest listing days until ``items`` items; index by keyword (and vectors); tag topics."""
    from paperfeed.config import Settings
    from paperfeed.ingest import Ingester
    from paperfeed.search import open_indexer
    from paperfeed.storage import open_store
    from paperfeed.topics.tagger import tag_store

    days = folder / "days"
    days.mkdir()
    db = folder / "web.db"
    settings = Settings.load(db=str(db), embedder="wordllama" if vectors else "none")
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
        started = time.perf_counter()
        # Author identities are the author pages' concern, not these pages': leave them to `topics tag`.
        tag_store(store, alpha=settings.topic_alpha, refresh_authors=False)
        figures["tag_s"] = round(time.perf_counter() - started, 1)
        # Indexed after tagging (which moves the change log), so the indexes are current, as after a sync.
        open_indexer(store, settings, vectors=vectors).update()
        if hasattr(store, "refresh_daily_dates"):
            store.refresh_daily_dates()
    return db, figures


def _title_runs(store, item_ids: list[int], count: int, seed: int = 11) -> list[str]:
    """``count`` runs of 1–3 consecutive title words of the store's items (seeded): varied real queries."""
    generator = random.Random(seed)
    titles = [document.title.split() for document in store.item_documents(item_ids).values()]
    runs = []
    while len(runs) < count:
        words = [word.strip(":,.()") for word in generator.choice(titles)]
        length = generator.randint(1, 3)
        start = generator.randrange(0, max(1, len(words) - length + 1))
        runs.append(" ".join(words[start:start + length]))
    return runs


def zipf_requests(runs: list[str], count: int, exponent: float = 1.1, seed: int = 5) -> list[str]:
    """``count`` search requests drawn from ``runs`` with rank-frequency 1/rank^exponent, in all modes
    (hybrid, the default, half of them): a few popular queries repeat often, most of the tail once or never."""
    generator = random.Random(seed)
    weights = [1.0 / rank ** exponent for rank in range(1, len(runs) + 1)]
    queries = generator.choices(runs, weights=weights, k=count)
    modes = generator.choices(MODES, weights=[0.3, 0.2, 0.5], k=count)
    return [f"/api/v1/search?{urlencode({'q': query, 'mode': mode})}" for query, mode in zip(queries, modes)]


# -- load: requests ready to send, a client per connection ------------------------------------------------------

def get(path: str, host: str, headers: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\n{headers}\r\n".encode()


def post_json(path: str, host: str, body: dict, headers: str = "") -> bytes:
    data = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n{headers}\r\n").encode() + data


class Acks:
    """Writes the server acknowledged (200), per user: saves (item ids) and each item's last vote."""

    def __init__(self) -> None:
        self.saved: dict[int, set[int]] = {}
        self.votes: dict[int, dict[int, bool]] = {}
        self.latencies: dict[str, list[float]] = {}
        """Seconds per answered request, by kind (save, vote, item page, mine, search)."""
        self.answered_writes = 0
        """Writes answered 200 (``saved`` and ``votes`` keep each user's item once: the state the store must hold)."""

    def by_kind(self) -> dict[str, dict]:
        def pct(values: list[float], p: float) -> float:
            return round(sorted(values)[min(len(values) - 1, int(p * len(values)))] * 1000, 1)

        return {kind: {"requests": len(values), "p50_ms": pct(values, 0.5), "p99_ms": pct(values, 0.99)}
                for kind, values in sorted(self.latencies.items())}


async def _client(host: str, port: int, requests: list[tuple[bytes, tuple | None]], stop_at: float,
                  latencies: list[float], errors: list[str], offset: int, acks: Acks | None = None) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    index = offset
    try:
        while time.perf_counter() < stop_at:
            raw, write = requests[index % len(requests)]
            index += 1
            sent = time.perf_counter()
            writer.write(raw)
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
                if acks is not None:
                    path = raw.split(b" ", 2)[1]
                    kind = write[0] if write else ("mine" if path.endswith(b"/mine") else
                                                   "search" if path.startswith(b"/api/v1/search") else "item page")
                    acks.latencies.setdefault(kind, []).append(latencies[-1])
                if write is not None and acks is not None:
                    acks.answered_writes += 1
                    kind, user, item, up = write
                    if kind == "save":
                        acks.saved.setdefault(user, set()).add(item)
                    else:
                        acks.votes.setdefault(user, {})[item] = up
            else:
                errors.append(f"{status} {raw.split(b' ', 2)[1].decode()}")
    finally:
        writer.close()


def _percentiles(latencies: list[float], elapsed: float, errors: list[str]) -> dict:
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1) if latencies else 0.0

    return {"requests": len(latencies), "rps": round(len(latencies) / elapsed, 1), "p50_ms": pct(0.50),
            "p99_ms": pct(0.99), "errors": len(errors), "first_error": errors[0] if errors else None}


def load(host: str, port: int, per_client: list[list[tuple[bytes, tuple | None]]], seconds: float,
         acks: Acks | None = None) -> dict:
    """This process's asyncio client: one connection per list in ``per_client``, for ``seconds``."""
    async def run() -> dict:
        latencies: list[float] = []
        errors: list[str] = []
        started = time.perf_counter()
        await asyncio.gather(*(_client(host, port, requests, started + seconds, latencies, errors, i, acks)
                               for i, requests in enumerate(per_client)))
        return _percentiles(latencies, time.perf_counter() - started, errors)

    try:
        import uvloop  # the lighter event loop, where installed (it is paperfeed's server's)

        return uvloop.run(run())
    except ImportError:
        return asyncio.run(run())


WRK_SCRIPT = """
local paths = {%s}
local counter = 0
local thread_number = 0
function setup(thread)
  thread_number = thread_number + 1
  thread:set("start", thread_number * 7919)
end
function init(args)
  counter = start %% #paths
end
function request()
  counter = counter %% #paths + 1
  return wrk.format("GET", paths[counter])
end
%s
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests": %%d, "duration_us": %%d, "status_errors": %%d, "socket_errors": %%d, '
    .. '"p50_us": %%d, "p99_us": %%d}\\n', summary.requests, summary.duration, e.status,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


PACED = """
function delay()
  return math.random() * %.3f
end
"""


def load_wrk(port: int, paths: list[str], clients: int, seconds: float, threads: int = 2,
             rate: float | None = None) -> dict:
    """``wrk`` with ``clients`` connections on ``threads`` threads cycling over ``paths`` (GETs only). With
    ``rate``, each connection waits a random 0 to 2 × clients / rate seconds after each answer before its next
    request: about ``rate`` requests a second in all while answers are quick (fewer when they are slow: the
    achieved rate is what is reported), instead of as many as the server can answer."""
    pacing = PACED % (2000 * clients / rate) if rate else ""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (", ".join(json.dumps(path) for path in paths), pacing))
    try:
        done = subprocess.run(["wrk", f"-t{threads}", f"-c{clients}", f"-d{max(1, round(seconds))}s",
                               "--timeout", "10s",
                               "-s", script.name, f"http://127.0.0.1:{port}"],
                              capture_output=True, text=True, check=True)
    finally:
        os.unlink(script.name)
    line = next(line for line in done.stdout.splitlines() if line.startswith("WRK "))
    figures = json.loads(line[4:])
    answered = figures["requests"] - figures["status_errors"]
    return {"requests": answered, "rps": round(answered / (figures["duration_us"] / 1e6), 1),
            "p50_ms": round(figures["p50_us"] / 1000, 1), "p99_ms": round(figures["p99_us"] / 1000, 1),
            "errors": figures["status_errors"] + figures["socket_errors"],
            "first_error": None if not figures["status_errors"] else "non-200 answers (wrk counts, not names, them)"}


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and all its descendants, from /proc (Linux)."""
    total, stack, seen = 0, [pid], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
            for task in Path(f"/proc/{current}/task").iterdir():
                stack += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def measure(server_pid: int, run) -> dict:
    """``run()``'s figures with the CPU the server and the load generator spent on them."""
    server_before = tree_cpu_seconds(server_pid)
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has been waited for
    started = time.perf_counter()
    figures = run()
    elapsed = time.perf_counter() - started
    server = tree_cpu_seconds(server_pid) - server_before
    own_after = resource.getrusage(resource.RUSAGE_SELF)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client = sum(getattr(after, name) - getattr(before, name) for after, before in
                 ((own_after, own), (children_after, children)) for name in ("ru_utime", "ru_stime"))
    figures["server_cpu_ms_per_request"] = round(server * 1000 / max(1, figures["requests"]), 3)
    figures["server_cores"] = round(server / elapsed, 2)
    figures["client_cores"] = round(client / elapsed, 2)
    return figures


# -- the signed-in mix --------------------------------------------------------------------------------------------

def make_users(db: Path, count: int) -> list[tuple[int, str]]:
    """``count`` accounts with an open session each: (user id, session token). Reused when they exist."""
    from paperfeed.library.accounts import Accounts
    from paperfeed.storage import open_store

    users = []
    with open_store(db) as store:
        accounts = Accounts(store)
        for number in range(count):
            email = f"bench{number}@example.org"
            existing = store.user_by_email(email)
            user_id = existing.id if existing else accounts.create(email, PASSWORD)
            users.append((user_id, accounts.open_session(user_id)))
    return users


def signed_in_requests(host: str, port: int, users: list[tuple[int, str]], item_ids: list[int],
                       queries: list[str], seed: int = 3) -> list[list[tuple[bytes, tuple | None]]]:
    """One request list per user (and connection): 60 % reads, 40 % writes.

    Reads: the item page (25 %, rendered with the user's marks), the user's marks on an item (20 %), the search API
    (15 %, drawn from ``queries``). Writes: save an item with a tag (25 %), an upvote or its withdrawal (15 %).
    """
    import urllib.request

    generator = random.Random(seed)
    address = f"{host}:{port}"
    lists = []
    for number, (user_id, token) in enumerate(users):
        csrf = f"{'c' * 11}{number:032d}"[-43:]  # 43 characters, as the server's own cookie values
        cookie = f"Cookie: pf_session={token}; pf_csrf={csrf}\r\n"
        ask = urllib.request.Request(f"http://{address}/api/v1/me", headers={"Cookie": cookie[8:].strip()})
        with urllib.request.urlopen(ask, timeout=30) as answer:
            me = json.loads(answer.read())
        assert me["id"] == user_id, me
        headers = cookie + f"X-CSRF-Token: {me['csrf_token']}\r\n"
        requests = []
        for _ in range(400):
            item = generator.choice(item_ids)
            roll = generator.random()
            if roll < 0.25:
                requests.append((get(f"/items/{item}", address, cookie), None))
            elif roll < 0.45:
                requests.append((get(f"/api/v1/items/{item}/mine", address, cookie), None))
            elif roll < 0.60:
                requests.append((get(generator.choice(queries), address, cookie), None))
            elif roll < 0.85:
                requests.append((post_json(f"/api/v1/items/{item}/save", address, {"tags": [SIGNED_IN_TAG]}, headers),
                                 ("save", user_id, item, True)))
            else:
                up = generator.random() < 0.7
                requests.append((post_json(f"/api/v1/items/{item}/vote", address, {"up": up}, headers),
                                 ("vote", user_id, item, up)))
        lists.append(requests)
    return lists


def lost_writes(db: Path, acks: Acks) -> list[str]:
    """Acknowledged writes the store does not hold: saves not in the library with the tag, votes not as last set."""
    from paperfeed.storage import open_store

    lost = []
    with open_store(db, migrate=False) as store:
        for user_id, items in acks.saved.items():
            held = {entry.item_id: entry for entry in store.library_entries(user_id)}
            lost += [f"save user {user_id} item {item}" for item in sorted(items)
                     if item not in held or SIGNED_IN_TAG not in held[item].tags]
        for user_id, votes in acks.votes.items():
            voted = set(store.user_votes(user_id))
            lost += [f"vote user {user_id} item {item} up={up}" for item, up in sorted(votes.items())
                     if (item in voted) != up]
    return lost


def reset_marks(db: Path, users: list[tuple[int, str]]) -> None:
    """Empty the bench users' libraries and votes, so every code starts the signed-in mix alike."""
    from paperfeed.storage import open_store

    with open_store(db, migrate=False) as store:
        for user_id, _ in users:
            for entry in store.library_entries(user_id):
                store.set_library_state(user_id, entry.item_id, None)
            for item_id in store.user_votes(user_id):
                store.set_vote(user_id, item_id, False)


# -- the run ------------------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("listings", help="arxiv_daily_listings_*.tar.xz")
    parser.add_argument("--items", type=int, default=50000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--db", help="serve this existing store (built by an earlier run's --keep) instead of building one")
    parser.add_argument("--pages", default="/,topic,item,/api/v1/search,search-varied,search-zipf,/search,signed-in",
                        help="comma-separated pages to load: /, topic, item, /api/v1/search, search-varied, "
                             "search-zipf, /search, signed-in (default: all)")
    parser.add_argument("--keep", metavar="DIR", help="build the store in DIR and keep it (reuse it with --db DIR/web.db)")
    parser.add_argument("--vectors", action="store_true", help="build the WordLlama vector index too and serve with it")
    parser.add_argument("--before", metavar="COMMIT", help="compare with this commit's code (instead of caches off)")
    parser.add_argument("--rounds", type=int, default=1, help="with --before: alternate the codes this many times")
    parser.add_argument("--rate", type=float, metavar="N",
                        help="pace the read-only pages to about N requests a second in all (wrk only) instead of "
                             "answering as many as the server can: latency at a given load, not at saturation")
    parser.add_argument("--client", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python",
                        help="load generator for the read-only pages (default: wrk where installed)")
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
            db, figures = build_store(listings, args.items, folder, args.vectors)
        with open_store(db) as store:
            figures["items"] = store.item_count()
            counts = store.topic_item_counts()
            busiest = max(store.topics(), key=lambda row: counts.get(row.id, 0))
            item_ids = random.Random(7).sample(range(1, figures["items"] + 1), min(500, figures["items"]))
            varied = _title_runs(store, item_ids, 300)
            tail = _title_runs(store, random.Random(9).sample(range(1, figures["items"] + 1),
                                                              min(6000, figures["items"])), 6000, seed=13)
        print(f"store: {figures['items']:,} items; topic page: {busiest.slug} ({counts.get(busiest.id, 0):,} items)",
              file=sys.stderr)
        zipf = zipf_requests(tail, 40_000)
        figures["search_zipf_distinct"] = len(set(zipf))
        pages = {
            "/": ["/"],
            "topic": [f"/topics/{busiest.slug}"],
            "item": [f"/items/{item_id}" for item_id in item_ids],
            "/api/v1/search": [f"/api/v1/search?q={word}&mode=keyword" for word in WORDS],
            "search-varied": [f"/api/v1/search?{urlencode({'q': query, 'mode': mode})}"
                              for query in varied for mode in MODES],
            "search-zipf": zipf,
            "/search": [f"/search?q={word}" for word in WORDS],
        }
        chosen = [name.strip() for name in args.pages.split(",") if name.strip()]
        unknown = [name for name in chosen if name not in pages and name != "signed-in"]
        if unknown:
            raise SystemExit(f"bench/web.py: unknown page {unknown[0]!r}; choose from {', '.join(pages)}, signed-in")
        users = make_users(db, args.clients) if "signed-in" in chosen else []
        env = {"PAPERFEED_EMBEDDER": "wordllama" if args.vectors else "none"}
        if args.before:
            old_src = Path(tmp) / "before"
            old_src.mkdir()
            archive = subprocess.run(["git", "archive", args.before, "src"], capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", str(old_src)], input=archive, check=True)
            codes = [("", env), (" (before)", {**env, "PYTHONPATH": str(old_src / "src")})] * args.rounds
        else:
            codes = [("", env), (" (caches off)", {**env, "PAPERFEED_PAGE_CACHE_SECONDS": "0",
                                                   "PAPERFEED_SEARCH_CACHE_HITS": "0"})]
        results: dict[str, list[dict]] = {}
        lost_total: list[str] = []
        for label, server_env in codes:
            with served(db, args.workers, server_env) as (port, pid):
                for name in chosen:
                    if name == "signed-in":
                        reset_marks(db, users)
                        per_client = signed_in_requests("127.0.0.1", port, users, item_ids, pages["search-zipf"])
                        load("127.0.0.1", port, per_client, 3.0)  # warm every worker
                        reset_marks(db, users)
                        acks = Acks()
                        r = measure(pid, lambda: load("127.0.0.1", port, per_client, args.seconds, acks))
                        lost = lost_writes(db, acks)
                        r["acknowledged_writes"] = sum(map(len, acks.saved.values())) + sum(
                            map(len, acks.votes.values()))
                        r["answered_writes"] = acks.answered_writes
                        r["lost_writes"] = len(lost)
                        r["by_kind"] = acks.by_kind()
                        lost_total += lost
                    else:
                        paths = pages[name]
                        if args.client == "wrk":
                            run = lambda seconds: load_wrk(port, paths, args.clients, seconds,  # noqa: E731
                                                           rate=args.rate)
                        else:
                            address = f"127.0.0.1:{port}"
                            requests = [(get(path, address), None) for path in paths]
                            run = lambda seconds: load("127.0.0.1", port, [requests] * args.clients,  # noqa: E731
                                                       seconds)
                        run(3.0)  # warm every worker
                        r = measure(pid, lambda: run(args.seconds))
                    results.setdefault(name + label, []).append(r)
                    print(f"{name + label:28} {r['rps']:>8,.1f} req/s  p50 {r['p50_ms']:>6.1f} ms  "
                          f"p99 {r['p99_ms']:>6.1f} ms  errors {r['errors']}  "
                          f"server {r['server_cpu_ms_per_request']:.3f}"
                          f" ms CPU/request  client {r['client_cores']:.2f} cores"
                          + (f"  lost writes {r['lost_writes']} of {r['acknowledged_writes']:,} acknowledged"
                             f" ({r['answered_writes']:,} write requests)  p99 by kind: "
                             + ", ".join(f"{kind} {v['p99_ms']:.0f}" for kind, v in r["by_kind"].items())
                             if "lost_writes" in r else ""), file=sys.stderr)
    load_average = os.getloadavg()
    print(json.dumps({"bench": "web", "workers": args.workers, "clients": args.clients, "seconds": args.seconds,
                      "client": args.client, "rate": args.rate, "before": args.before, "cpus": os.cpu_count(),
                      "load_average": [round(value, 2) for value in load_average], **figures,
                      "results": {name: runs[0] if len(runs) == 1 else {"rounds": runs, **_medians(runs)}
                                  for name, runs in results.items()}}))
    if lost_total:
        print(f"bench/web.py: {len(lost_total)} acknowledged writes lost, e.g. {lost_total[:3]}", file=sys.stderr)
        return 1
    return 0


def _medians(runs: list[dict]) -> dict:
    """The median of each figure over rounds."""
    import statistics

    return {f"median_{key}": statistics.median(run[key] for run in runs)
            for key in ("rps", "p50_ms", "p99_ms", "server_cpu_ms_per_request")}


@contextmanager
def served(db: Path, workers: int, extra_env: dict[str, str] | None = None) -> Iterator[tuple[int, int]]:
    """``paperfeed serve --workers N`` on a free loopback port, as a user runs it; yields the port and its pid."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PAPERFEED_SYNC_INTERVAL": "0", **(extra_env or {})}
    # Each server starts with every cache empty: its workers' memory, and the results they share in a file of the
    # index directory (since session 11), which a server before this one has filled.
    for kept in Path(f"{db}.search").glob("shared-results.sqlite*"):
        kept.unlink()
    server = subprocess.Popen([sys.executable, "-m", "paperfeed", "--db", str(db), "serve", "--port", str(port),
                               "--workers", str(workers)], env=env)
    try:
        _wait(port)
        yield port, server.pid
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
