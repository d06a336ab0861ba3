"""Soak: minutes of mixed anonymous, signed-in and ingest load on a real `paperfeed serve`, loopback only.

Usage: python bench/soak.py [--minutes 10] [--workers 2] [--anonymous 8] [--signed-in 2] [--ingest-every 20]

- Store: the bundled demo corpus (demo/data: real arXiv listings, Hugging Face days, captures, news), ingested into a
  fresh SQLite store and tagged, as `make demo` does; one account per signed-in client.
- Server: ``paperfeed serve --workers N`` in a subprocess, as a user runs it.
- Load, all at once for ``--minutes``:
  - anonymous clients loop over the daily page (day and week), topic pages and their Atom feeds, item pages, author
    search, the search page and ``/api/v1/search`` in every mode;
  - signed-in clients sign in through the login form, then loop: save an item with a tag, vote, read their library,
    read an item's state (JSON API with the CSRF header);
  - an ingest every ``--ingest-every`` seconds: a JSON Lines file of real listing records (tests/data), each given a
    new arXiv id, ingested with ``paperfeed ingest`` while the server runs.
- Measured: every response's status (any 5xx or connection error is an error; 429 from the login limits is counted
  apart), the resident memory of the server's processes every 10 s (master and workers, from /proc), and at the end
  every acknowledged write: each save must be in the user's library, each ingested record an item.
Memory is "flat" when the mean of the last third of the anonymous-memory samples (the processes' own heap, not
the memory-mapped index files the kernel caches) exceeds that of the middle third by less than 10% (the first
third is warm-up: caches fill); all resident memory is reported beside it. Ends with one JSON line; exits 1 on an error or a lost write.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PAPERFEED = [sys.executable, "-m", "paperfeed"]
WORDS = ["language model", "diffusion", "reinforcement learning", "robot", "vision transformer", "agent", "reasoning",
         "alignment", "uncertainty", "graph", "benchmark", "retrieval", "quantum", "privacy", "speech"]
PASSWORD = "soak-password-123"


def run(db: Path, *args: str, stdin: str | None = None) -> str:
    env = {**os.environ, "PAPERFEED_EMBEDDER": "wordllama"}
    done = subprocess.run([*PAPERFEED, "--db", str(db), *args], input=stdin, capture_output=True, text=True, env=env,
                          timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"paperfeed {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_tree_rss_mb(pid: int) -> tuple[float, float]:
    """Resident memory of ``pid`` and its descendants, from /proc: (all resident, anonymous resident).

    The anonymous part is the processes' own heap; the rest is file pages mapped in (the search indexes are
    memory-mapped files: the kernel's page cache, shared by the workers and dropped under memory pressure)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, anonymous, todo = 0, 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            status = (Path("/proc") / str(current) / "status").read_text()
        except OSError:
            continue
        found = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(found.group(1)) if found else 0
        found = re.search(r"RssAnon:\s+(\d+) kB", status)
        anonymous += int(found.group(1)) if found else 0
    return total / 1024, anonymous / 1024


class Tally:
    def __init__(self) -> None:
        self.requests = 0
        self.errors: list[str] = []
        self.limited = 0
        self.saved: dict[str, set[int]] = {}
        self.ingested: list[str] = []

    def check(self, response: httpx.Response, what: str) -> bool:
        self.requests += 1
        if response.status_code == 429:
            self.limited += 1
            return False
        if response.status_code >= 500:
            self.errors.append(f"{what}: {response.status_code}")
            return False
        return True


async def anonymous(base: str, stop_at: float, tally: Tally, item_ids: list[int], slugs: list[str], days: list[str],
                    seed: int) -> None:
    chance = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        while time.monotonic() < stop_at:
            word, item, slug, day = (chance.choice(WORDS), chance.choice(item_ids), chance.choice(slugs),
                                     chance.choice(days))
            path = chance.choice([
                "/", f"/papers/{day}", f"/papers/{day}?span=week", "/topics", f"/topics/{slug}",
                f"/topics/{slug}.atom", f"/items/{item}", f"/search?q={word}",
                f"/search?q={word}&mode=semantic", f"/api/v1/search?q={word}&mode=hybrid",
                f"/api/v1/items/{item}", f"/authors?name={word.split()[0]}", f"/search.atom?q={word}",
            ])
            try:
                tally.check(await client.get(path), path)
            except httpx.HTTPError as error:
                tally.errors.append(f"{path}: {type(error).__name__}")


def loopback_cookies() -> dict:
    """Event hooks keeping cookies by hand: the server marks them Secure on loopback (browsers keep those over plain
    HTTP to localhost), which httpx's cookie jar would never send back over http://127.0.0.1."""
    jar: dict[str, str] = {}

    async def remember(response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in header:
                jar.pop(name, None)
            else:
                jar[name] = value

    async def send(request: httpx.Request) -> None:
        if jar:
            request.headers["cookie"] = "; ".join(f"{name}={value}" for name, value in jar.items())

    return {"request": [send], "response": [remember]}


async def signed_in(base: str, stop_at: float, tally: Tally, email: str, item_ids: list[int], seed: int) -> None:
    chance = random.Random(seed)
    saved = tally.saved.setdefault(email, set())
    async with httpx.AsyncClient(base_url=base, timeout=60, event_hooks=loopback_cookies()) as client:
        page = await client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        form = {"email": email, "password": PASSWORD, "next": "/library", "csrf_token": token.group(1) if token else ""}
        login = await client.post("/login", data=form)
        if login.status_code not in (200, 303):
            tally.errors.append(f"login {email}: {login.status_code}")
            return
        me = (await client.get("/api/v1/me")).json()
        headers = {"X-CSRF-Token": me.get("csrf_token", "")}
        while time.monotonic() < stop_at:
            item = chance.choice(item_ids)
            action = chance.choice(["save", "vote", "library", "mine"])
            try:
                if action == "save":
                    response = await client.post(f"/api/v1/items/{item}/save", json={"tags": ["soak"]},
                                                 headers=headers)
                    if tally.check(response, "save") and response.status_code == 200:
                        saved.add(item)
                elif action == "vote":
                    tally.check(await client.post(f"/api/v1/items/{item}/vote", json={"up": True}, headers=headers),
                                "vote")
                elif action == "library":
                    tally.check(await client.get("/api/v1/library"), "library")
                else:
                    tally.check(await client.get(f"/api/v1/items/{item}/mine"), "mine")
            except httpx.HTTPError as error:
                tally.errors.append(f"{action}: {type(error).__name__}")


async def ingesting(db: Path, folder: Path, stop_at: float, every: float, tally: Tally) -> None:
    listing = sorted((ROOT / "demo/data/arxiv-listings").glob("*.jsonl"))[0]
    source = [json.loads(line) for line in listing.read_text().splitlines() if line.strip()]
    round_number = 0
    while time.monotonic() + every < stop_at:
        await asyncio.sleep(every)
        round_number += 1
        path = folder / f"soak-{round_number}.jsonl"
        lines = []
        for index, record in enumerate(source[:20]):
            fresh = dict(record)
            new_id = f"2901.{round_number:03d}{index:02d}"
            fresh["id"] = new_id
            for key in ("pdf", "abs"):
                fresh.pop(key, None)
            fresh["title"] = f"{record.get('title', 'Untitled')} (soak round {round_number})"
            lines.append(json.dumps(fresh))
            tally.ingested.append(new_id)
        path.write_text("\n".join(lines) + "\n")
        started = time.monotonic()
        done = await asyncio.create_subprocess_exec(*PAPERFEED, "--db", str(db), "ingest", str(path),
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await done.communicate()
        if done.returncode != 0:
            tally.errors.append(f"ingest round {round_number}: exit {done.returncode}: {err.decode()[-300:]}")
        tally.requests += 1
        tally.ingest_seconds = getattr(tally, "ingest_seconds", []) + [round(time.monotonic() - started, 2)]


async def sample_memory(pid: int, stop_at: float, samples: list[float], anonymous: list[float]) -> None:
    while time.monotonic() < stop_at:
        total, heap = process_tree_rss_mb(pid)
        samples.append(round(total, 1))
        anonymous.append(round(heap, 1))
        await asyncio.sleep(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--anonymous", type=int, default=8)
    parser.add_argument("--signed-in", type=int, default=2)
    parser.add_argument("--ingest-every", type=float, default=20)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="paperfeed-soak-"))
    db = folder / "soak.db"
    try:
        run(db, "ingest", str(ROOT / "demo/data"))
        run(db, "topics", "tag")
        emails = [f"soak{n}@example.org" for n in range(args.signed_in)]
        for email in emails:
            run(db, "users", "add", email, "--password-stdin", stdin=PASSWORD + "\n")
        export = [json.loads(line) for line in run(db, "export").splitlines() if line.strip()]
        item_ids = [item["id"] for item in export if item["kind"] == "paper"]
        days = sorted({item["published"] for item in export if item["published"]})[-10:]
        slugs = [topic["slug"] for topic in json.loads(run(db, "topics", "list", "--json")) if topic.get("items")]
        port = free_port()
        server = subprocess.Popen([*PAPERFEED, "--db", str(db), "serve", "--host", "127.0.0.1", "--port", str(port),
                                   "--workers", str(args.workers)], stdout=subprocess.DEVNULL,
                                  stderr=open(folder / "serve.log", "w"))
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(base + "/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        tally, samples, anonymous_samples = Tally(), [], []
        started = time.monotonic()
        stop_at = started + args.minutes * 60

        async def everything() -> None:
            await asyncio.gather(
                *(anonymous(base, stop_at, tally, item_ids, slugs, days, seed) for seed in range(args.anonymous)),
                *(signed_in(base, stop_at, tally, email, item_ids, 100 + n) for n, email in enumerate(emails)),
                ingesting(db, folder, stop_at, args.ingest_every, tally),
                sample_memory(server.pid, stop_at, samples, anonymous_samples),
            )

        asyncio.run(everything())
        elapsed = time.monotonic() - started
        server.terminate()
        server.wait(timeout=60)

        lost = []
        for email, items in tally.saved.items():
            kept = {entry["id"] for entry in json.loads(run(db, "library", "show", "--user", email, "--json"))["items"]}
            lost += [f"save {email} item {item}" for item in items - kept]
        stored = {item["arxiv_id"] for item in map(json.loads, run(db, "export").splitlines()) if item["arxiv_id"]}
        lost += [f"ingested {arxiv}" for arxiv in tally.ingested if arxiv not in stored]
        def thirds(values: list[float]) -> tuple[float, float, float]:
            third = max(1, len(values) // 3)
            middle, last = values[third:2 * third] or values, values[2 * third:] or values
            middle_mean, last_mean = sum(middle) / len(middle), sum(last) / len(last)
            return round(middle_mean, 1), round(last_mean, 1), round(last_mean / middle_mean - 1, 3)

        rss_middle, rss_last, rss_growth = thirds(samples)
        anon_middle, anon_last, growth = thirds(anonymous_samples)
        figures = {
            "bench": "soak", "minutes": round(elapsed / 60, 1), "workers": args.workers, "requests": tally.requests,
            "requests_per_s": round(tally.requests / elapsed, 1), "errors": len(tally.errors),
            "first_errors": tally.errors[:5], "rate_limited": tally.limited, "saves": sum(map(len, tally.saved.values())),
            "ingested_records": len(tally.ingested), "lost_writes": len(lost), "first_lost": lost[:5],
            "rss_mb_first": samples[0], "rss_mb_middle_mean": rss_middle, "rss_mb_last_mean": rss_last,
            "rss_growth_last_vs_middle": rss_growth, "rss_mb_max": max(samples),
            "anon_mb_first": anonymous_samples[0], "anon_mb_middle_mean": anon_middle, "anon_mb_last_mean": anon_last,
            "anon_growth_last_vs_middle": growth, "anon_mb_max": max(anonymous_samples),
            "ingest_seconds_max": max(getattr(tally, "ingest_seconds", [0])),
        }
        print(json.dumps(figures))
        sys.exit(1 if tally.errors or lost or growth > 0.10 else 0)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
