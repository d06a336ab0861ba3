"""Keyword search latency on SQLite (tantivy) and PostgreSQL (full text in the database), same store, same run,
at a fixed concurrency; optionally with an earlier commit's code too (before/after in one run).

Usage: python bench/pg_search.py LISTINGS.tar.xz [--limit N] [--queries 1000] [--concurrency 4]
                                 [--before REF] [--rounds 1] [--known-items 300]

- Store: the daily listings (72,790 records, ~48,000 items; ``--limit N``: the first N records in day order)
  ingested into a fresh SQLite file and a fresh database on a throwaway PostgreSQL server from Debian's
  binaries (tests/pg_server.py, default settings: shared_buffers 128 MB), each in a child process as
  bench/backends.py does, then the keyword index built (tantivy beside the SQLite file; ``item_fulltext`` in
  PostgreSQL), then ``VACUUM ANALYZE`` of the PostgreSQL database (what autovacuum does to a table at rest).
- Queries (seeded, from the listings' own titles, so every backend sees the same ones): 40 % runs of 2-5
  consecutive title words (bench/search.py's), 20 % single title words drawn by how often they occur in
  titles (so "learning", "models" come up often), 15 % rare words (in 1-3 titles), 15 % quoted two-word
  title phrases, 10 % a title word with a filter (``after:``, ``before:``, ``category:``, ``author:``), and
  a few prefixes (``word*``).
- Measure: ``SearchService.search(q, mode="keyword", limit=10)`` (ranking plus the total it states), in
  ``--concurrency`` child processes at once, each with its own store connection, each taking every
  ``concurrency``-th query after 20 warm-up queries; p50/p99 over all queries.
- Variants, each measured: ``sqlite``; ``postgres`` as a search is served (the database's full text, or the
  host's tantivy copy in its index directory where the code keeps one and it is current); and
  ``postgres_database``, the database's full text itself (an index directory without a copy, as on a host
  whose copy is behind). For each, how many queries return SQLite's top 10 (arXiv ids, in order) and total,
  and known-item retrieval (``--known-items`` seeded papers, 6 consecutive words of the abstract, the paper
  in the top 10: recall@10 and MRR; not timed).
- ``--before REF``: the same measurement with ``git archive REF src`` (the code as of REF) on a second store
  pair built the same way by that code (an older code cannot open a store of newer migrations), and how
  many queries the database's full text answers with the same top 10 and total with both codes.
- ``--rounds N``: every measurement N times, the codes alternating; medians of the rounds, the PostgreSQL /
  SQLite ratio taken within each round (the machine's load drifts between them).
Prints figures as it goes and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import io
import json
import multiprocessing
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # pg_server.py: the throwaway PostgreSQL server of the tests


def _bench_module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def log(message: str) -> None:
    print(message, flush=True)


_WORD = re.compile(r"[A-Za-z][A-Za-z-]{2,}")


def make_queries(papers: list[dict], count: int, seed: int = 23) -> list[str]:
    """Varied real keyword queries from the papers' titles (see the module docstring for the mix)."""
    search_bench = _bench_module("search")
    generator = random.Random(seed)
    titles = [paper["title"] for paper in papers]
    frequency = collections.Counter(word.lower() for title in titles for word in set(_WORD.findall(title)))
    words = sorted(frequency)
    weights = [frequency[word] for word in words]
    rare = sorted(word for word in words if frequency[word] <= 3 and "-" not in word)
    days = sorted({paper["day"] for paper in papers})
    categories = sorted({category for paper in papers for category in paper.get("categories") or []
                         if isinstance(category, str)})
    queries = search_bench.make_queries(papers, [], int(count * 0.4), seed)
    queries += generator.choices(words, weights, k=int(count * 0.2))
    queries += generator.sample(rare, int(count * 0.15))
    while len(queries) < int(count * 0.9):
        title = generator.choice(titles).split()
        if len(title) >= 2:
            start = generator.randrange(len(title) - 1)
            queries.append('"' + " ".join(title[start:start + 2]).replace('"', "") + '"')
    while len(queries) < count - 10:
        word = generator.choices(words, weights)[0]
        paper = generator.choice(papers)
        kind = generator.randrange(4)
        if kind == 0:
            queries.append(f"{word} after:{generator.choice(days)}")
        elif kind == 1:
            queries.append(f"{word} before:{generator.choice(days)}")
        elif kind == 2 and categories:
            queries.append(f"{word} category:{generator.choice(categories)}")
        else:
            authors = paper.get("authors") or []
            name = authors[0] if authors and isinstance(authors[0], str) else "smith"
            queries.append(f"{word} author:{name.split()[-1]}")
    while len(queries) < count:
        word = generator.choices(words, weights)[0]
        queries.append(word[:max(3, len(word) - 3)] + "*")
    generator.shuffle(queries)
    return queries


# -- child processes -------------------------------------------------------------------------------------


def search_worker(src: str, url: str, index_dir: str, queries: list[str], start: int, step: int, ready, go,
                  queue) -> None:
    sys.path.insert(0, src)  # the code measured: this worktree's, or --before's
    from paperfeed.config import Settings
    from paperfeed.search import open_search
    from paperfeed.storage import open_store

    with open_store(url) as store:
        service = open_search(store, Settings.load(db=url, embedder="none", index_dir=index_dir))
        for query in queries[start:start + 20 * step:step]:  # warm caches, as a running server would be
            service.search(query, mode="keyword", limit=10)
        ready.release()
        go.wait()
        times, tops = {}, {}
        for position in range(start, len(queries), step):
            started = time.perf_counter()
            results = service.search(queries[position], mode="keyword", limit=10)
            times[position] = (time.perf_counter() - started) * 1000
            tops[position] = ([(hit.arxiv_id or hit.title, round(hit.score, 5)) for hit in results.hits],
                              results.total)
        serving = getattr(service.keyword, "serving", "tantivy")
    queue.put((times, tops, serving))


def known_items(papers: list[dict], count: int, seed: int = 31) -> list[tuple[str, str]]:
    """(6 consecutive words of a paper's abstract, its arXiv id): a query that has one right answer."""
    generator = random.Random(seed)
    chosen = []
    for paper in generator.sample(papers, count):
        words = (paper.get("summary") or "").split()
        if len(words) >= 6:
            start = generator.randrange(len(words) - 5)
            chosen.append((" ".join(words[start:start + 6]), paper["id"]))
    return chosen


def known_worker(src: str, url: str, index_dir: str, known: list[tuple[str, str]], queue) -> None:
    """Recall@10 and MRR of ``known`` in keyword search (not timed)."""
    sys.path.insert(0, src)
    from paperfeed.config import Settings
    from paperfeed.search import open_search
    from paperfeed.storage import open_store

    found, reciprocal = 0, 0.0
    with open_store(url) as store:
        service = open_search(store, Settings.load(db=url, embedder="none", index_dir=index_dir))
        for query, arxiv_id in known:
            ranked = [hit.arxiv_id for hit in service.search(query, mode="keyword", limit=10).hits]
            if arxiv_id in ranked:
                found += 1
                reciprocal += 1 / (ranked.index(arxiv_id) + 1)
    queue.put({"known_items": len(known), "recall_at_10": round(found / len(known), 4),
               "mrr": round(reciprocal / len(known), 4)})


def same_up_to_ties(one: list[tuple[str, float]], other: list[tuple[str, float]]) -> bool:
    """The same ranking but for the order of equal scores (ties are broken by item id, and ids differ between
    stores: PostgreSQL's identity sequence skips values): the same scores in order, and the same items with
    each score, but for the last score, whose tied items may continue past the page."""
    if [score for _, score in one] != [score for _, score in other]:
        return False
    last = one[-1][1] if one else None
    return all({key for key, score in one if score == value} == {key for key, score in other if score == value}
               for value in {score for _, score in one} - {last})


def build_worker(src: str, url: str, listings: str, limit: int | None, index_dir: str, queue) -> None:
    """Ingest and index with the code in ``src`` (a store the older code can still open)."""
    sys.path.insert(0, src)
    backends = _bench_module("backends")

    class Keep:
        def put(self, value):
            self.value = value

    ingested = Keep()
    backends.run_ingest(url, listings, limit, ingested)
    prepared = backends.prepare(url, index_dir)
    if url.startswith("postgresql"):
        # As autovacuum leaves a table at rest: statistics and the visibility map (counts from the GIN bitmap
        # skip the heap's all-visible pages). The same state for every code measured.
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    queue.put({"items": ingested.value["items"], "index_s": prepared["index_s"]})


def take(queue, processes) -> object:
    """The next result on ``queue``; an error if every process in ``processes`` ended without one."""
    import queue as queues

    while True:
        try:
            return queue.get(timeout=5)
        except queues.Empty:
            if not any(process.is_alive() for process in processes):
                raise RuntimeError("a child process of the bench failed (its traceback is above)") from None


def in_child(target, *args) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = take(queue, [process])
    process.join()
    return result


def open_worker(src: str, url: str, queue) -> None:
    """Open the store once with the code in ``src``: its migrations run before the searchers start."""
    sys.path.insert(0, src)
    from paperfeed.storage import open_store

    with open_store(url):
        pass
    queue.put({})


def measure(src: str, url: str, index_dir: str, queries: list[str], concurrency: int) -> dict:
    in_child(open_worker, src, url)
    context = multiprocessing.get_context("spawn")
    queue, ready, go = context.Queue(), context.Semaphore(0), context.Event()
    workers = [context.Process(target=search_worker,
                               args=(src, url, index_dir, queries, start, concurrency, ready, go, queue))
               for start in range(concurrency)]
    for worker in workers:
        worker.start()
    for _ in workers:
        while not ready.acquire(timeout=5):
            if not any(worker.is_alive() for worker in workers):
                raise RuntimeError("the bench's searchers failed (their tracebacks are above)")
    started = time.perf_counter()
    go.set()
    times, tops = {}, {}
    for _ in workers:
        part_times, part_tops, serving = take(queue, workers)
        times.update(part_times)
        tops.update(part_tops)
    seconds = time.perf_counter() - started
    for worker in workers:
        worker.join()
    values = list(times.values())
    return {"serving": serving, "queries": len(values), "no_hits": sum(not ids for ids, _ in tops.values()),
            "p50_ms": round(float(np.percentile(values, 50)), 2), "p95_ms": round(float(np.percentile(values, 95)), 2),
            "p99_ms": round(float(np.percentile(values, 99)), 2),
            "mean_ms": round(float(np.mean(values)), 2), "queries_per_s": round(len(values) / seconds, 1),
            "slowest": sorted(((round(times[i], 1), queries[i]) for i in times), reverse=True)[:5],
            "_tops": [tops[i] for i in range(len(queries))]}


def code_of(ref: str, folder: Path) -> str:
    """``src`` as of git ``ref``, extracted under ``folder``."""
    archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", ref, "src"], check=True,
                             capture_output=True).stdout
    target = folder / f"src-{ref.replace('/', '_')}"
    target.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return str(target / "src")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("listings", help="arxiv_daily_listings_*.tar.xz from ../shared/data/arxiv-daily-listings")
    parser.add_argument("--limit", type=int, help="only the first N records, in day order (a quick run)")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4, help="searching processes at once")
    parser.add_argument("--rounds", type=int, default=1, help="measure every code this many times, alternating")
    parser.add_argument("--before", help="a git ref: also measure the code as of it on the same stores")
    parser.add_argument("--known-items", type=int, default=300, help="known-item queries per variant (relevance)")
    args = parser.parse_args()
    if not Path(args.listings).is_file():
        print(f"bench/pg_search.py: {args.listings} not found (the data lives in ../shared/data)", file=sys.stderr)
        return 2
    backends = _bench_module("backends")
    members = backends.load_members(args.listings, args.limit)
    papers = backends.listing_papers(members)
    queries = make_queries(papers, args.queries)
    records = sum(data.count(b"\n") for _, data in members)
    log(f"{records:,} records, {len(papers):,} distinct papers; "
        f"{len(queries):,} queries, concurrency {args.concurrency}")
    figures: dict = {"bench": "pg_search", "limit": args.limit, "queries": len(queries),
                     "concurrency": args.concurrency, "before": args.before}
    server = backends.start_postgres(durable=False)
    with tempfile.TemporaryDirectory(prefix="bench-pg-search-") as folder:
        folder = Path(folder)
        try:
            codes = {"after": str(HERE.parent / "src")}
            if args.before:
                codes = {"before": code_of(args.before, folder), **codes}
            # One store pair per code, each built by that code (an older code cannot open a store of newer
            # migrations): the same records, ingested the same way.
            stores = {code: {"sqlite": str(folder / f"{code}.db"),
                             "postgres": server.create_database(f"bench_pg_search_{code}")} for code in codes}
            for code, src in codes.items():
                for backend, url in stores[code].items():
                    built = in_child(build_worker, src, url, args.listings, args.limit,
                                     str(folder / f"index-{code}-{backend}"))
                    figures[f"{code}_{backend}_store"] = built
                    log(f"{code:6} {backend:8} {built['items']:,} items; keyword index in {built['index_s']} s")
            # What is measured of each code: SQLite; PostgreSQL as a search is served (the database's full text,
            # or this host's tantivy copy where the code keeps one and it is current); and PostgreSQL's full text
            # itself (an index directory holding no copy: a host whose copy is behind or not built).
            variants = {code: {"sqlite": (stores[code]["sqlite"], str(folder / f"index-{code}-sqlite")),
                               "postgres": (stores[code]["postgres"], str(folder / f"index-{code}-postgres")),
                               "postgres_database": (stores[code]["postgres"], str(folder / "index-no-copy"))}
                        for code in codes}
            names = ("sqlite", "postgres", "postgres_database")
            # Rounds alternate the codes, so that a busy spell of the machine falls on both; each round
            # measures SQLite and PostgreSQL back to back, and the ratio is taken within the round.
            rounds: dict = {code: [] for code in codes}
            for number in range(args.rounds):
                for code, src in codes.items():
                    entry = {}
                    for name, (url, index_dir) in variants[code].items():
                        result = measure(src, url, index_dir, queries, args.concurrency)
                        entry[name] = result
                        log(f"round {number + 1} {code:6} {name:17} ({result['serving']}) p50 {result['p50_ms']} ms, "
                            f"p95 {result['p95_ms']} ms, p99 {result['p99_ms']} ms, {result['queries_per_s']} queries/s "
                            f"({result['no_hits']} without hits); slowest {result['slowest'][:3]}")
                    for name in names[1:]:
                        entry[f"{name}_p99_over_sqlite"] = round(
                            entry[name]["p99_ms"] / max(entry["sqlite"]["p99_ms"], 0.01), 2)
                    log(f"round {number + 1} {code:6} PostgreSQL p99 / SQLite p99 = {entry['postgres_p99_over_sqlite']} "
                        f"(database full text: {entry['postgres_database_p99_over_sqlite']})")
                    rounds[code].append(entry)
            for code, entries in rounds.items():
                figures[code] = {"rounds": entries, "median": {
                    **{f"{name}_{figure}": round(float(np.median([entry[name][figure] for entry in entries])), 2)
                       for name in names for figure in ("p50_ms", "p95_ms", "p99_ms")},
                    **{f"{name}_p99_over_sqlite": float(np.median([e[f"{name}_p99_over_sqlite"] for e in entries]))
                       for name in names[1:]}}}
                log(f"{code:6} medians of {len(entries)} rounds: {figures[code]['median']}")
                tops = {name: entries[0][name]["_tops"] for name in names}
                # Same top 10 (in order) and total as SQLite's, query by query.
                def keys(top):
                    return [key for key, _ in top[0]]

                figures[code]["same_top10_as_sqlite"] = {
                    name: sum(keys(a) == keys(b) for a, b in zip(tops["sqlite"], tops[name])) for name in names[1:]}
                figures[code]["same_as_sqlite"] = {
                    name: sum(keys(a) == keys(b) and a[1] == b[1] for a, b in zip(tops["sqlite"], tops[name]))
                    for name in names[1:]}
                figures[code]["same_top10_as_sqlite_up_to_ties"] = {
                    name: sum(same_up_to_ties(a[0], b[0]) and a[1] == b[1] for a, b in zip(tops["sqlite"], tops[name]))
                    for name in names[1:]}
                log(f"{code:6} same top 10 as SQLite: {figures[code]['same_top10_as_sqlite']}, "
                    f"the same total too: {figures[code]['same_as_sqlite']}, the same up to the order of equal "
                    f"scores and the same total: {figures[code]['same_top10_as_sqlite_up_to_ties']} (of {len(queries)})")
                figures[code]["_tops"] = tops
                figures[code]["known_items"] = {}
                for name, (url, index_dir) in variants[code].items():
                    known = in_child(known_worker, codes[code], url, index_dir, known_items(papers, args.known_items))
                    figures[code]["known_items"][name] = known
                    log(f"{code:6} {name:17} known items (6 abstract words): recall@10 {known['recall_at_10']}, "
                        f"MRR {known['mrr']}")
                for entry in entries:
                    for name in names:
                        entry[name].pop("_tops", None)
            if args.before:
                # The database's full text: the same ranking before and after?
                old = figures["before"]["_tops"]["postgres_database"]
                new = figures["after"]["_tops"]["postgres_database"]
                figures["database_same_top10_and_total"] = sum(a == b for a, b in zip(old, new))
                figures["database_same_top10"] = sum([key for key, _ in a[0]] == [key for key, _ in b[0]]
                                                     for a, b in zip(old, new))
                log(f"PostgreSQL full text before/after: {figures['database_same_top10']}/{len(old)} queries return "
                    f"the same top 10 in the same order, {figures['database_same_top10_and_total']} also the same total")
            for code in codes:
                figures[code].pop("_tops")
        finally:
            server.stop()
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
