"""Search: index build, latency at 50k / 100k / 1M items, a full-scan baseline, retrieval quality, memory.

Usage: python bench/search.py --listings LISTINGS.tar.xz --hf HF.tar.xz [--sizes 100000,1000000] [--queries 1000]

Corpora (one store grows through them, so indexing is incremental after the first):
- real: the daily listings + Hugging Face days, ingested as they are (~52,000 items).
- synthetic growth to each size: item i is a recombination of two real listing papers a and b drawn
  at random (seeded): title = first half of a's title words + second half of b's; abstract = first
  half of a's abstract + second half of b's; authors of b; categories of a; an unused arXiv id
  (1501.00001 onwards). Word statistics, lengths and co-occurrence stay those of real abstracts, so
  posting lists grow as a real corpus's would; written as listing JSONL and ingested by the real
  ingest path.
Queries (1,000 by default, seeded): half Hugging Face `ai_keywords`, half 2–5 consecutive words of
real titles. Latency is the whole `SearchService.search` call (query parsing, index, fusion, snippets,
titles from the store), top 10, one client; measured in a fresh child process per size whose peak
resident memory is reported too.
Baseline (at 100,000 items, same run): the full scan small tools use — for each query term, +20 if
in the title, +10 if in the authors, +1 per occurrence in the abstract up to 3 — over lowercased
texts held in memory.
Quality: known-item retrieval (3–6 consecutive words from a real paper's abstract; that paper in the
top 10: recall@10 and MRR) and neighbour coherence (share of an item's 10 nearest items that share
its primary arXiv category), per mode.
Relevance (``--relevance``: the real corpus only, no growth; see bench/search_relevance.py): known items
(3–6 and 6 abstract words, and 6 with one dropped), Hugging Face ``ai_keywords`` as judged queries and
neighbour coherence, on a time split (weights chosen on development, figures on test), against BM25 with
tuned k1/b and TF-IDF cosine in the same run; the ranking before this work (bag of words, the first fusion
weights) and the shipped one, with their latencies interleaved query by query.
Similar items (``--similar STORE``: an indexed store, only read; no ingest): ``SearchService.similar`` with
its title query re-ranked by proximity (the code before) and without (shipped), alternated item by item over
``--coherence-items`` listing papers of the store: CPU ms per call (hybrid, 8 items, the item page's), neighbour
coherence (as above, 10 items) per variant for keyword and hybrid with the paired difference's standard error,
and the overlap of each variant's top 8.
Ends with one JSON line of figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import resource
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

MODES = ("keyword", "semantic", "hybrid")


def log(message: str) -> None:
    print(message, flush=True)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else 0.0


def read_listings(path: str) -> list[dict]:
    """Distinct listing papers (first sighting), with the listing day."""
    import orjson

    papers: dict[str, dict] = {}
    with tarfile.open(path, "r:*") as archive:
        for member in sorted((m for m in archive if m.isfile()), key=lambda m: m.name):
            day = Path(member.name).stem
            for line in archive.extractfile(member).read().splitlines():
                if line.strip():
                    record = orjson.loads(line)
                    record["day"] = day
                    papers.setdefault(record["id"], record)
    return list(papers.values())


def read_keywords(path: str) -> list[str]:
    """Every distinct ``ai_keywords`` entry of the Hugging Face days."""
    import ast

    import orjson

    keywords: set[str] = set()
    with tarfile.open(path, "r:*") as archive:
        for member in archive:
            if not member.isfile():
                continue
            data = archive.extractfile(member).read()
            try:
                days = orjson.loads(data)
            except orjson.JSONDecodeError:
                try:
                    days = ast.literal_eval(data.decode())
                except (ValueError, SyntaxError):
                    continue
            if isinstance(days, dict):
                days = next((value for value in days.values() if isinstance(value, list)), [])
            for entry in days if isinstance(days, list) else []:
                paper = entry.get("paper", entry) if isinstance(entry, dict) else {}
                for keyword in paper.get("ai_keywords") or []:
                    if isinstance(keyword, str) and 2 < len(keyword) < 60:
                        keywords.add(keyword.strip())
    return sorted(keywords)


def make_queries(papers: list[dict], keywords: list[str], count: int, seed: int = 11) -> list[str]:
    generator = random.Random(seed)
    half = count // 2
    chosen = generator.sample(keywords, min(half, len(keywords)))
    while len(chosen) < count:
        words = generator.choice(papers)["title"].split()
        length = generator.randint(2, 5)
        start = generator.randrange(0, max(1, len(words) - length + 1))
        chosen.append(" ".join(words[start:start + length]))
    return chosen


def known_item_queries(papers: list[dict], count: int, seed: int = 5) -> list[tuple[str, str]]:
    """(3–6 consecutive abstract words, arXiv id) pairs."""
    generator = random.Random(seed)
    pairs = []
    for paper in generator.sample(papers, count):
        words = paper["summary"].split()
        length = generator.randint(3, 6)
        start = generator.randrange(0, max(1, len(words) - length + 1))
        pairs.append((" ".join(words[start:start + length]), paper["id"]))
    return pairs


def write_synthetic(papers: list[dict], start: int, stop: int, folder: Path, seed: int) -> list[Path]:
    """Synthetic listing JSONL files holding items ``start`` … ``stop - 1`` (see the module docstring)."""
    import orjson

    generator = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths, per_file = [], 20_000
    for file_start in range(start, stop, per_file):
        lines = []
        for number in range(file_start, min(stop, file_start + per_file)):
            a, b = generator.choice(papers), generator.choice(papers)
            title_a, title_b = a["title"].split(), b["title"].split()
            abstract_a, abstract_b = a["summary"].split(), b["summary"].split()
            month = 1 + number // 99_999
            arxiv = f"{15 + (month - 1) // 12:02d}{(month - 1) % 12 + 1:02d}.{number % 99_999 + 1:05d}"
            lines.append(orjson.dumps({
                "id": arxiv, "categories": a["categories"], "authors": b["authors"],
                "title": " ".join(title_a[:len(title_a) // 2] + title_b[len(title_b) // 2:]),
                "summary": " ".join(abstract_a[:len(abstract_a) // 2] + abstract_b[len(abstract_b) // 2:]),
                "comment": "", "pdf": f"https://arxiv.org/pdf/{arxiv}", "abs": f"https://arxiv.org/abs/{arxiv}",
            }))
        path = folder / f"{a['day']}-synthetic-{file_start:07d}.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        paths.append(path)
    return paths


def ingest_and_index(db: Path, paths: list[Path]) -> dict:
    from paperfeed.config import Settings
    from paperfeed.ingest import Ingester
    from paperfeed.search import open_indexer
    from paperfeed.storage import open_store

    with open_store(db) as store:
        started = time.perf_counter()
        Ingester(store).ingest_paths(paths)
        ingest_seconds = time.perf_counter() - started
        report = open_indexer(store, Settings.load(db=str(db))).update()
        items = store.item_count()
    return {"items": items, "ingest_seconds": round(ingest_seconds, 1), "index_seconds": round(report.seconds, 1),
            "indexed": report.indexed, "embedded": report.embedded,
            "embeddings_per_second": round(report.embeddings_per_second)}


def measure(db: str, queries: list[str], known: list[tuple[str, str]], coherence_items: int, queue) -> None:
    """In a child process: latency per mode, quality, peak memory of a serving process."""
    from paperfeed.config import Settings
    from paperfeed.search import open_search
    from paperfeed.storage import open_store

    store = open_store(db)
    service = open_search(store, Settings.load(db=db))
    service.cache = None  # every query runs: what is timed is search, not the process's result cache
    for query in queries[:20]:  # warm the page cache and the model, as a running server would be
        for mode in MODES:
            service.search(query, mode=mode)
    latency = {}
    for mode in MODES:
        times = []
        for query in queries:
            started = time.perf_counter()
            service.search(query, mode=mode, limit=10)
            times.append((time.perf_counter() - started) * 1000)
        latency[mode] = {"p50_ms": round(percentile(times, 50), 2), "p99_ms": round(percentile(times, 99), 2),
                         "mean_ms": round(float(np.mean(times)), 2)}
    serving_rss_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    quality = {}
    targets = {arxiv: store.find_item(arxiv) for _, arxiv in known}
    for mode in MODES:
        hits_at_10, reciprocal = 0, 0.0
        for query, arxiv in known:
            ranked = [hit.id for hit in service.search(query, mode=mode, limit=10).hits]
            if targets[arxiv] in ranked:
                hits_at_10 += 1
                reciprocal += 1.0 / (ranked.index(targets[arxiv]) + 1)
        quality[mode] = {"recall_at_10": round(hits_at_10 / len(known), 4), "mrr": round(reciprocal / len(known), 4)}
    # Neighbour coherence: an item's 10 nearest items per mode (`SearchService.similar`).
    generator = random.Random(9)
    sample = generator.sample([targets[arxiv] for _, arxiv in known if targets[arxiv]], coherence_items)
    primary = dict(store._db.execute(  # bench-only read of each item's primary category
        "SELECT item_id, category FROM item_categories WHERE position = 0").fetchall())
    coherence = {}
    for mode in MODES:
        shares = []
        for item_id in sample:
            neighbours = [hit.id for hit in service.similar(item_id, 10, mode=mode)]
            if neighbours:
                shares.append(np.mean([primary.get(n) == primary.get(item_id) for n in neighbours]))
        coherence[mode] = round(float(np.mean(shares)), 4) if shares else None
    queue.put({"latency": latency, "known_item": quality, "neighbour_coherence": coherence,
               "serving_peak_rss_mb": serving_rss_mb,
               "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)})


def similar_bench(db: str, papers: list[dict], count: int) -> dict:
    """Similar items with the title query re-ranked by proximity (``old``) and without (``new``), same process."""
    from paperfeed.config import Settings
    from paperfeed.search import open_search
    from paperfeed.storage import open_store

    store = open_store(db)
    service = open_search(store, Settings.load(db=db))
    service.cache = None
    primary = dict(store._db.execute(  # bench-only read of each item's primary category
        "SELECT item_id, category FROM item_categories WHERE position = 0").fetchall())
    listed = [item_id for item_id in (store.find_item(paper["id"]) for paper in papers) if item_id in primary]
    sample = random.Random(9).sample(listed, min(count, len(listed)))
    variants = {"old": True, "new": False}

    def similar(variant: str, item_id: int, limit: int, mode: str) -> list[int]:
        service.similar_proximity = variants[variant]
        return [hit.id for hit in service.similar(item_id, limit, mode=mode)]

    for item_id in sample[:30]:  # warm the page cache, as a running server would be
        for variant in variants:
            similar(variant, item_id, 8, "hybrid")
    cpu: dict[str, list[float]] = {variant: [] for variant in variants}
    for round_ in range(2):
        for position, item_id in enumerate(sample):
            order = list(variants) if (position + round_) % 2 == 0 else list(reversed(variants))
            for variant in order:
                service.similar_proximity = variants[variant]
                started = time.process_time()
                service.similar(item_id, 8, mode="hybrid")
                cpu[variant].append((time.process_time() - started) * 1000)
    figures: dict = {"items": len(sample), "calls_per_variant": len(cpu["old"]),
                     "cpu_ms": {variant: {"p50": round(percentile(times, 50), 2), "p99": round(percentile(times, 99), 2),
                                          "mean": round(float(np.mean(times)), 2)} for variant, times in cpu.items()}}
    # A title phrase can occur in another paper only when the title is short: those items (2-4 index terms)
    # are where the two variants can differ, so they are measured on their own too.
    documents = store.item_documents(listed, facets=False)
    short = [item_id for item_id in listed if 2 <= len(service.keyword.tokens(documents[item_id].title)) <= 4]
    samples = {"sample": sample, "short_titles": random.Random(9).sample(short, min(count, len(short)))}
    for name, items in samples.items():
        for mode in ("keyword", "hybrid"):
            figures[f"{name}_{mode}"] = similar_quality(similar, primary, items, mode)
    return figures


def similar_quality(similar, primary: dict[int, str], items: list[int], mode: str) -> dict:
    """Neighbour coherence (10 items) of both variants, their paired difference, and their top 8's overlap."""
    shares: dict[str, list[float]] = {"old": [], "new": []}
    overlap, same_order = [], []
    for item_id in items:
        found = {variant: similar(variant, item_id, 10, mode) for variant in shares}
        for variant, neighbours in found.items():
            shares[variant].append(float(np.mean([primary.get(n) == primary[item_id] for n in neighbours]))
                                   if neighbours else 0.0)
        overlap.append(len(set(found["old"][:8]) & set(found["new"][:8])) / max(1, len(found["old"][:8])))
        same_order.append(found["old"][:8] == found["new"][:8])
    difference = np.array(shares["new"]) - np.array(shares["old"])
    return {"items": len(items), "coherence_old": round(float(np.mean(shares["old"])), 4),
            "coherence_new": round(float(np.mean(shares["new"])), 4),
            "difference": round(float(difference.mean()), 4),
            "difference_se": round(float(difference.std(ddof=1) / np.sqrt(len(difference))), 4),
            "top8_overlap": round(float(np.mean(overlap)), 4),
            "top8_same_order_share": round(float(np.mean(same_order)), 4)}


def full_scan_baseline(db: str, queries: list[str], count: int) -> dict:
    """The small-tool scoring over every item, texts in memory; returns per-query milliseconds."""
    import sqlite3

    connection = sqlite3.connect(db)
    rows = connection.execute(
        "SELECT lower(i.title), lower(coalesce(group_concat(a.name, ', '), '')), lower(i.abstract) FROM items i "
        "LEFT JOIN item_authors ia ON ia.item_id = i.id LEFT JOIN authors a ON a.id = ia.author_id GROUP BY i.id"
    ).fetchall()
    connection.close()
    times = []
    for query in queries[:count]:
        terms = query.lower().split()
        started = time.perf_counter()
        scores = []
        for index, (title, authors, abstract) in enumerate(rows):
            score = 0
            for term in terms:
                if term in title:
                    score += 20
                if term in authors:
                    score += 10
                score += min(abstract.count(term), 3)
            if score:
                scores.append((score, index))
        scores.sort(reverse=True)
        times.append((time.perf_counter() - started) * 1000)
    return {"items": len(rows), "queries": len(times), "p50_ms": round(percentile(times, 50), 1),
            "mean_ms": round(float(np.mean(times)), 1)}


def run_measure(db: Path, queries, known, coherence_items) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=measure, args=(str(db), queries, known, coherence_items, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--listings", required=True)
    parser.add_argument("--hf", help="The Hugging Face days (needed except with --similar).")
    parser.add_argument("--sizes", default="100000,1000000", help="Corpus sizes after the real one (comma-separated).")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--known-items", type=int, default=500)
    parser.add_argument("--coherence-items", type=int, default=200)
    parser.add_argument("--baseline-queries", type=int, default=100)
    parser.add_argument("--workdir", help="Keep the stores here (default: a temporary directory).")
    parser.add_argument("--relevance", action="store_true",
                        help="Relevance on the real corpus against tuned baselines (no synthetic growth).")
    parser.add_argument("--judged-queries", type=int, default=300, help="Judged keyword queries per split.")
    parser.add_argument("--similar", metavar="STORE",
                        help="Only similar items, old against new, on this indexed store (read, not written).")
    parser.add_argument("--measure-only", action="store_true",
                        help="Measure the store a previous run left in --workdir (no ingest, no indexing).")
    args = parser.parse_args(argv)
    if args.similar:
        if not Path(args.similar).exists() or not Path(args.listings).exists():
            print(f"bench/search.py: {args.similar} or {args.listings} not found", file=sys.stderr)
            return 2
        papers = read_listings(args.listings)
        figures = similar_bench(args.similar, papers, args.coherence_items)
        print(json.dumps({"bench": "search", "similar": figures}))
        return 0
    if not args.hf:
        parser.error("--hf is required (except with --similar)")
    for path in (args.listings, args.hf):
        if not Path(path).exists():
            print(f"bench/search.py: {path} not found (the data lives in ../shared/data)", file=sys.stderr)
            return 2
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="paperfeed-search-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "search.db"
    if args.measure_only and not db.exists():
        print(f"bench/search.py: --measure-only needs a store in --workdir ({db} is missing)", file=sys.stderr)
        return 2
    if not args.measure_only:
        for leftover in workdir.glob("search.db*"):
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()

    papers = read_listings(args.listings)
    keywords = read_keywords(args.hf)
    queries = make_queries(papers, keywords, args.queries)
    known = known_item_queries(papers, args.known_items)
    log(f"{len(papers):,} distinct listing papers, {len(keywords):,} distinct HF keywords, "
        f"{len(queries):,} queries, {len(known)} known-item queries")

    figures: dict = {"corpora": {}}
    if args.relevance:
        import search_relevance

        if not args.measure_only:
            log(f"real corpus: {ingest_and_index(db, [Path(args.listings), Path(args.hf)])}")
        relevance = search_relevance.run(str(db), papers, args.hf, queries, args.known_items, args.judged_queries,
                                         args.coherence_items, log)
        print(json.dumps({"bench": "search", "relevance": relevance}))
        return 0
    if args.measure_only:
        measured = run_measure(db, queries, known, args.coherence_items)
        import sqlite3

        items = sqlite3.connect(db).execute("SELECT count(*) FROM items").fetchone()[0]
        entry = {"items": items, **measured}
        if args.baseline_queries and items <= 150_000:
            entry["full_scan_baseline"] = full_scan_baseline(str(db), queries, args.baseline_queries)
            entry["keyword_speedup_vs_full_scan_p50"] = round(
                entry["full_scan_baseline"]["p50_ms"] / measured["latency"]["keyword"]["p50_ms"], 1)
        log(f"{items:,} items: {json.dumps(entry)}")
        print(json.dumps({"bench": "search", "measure_only": True, "corpora": {str(items): entry}}))
        return 0
    build = ingest_and_index(db, [Path(args.listings), Path(args.hf)])
    log(f"real corpus: {build}")
    measured = run_measure(db, queries, known, args.coherence_items)
    log(f"real corpus: {json.dumps(measured)}")
    figures["corpora"]["real"] = {**build, **measured}

    next_number = 0
    for size in [int(value) for value in args.sizes.split(",") if value]:
        items = figures["corpora"][list(figures["corpora"])[-1]]["items"]
        if size > items:
            paths = write_synthetic(papers, next_number, next_number + size - items, workdir / "synthetic",
                                    seed=size)
            next_number += size - items
            build = ingest_and_index(db, paths)
            shutil.rmtree(workdir / "synthetic")
        log(f"{size:,} items: {build}")
        measured = run_measure(db, queries, known, args.coherence_items)
        entry = {**build, **measured}
        if size == 100_000:
            baseline = full_scan_baseline(str(db), queries, args.baseline_queries)
            keyword_p50 = measured["latency"]["keyword"]["p50_ms"]
            entry["full_scan_baseline"] = baseline
            entry["keyword_speedup_vs_full_scan_p50"] = round(baseline["p50_ms"] / keyword_p50, 1)
            log(f"full-scan baseline at {baseline['items']:,} items: p50 {baseline['p50_ms']} ms; "
                f"keyword p50 {keyword_p50} ms: {entry['keyword_speedup_vs_full_scan_p50']}x faster")
        log(f"{size:,} items: {json.dumps(measured)}")
        figures["corpora"][str(size)] = entry
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps({"bench": "search", **figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
